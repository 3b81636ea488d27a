"""Files and images through the real processes: upload, download, headers, types, thumbnails,
access, hostile files. Limits, crashes and memory are in ``test_files_limits.py``."""

from __future__ import annotations

import io
import struct
import zlib
from contextlib import ExitStack
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from tests import ws_client

pytestmark = pytest.mark.live

stack = ws_client.stack


def png(width: int = 40, height: int = 30, color: str = "green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height``: never to be decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def upload(user, room: str, data: bytes, name: str, client_id: str, **fields) -> requests.Response:
    return user.post(
        f"{user.base_url}/api/rooms/{room}/files",
        files={"file": (name, data)},
        data={"client_id": client_id, **fields},
        timeout=20,
    )


def general(user) -> str:
    rooms = user.get(f"{user.base_url}/api/rooms", timeout=5).json()["rooms"]
    return next(room["id"] for room in rooms if room["name"] == "general")


def private_room(user) -> str:
    answer = user.post(
        f"{user.base_url}/api/rooms", json={"name": "secret", "visibility": "private"}, timeout=5
    )
    return answer.json()["room"]["id"]


def bodies_on_disk(data_dir) -> list:
    return [p for p in (data_dir / "files").glob("??/??/*") if not p.name.endswith(".thumb")]


def test_round_trip_idempotent_and_shared_body(live, http_user, data_dir):
    alice = http_user("alice")
    room = general(alice)
    data = b"%PDF-1.7\n" + bytes(range(256)) * 400
    first = upload(alice, room, data, "plan.pdf", "up-1", text="the plan")
    assert first.status_code == 201, first.text
    message = first.json()["message"]
    file = message["file"]
    assert message["text"] == "the plan"
    assert file["name"] == "plan.pdf" and file["size"] == len(data) and file["type"] == "application/pdf"
    assert file["url"] == f"/api/files/{file['id']}/plan.pdf" and file["image"] is None

    again = upload(alice, room, data, "plan.pdf", "up-1")
    assert again.status_code == 200 and again.json()["message"] == message
    history = alice.get(f"{live.url}/api/rooms/{room}/messages", timeout=5).json()["messages"]
    assert [m["client_id"] for m in history].count("up-1") == 1

    got = alice.get(live.url + file["url"], timeout=10)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert (
        got.headers["Content-Disposition"] == "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
    )
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert got.headers["Cache-Control"].startswith("private")
    assert got.headers["ETag"] == f'"{file["sha256"]}"'

    # The same bytes under another name, by someone else: one body on disk, two files.
    bob = http_user("bob")
    other = upload(bob, room, data, "copy.pdf", "up-2").json()["message"]["file"]
    assert other["id"] != file["id"] and other["sha256"] == file["sha256"]
    assert len(bodies_on_disk(data_dir)) == 1
    assert list((data_dir / "files" / "tmp").iterdir()) == []


def test_the_type_comes_from_the_bytes_not_the_name(live, http_user):
    alice = http_user("alice")
    room = general(alice)
    image = upload(alice, room, png(), "notes.txt", "t-1").json()["message"]["file"]
    assert image["type"] == "image/png" and image["image"] == {
        "width": 40,
        "height": 30,
        "thumb_url": f"/api/thumbnails/{image['id']}",
    }
    shown = alice.get(live.url + image["url"], timeout=5)
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.headers["Content-Disposition"].startswith("inline;")

    hostile = {
        "logo.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "page.png": b"<!doctype html><html><script>alert(document.cookie)</script></html>",
        "pic.jpg": b"",  # a zero-byte file
    }
    for number, (name, data) in enumerate(hostile.items()):
        answer = upload(alice, room, data, name, f"h-{number}")
        assert answer.status_code == 201, answer.text
        file = answer.json()["message"]["file"]
        assert file["type"] == "application/octet-stream" and file["image"] is None
        assert file["size"] == len(data)
        got = alice.get(live.url + file["url"], timeout=5)
        assert got.content == data
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert alice.get(f"{live.url}/api/thumbnails/{file['id']}", timeout=5).status_code == 404


def test_range_and_etag(live, http_user):
    alice = http_user("alice")
    data = bytes(range(256)) * 1000
    file = upload(alice, general(alice), data, "blob.bin", "r-1").json()["message"]["file"]
    url = live.url + file["url"]
    part = alice.get(url, headers={"Range": "bytes=1000-1999"}, timeout=5)
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    tail = alice.get(url, headers={"Range": "bytes=-10"}, timeout=5)
    assert tail.status_code == 206 and tail.content == data[-10:]
    head = alice.head(url, timeout=5)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data)) and not head.content
    etag = alice.get(url, timeout=5).headers["ETag"]
    same = alice.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert same.status_code == 304 and same.content == b""
    outside = alice.get(url, headers={"Range": f"bytes={len(data) + 5}-"}, timeout=5)
    assert outside.status_code == 416 and outside.json()["error"]["code"] == "range_not_satisfiable"


