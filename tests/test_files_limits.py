"""Files at their limits, through the real processes: the upload limit (413 early, nothing kept),
a kill -9 during an upload, and the memory of both processes while 25 MiB go up and come down."""

from __future__ import annotations

import http.client
import os
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

pytestmark = [pytest.mark.live, pytest.mark.slow]

MiB = 1024 * 1024


def general(user) -> str:
    rooms = user.get(f"{user.base_url}/api/rooms", timeout=5).json()["rooms"]
    return next(room["id"] for room in rooms if room["name"] == "general")


def left_on_disk(data_dir: Path) -> list[Path]:
    """Every file under files/: bodies, thumbnails and temporary files alike."""
    return [path for path in (data_dir / "files").rglob("*") if path.is_file()]


def history(user, room: str) -> list[dict]:
    return user.get(f"{user.base_url}/api/rooms/{room}/messages", timeout=5).json()["messages"]


def test_over_the_limit_is_413_and_nothing_is_kept(start_backend, start_front, data_dir, http_user):
    backend = start_backend(None, "--max-upload-mb", "1")
    front = start_front(backend, "--max-upload-mb", "1")
    alice = http_user("alice", url=front.url)
    room = general(alice)
    url = f"{front.url}/api/rooms/{room}/files"

    # Exactly the limit is fine: the multipart envelope does not count.
    fits = alice.post(url, files={"file": ("a.bin", b"a" * MiB)}, data={"client_id": "fits"}, timeout=20)
    assert fits.status_code == 201, fits.text
    before = left_on_disk(data_dir)

    over = alice.post(
        url, files={"file": ("b.bin", b"b" * (MiB + 1))}, data={"client_id": "over"}, timeout=20
    )
    assert over.status_code == 413 and over.json()["error"]["code"] == "payload_too_large"
    far = alice.post(
        url, files={"file": ("c.bin", os.urandom(8 * MiB))}, data={"client_id": "far"}, timeout=20
    )
    assert far.status_code == 413
    assert left_on_disk(data_dir) == before
    assert [m["client_id"] for m in history(alice, room) if "file" in m] == ["fits"]
    # Other requests keep the 64 KiB body limit.
    big = alice.post(f"{front.url}/api/rooms/{room}/messages", data=b"x" * 70_000, timeout=5)
    assert big.status_code == 413