def test_thumbnail_applies_orientation_and_strips_exif(live, http_user):
    alice = http_user("alice")
    photo = Image.new("RGB", (1200, 600), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
    exif[0x010F] = "SecretCam"  # make
    raw = io.BytesIO()
    photo.save(raw, "JPEG", exif=exif)
    file = upload(alice, general(alice), raw.getvalue(), "photo.jpeg", "p-1").json()["message"]["file"]
    assert file["type"] == "image/jpeg" and file["image"]["width"] == 1200
    thumb = alice.get(live.url + file["image"]["thumb_url"], timeout=5)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert thumb.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    small = Image.open(io.BytesIO(thumb.content))
    assert small.size == (200, 400)  # upright, the longer side 400
    assert not small.getexif() and b"SecretCam" not in thumb.content


def test_an_image_over_50_megapixels_is_never_decoded(live, http_user):
    alice = http_user("alice")
    data = huge_png_header(10_000, 6_000)  # 60 MP in a few hundred bytes
    answer = upload(alice, general(alice), data, "bomb.png", "b-1")
    assert answer.status_code == 201, answer.text
    file = answer.json()["message"]["file"]
    assert file["type"] == "image/png" and file["image"] is None
    got = alice.get(live.url + file["url"], timeout=5)
    assert got.content == data and got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert alice.get(f"{live.url}/api/thumbnails/{file['id']}", timeout=5).status_code == 404


def test_hostile_names_are_cleaned_and_encoded(live, http_user):
    alice = http_user("alice")
    room = general(alice)
    name = 'x/../../etc/pa\\"ss\u202ewd\u200f.txt'  # as sent in the quoted filename: \\" is a quote
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nn-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    answer = alice.post(
        f"{live.url}/api/rooms/{room}/files",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    file = answer.json()["message"]["file"]
    assert file["name"] == 'pa"sswd.txt'  # the last segment, no RTL override or mark
    got = alice.get(live.url + file["url"], timeout=5)
    assert got.headers["Content-Disposition"] == (
        f"attachment; filename=\"pa_sswd.txt\"; filename*=UTF-8''{quote(file['name'], safe='')}"
    )
    for bad in ("..", "", "\u202e"):
        named = upload(alice, room, b"x", bad, f"n-{len(bad)}-{bad == '..'}")
        assert named.status_code in (201, 422), named.text
        if named.status_code == 201:
            assert named.json()["message"]["file"]["name"] == "file"


def test_uploads_are_refused_when_they_should_be(live, http_user):
    alice, bob = http_user("alice"), http_user("bob")
    room = private_room(alice)
    assert upload(bob, room, b"x", "a.bin", "x-1").status_code == 404  # a room bob cannot see
    assert upload(alice, room, b"x", "a.bin", "bad id!").status_code == 422
    missing = alice.post(f"{live.url}/api/rooms/{room}/files", data={"client_id": "x-2"}, timeout=5)
    assert missing.status_code == 422 and "file" in missing.json()["error"]["message"]
    public = alice.post(f"{live.url}/api/rooms", json={"name": "pub", "visibility": "public"}, timeout=5)
    assert upload(bob, public.json()["room"]["id"], b"x", "a.bin", "x-3").status_code == 403
    anon = requests.post(f"{live.url}/api/rooms/{room}/files", files={"file": ("a", b"x")}, timeout=5)
    assert anon.status_code == 401


def test_access_follows_the_room(live, http_user):
    alice, bob, carol = http_user("alice"), http_user("bob"), http_user("carol")
    secret = private_room(alice)
    file = upload(alice, secret, png(), "s.png", "a-1").json()["message"]["file"]
    pub = alice.post(f"{live.url}/api/rooms", json={"name": "pub", "visibility": "public"}, timeout=5)
    shared = upload(alice, pub.json()["room"]["id"], png(color="red"), "p.png", "a-2").json()["message"][
        "file"
    ]
    targets = lambda f: (live.url + f["url"], live.url + f["image"]["thumb_url"])  # noqa: E731
    for url in targets(file):
        assert alice.get(url, timeout=5).status_code == 200
        refused = bob.get(url, timeout=5)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
        assert requests.get(url, timeout=5).status_code == 401
    for url in targets(shared):  # a public room: anyone signed in may read it
        assert carol.get(url, timeout=5).status_code == 200
    # Added to the room, bob may read it; leaving makes it a 404 again.
    alice.post(f"{live.url}/api/rooms/{secret}/members", json={"username": bob.username}, timeout=5)
    assert bob.get(live.url + file["url"], timeout=5).status_code == 200
    bob.delete(f"{live.url}/api/rooms/{secret}/members/{bob.username}", timeout=5)
    assert bob.get(live.url + file["url"], timeout=5).status_code == 404
    assert alice.get(f"{live.url}/api/files/f{'0' * 24}/x", timeout=5).status_code == 404


def test_the_message_event_carries_the_file(live, http_user, stack: ExitStack):
    alice, bob = http_user("alice"), http_user("bob")
    watcher = ws_client.Client(stack, bob)
    message = upload(alice, general(alice), png(), "hi.png", "w-1").json()["message"]
    frame = watcher.expect("message")
    assert frame["message"] == message and frame["message"]["file"]["image"]["width"] == 40
    events = bob.get(f"{live.url}/api/events", params={"after": watcher.hello["pos"]}, timeout=5).json()
    assert events["events"][-1]["message"]["file"] == message["file"]


def test_a_deleted_message_serves_no_file_and_compaction_removes_its_body(
    live, http_user, run_launcher, data_dir
):
    alice, bob = http_user("alice"), http_user("bob")
    room = general(alice)
    gone = upload(alice, room, png(color="black"), "gone.png", "del-1").json()["message"]
    kept = upload(alice, room, png(color="white"), "kept.png", "del-2").json()["message"]
    urls = (live.url + gone["file"]["url"], live.url + gone["file"]["image"]["thumb_url"])
    assert all(bob.get(url, timeout=5).status_code == 200 for url in urls)
    assert alice.delete(f"{live.url}/api/rooms/{room}/messages/{gone['seq']}", timeout=5).status_code == 204
    for url in urls:  # at once, for everyone, its sender included
        assert bob.get(url, timeout=5).status_code == 404
        assert alice.get(url, timeout=5).status_code == 404
    shown = alice.get(f"{live.url}/api/rooms/{room}/messages/{gone['seq']}", timeout=5).json()["message"]
    assert shown["deleted"] is True and "file" not in shown
    assert len(bodies_on_disk(data_dir)) == 2  # until compaction

    live.backend.stop()
    compacted = run_launcher("backend.py", "--compact", "--data-dir", str(data_dir))
    assert compacted.returncode == 0, compacted.stderr
    assert [path.name for path in bodies_on_disk(data_dir)] == [kept["file"]["sha256"]]
    assert not list((data_dir / "files").glob(f"??/??/{gone['file']['sha256']}*"))
    live.backend.restart()
    assert alice.get(live.url + kept["file"]["url"], timeout=10).status_code == 200