def test_a_declared_oversize_upload_is_refused_before_it_is_sent(live, http_user):
    alice = http_user("alice")
    connection = http.client.HTTPConnection(live.url.removeprefix("http://"), timeout=5)
    connection.putrequest("POST", f"/api/rooms/{general(alice)}/files")
    connection.putheader("Cookie", f"chat_session={alice.cookies['chat_session']}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(200 * MiB))
    connection.endheaders()
    connection.send(b"--x\r\n")  # and nothing more: the answer must not wait for 200 MiB
    answer = connection.getresponse()
    assert answer.status == 413
    connection.close()


def test_an_upload_is_refused_as_soon_as_it_crosses_the_limit(
    start_backend, start_front, data_dir, http_user
):
    """A chunked upload (no declared length) is answered while the client still has 18 MiB to send."""
    backend = start_backend(None, "--max-upload-mb", "1")
    front = start_front(backend, "--max-upload-mb", "1")
    alice = http_user("alice", url=front.url)
    connection = http.client.HTTPConnection(front.url.removeprefix("http://"), timeout=10)
    connection.putrequest("POST", f"/api/rooms/{general(alice)}/files")
    connection.putheader("Cookie", f"chat_session={alice.cookies['chat_session']}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()

    def chunk(data: bytes) -> None:
        connection.send(b"%x\r\n%s\r\n" % (len(data), data))

    chunk(b'--x\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nslow\r\n')
    chunk(b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n')
    for _ in range(2 * 16):  # 2 MiB of the 20 the client means to send, then it waits
        chunk(b"z" * (64 * 1024))
    answer = connection.getresponse()
    assert answer.status == 413
    assert b"payload_too_large" in answer.read()
    connection.close()
    # The front server cut the backend's request short; the backend drops its temporary file as
    # soon as it sees that, a moment after the answer.
    deadline = time.monotonic() + 5
    while left_on_disk(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left_on_disk(data_dir) == []


def test_kill_9_during_an_upload_leaves_no_message_and_no_half_body(
    start_backend, start_front, data_dir, http_user
):
    backend = start_backend()
    front = start_front(backend)
    alice = http_user("alice", url=front.url)
    room = general(alice)
    started = threading.Event()

    def slow_body():
        yield b'--x\r\nContent-Disposition: form-data; name="client_id"\r\n\r\ncrash\r\n'
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for number in range(200):
            if number == 20:
                started.set()
            time.sleep(0.01)
            yield b"k" * (64 * 1024)
        yield b"\r\n--x--\r\n"

    def send():
        try:
            requests.post(
                f"{front.url}/api/rooms/{room}/files",
                data=slow_body(),
                headers={"Content-Type": "multipart/form-data; boundary=x"},
                cookies=alice.cookies,
                timeout=30,
            )
        except requests.RequestException:
            pass

    sender = threading.Thread(target=send)
    sender.start()
    assert started.wait(10)
    time.sleep(0.2)
    assert any((data_dir / "files" / "tmp").iterdir()), "the upload should be under way"
    backend.kill9()
    sender.join(30)
    backend.restart()
    assert [m for m in history(alice, room) if "file" in m] == []
    assert left_on_disk(data_dir) == []  # the temporary file was removed at start-up
    # And the same upload, sent again, is stored once.
    again = alice.post(
        f"{front.url}/api/rooms/{room}/files",
        files={"file": ("big.bin", b"k" * MiB)},
        data={"client_id": "crash"},
        timeout=20,
    )
    assert again.status_code == 201


def _worker(proc) -> psutil.Process:
    """The gunicorn worker of a launched server (the master's only child)."""
    children = psutil.Process(proc.popen.pid).children()
    assert len(children) == 1, children
    return children[0]


def _peak_rss(process: psutil.Process) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _reset_peak(process: psutil.Process) -> None:
    """Start the high-water mark again from the current size (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")


def test_25_mib_go_up_and_come_down_without_either_process_holding_them(live, http_user):
    alice = http_user("alice")
    room = general(alice)
    upload = f"{live.url}/api/rooms/{room}/files"
    # Warm up both processes (imports, pools, first thumbnail) before measuring.
    warm = alice.post(upload, files={"file": ("w.bin", b"w" * MiB)}, data={"client_id": "warm"}, timeout=20)
    assert alice.get(live.url + warm.json()["message"]["file"]["url"], timeout=20).status_code == 200
    workers = {"backend": _worker(live.backend), "front server": _worker(live.front)}
    for process in workers.values():
        _reset_peak(process)
    start = {name: _peak_rss(process) for name, process in workers.items()}

    size = 25 * MiB
    chunk = os.urandom(MiB)

    class Body:
        """A 25 MiB file made as it is read, so the test holds no copy of it either."""

        def __init__(self):
            self.left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return (chunk * (n // MiB + 1))[:n]

    sent = alice.post(upload, files={"file": ("big.bin", Body())}, data={"client_id": "big"}, timeout=120)
    assert sent.status_code == 201, sent.text
    file = sent.json()["message"]["file"]
    assert file["size"] == size
    received = 0
    with alice.get(live.url + file["url"], stream=True, timeout=120) as got:
        for piece in got.iter_content(256 * 1024):
            received += len(piece)
    assert received == size
    grown = {name: _peak_rss(process) - start[name] for name, process in workers.items()}
    print({name: f"{value / MiB:.1f} MiB" for name, value in grown.items()})
    # Files move in 1 MiB pieces, and a piece is copied a few times on its way (the server's read
    # buffer, the relay, the socket's send): a few pieces' worth is expected, half the file is not.
    for name, value in grown.items():
        assert value < size / 2, f"the {name}'s peak memory grew by {value / MiB:.1f} MiB for a 25 MiB file"
