"""The two launchers as an operator meets them: the address line, flags and environment, refusals,
clean stops on SIGTERM and Ctrl-C, and a restart after ``kill -9``."""

from __future__ import annotations

import os
import re
import signal
import socket

import psutil
import pytest
import requests

from tests.live_http import general_room

pytestmark = pytest.mark.live

LAUNCHERS = ["backend.py", "MainWServer.py"]


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refuses_connections(port: int) -> bool:
    """Whether nothing accepts connections on 127.0.0.1:port."""
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def assert_one_line_error(result, prefix: str) -> None:
    """A failed start: non-zero exit, one line on stderr starting with ``prefix``, no traceback."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "http://" not in result.stdout


def test_address_line_holds_the_real_port(start_backend, start_front):
    backend = start_backend()
    front = start_front(backend)
    for proc, name in ((backend, "backend"), (front, "front server")):
        first = next(line for line in proc.lines() if "http://" in line)
        assert re.fullmatch(rf"{name} listening on http://127\.0\.0\.1:(\d+)\n", first), first
        assert proc.port != 0
        assert first.count("http://") == 1


def test_healthz_on_both(live):
    assert requests.get(f"{live.backend.url}/healthz", timeout=5).json() == {"status": "ok"}
    answer = requests.get(f"{live.url}/healthz", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "backend": "ok"}


def test_front_healthz_says_when_the_backend_is_down(live):
    live.backend.stop()
    answer = requests.get(f"{live.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "backend": "unavailable"}


@pytest.mark.parametrize("which", ["backend", "front"])
def test_a_request_too_long_to_parse_gets_a_json_error(live, which):
    # gunicorn refuses it before any route runs; the answer still has the JSON error shape.
    url = live.backend.url if which == "backend" else live.url
    answer = requests.get(f"{url}/api/events?after={'1' * 9000}", timeout=5)  # limit: 8,190
    assert answer.status_code == 414
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "script, args, env",
    [
        ("backend.py", ["--port", "eighty"], {}),
        ("backend.py", ["--message-rate", "-1"], {}),
        ("backend.py", ["--no-such-flag"], {}),
        ("backend.py", [], {"CHAT_BACKEND_PORT": "70000"}),
        ("MainWServer.py", ["--backend", "ftp://127.0.0.1:1"], {}),
        ("MainWServer.py", ["--allowed-origin", "http://a.example/path"], {}),
        ("MainWServer.py", [], {"CHAT_PORT": "-5"}),
        ("MainWServer.py", [], {"CHAT_ALLOWED_ORIGINS": "http://a.example,not an origin"}),
    ],
)
def test_bad_flag_or_environment_value_is_one_line(run_launcher, script, args, env):
    result = run_launcher(script, *args, env=env)
    assert result.returncode == 2
    assert_one_line_error(result, f"{script}: error: ")


def test_data_dir_that_is_a_file_is_refused(run_launcher, tmp_path):
    path = tmp_path / "not-a-directory"
    path.write_text("x")
    result = run_launcher("backend.py", "--port", "0", "--data-dir", str(path))
    assert_one_line_error(result, "backend: ")
    assert str(path) in result.stderr


def test_data_dir_below_a_file_is_refused(run_launcher, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_launcher("backend.py", "--port", "0", "--data-dir", str(tmp_path / "file" / "chats"))
    assert_one_line_error(result, "backend: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only directory")
def test_unwritable_data_dir_is_refused(run_launcher, tmp_path):
    path = tmp_path / "read-only"
    path.mkdir()
    path.chmod(0o500)
    result = run_launcher("backend.py", "--port", "0", "--data-dir", str(path))
    assert_one_line_error(result, "backend: ")


def test_second_backend_on_the_same_data_dir_refuses(start_backend, run_launcher, data_dir):
    first = start_backend()
    result = run_launcher("backend.py", "--port", "0", "--data-dir", str(data_dir))
    assert_one_line_error(result, "backend: ")
    # The first one is untouched.
    assert requests.get(f"{first.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("script", LAUNCHERS)
def test_port_in_use_is_one_line(run_launcher, tmp_path, script):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_launcher(script, "--port", port, env={"CHAT_DATA_DIR": str(tmp_path)})
    assert_one_line_error(result, ("backend" if script == "backend.py" else "front server") + ": ")
    assert "in use" in result.stderr


@pytest.mark.parametrize("which", ["backend", "front"])
@pytest.mark.parametrize("how", ["SIGTERM to the master", "Ctrl-C to the process group"])
def test_signal_stops_cleanly(live, which, how):
    """Exit status 0, no traceback, the port and the worker gone; with a client's kept-alive
    connection idle at the time, which the stop cuts after its grace."""
    proc = live.backend if which == "backend" else live.front
    worker = psutil.Process(proc.popen.pid).children()
    kept_alive = requests.Session()
    assert kept_alive.get(f"{proc.url}/healthz", timeout=5).status_code == 200
    if how.startswith("SIGTERM"):
        status = proc.stop(signal.SIGTERM)
    else:
        # A terminal's Ctrl-C signals every process of the foreground group at once.
        os.killpg(proc.popen.pid, signal.SIGINT)
        status = proc.wait()
    assert status == 0, proc.output()
    assert "Traceback" not in proc.output()
    assert refuses_connections(proc.port)
    assert worker and not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in worker)
    kept_alive.close()


def test_kill9_of_the_backend_master_frees_port_and_lock(start_backend, data_dir):
    backend = start_backend()
    workers = psutil.Process(backend.popen.pid).children()
    assert len(workers) == 1
    # Only the master: its worker must follow at once rather than keep the port and the lock.
    os.kill(backend.popen.pid, signal.SIGKILL)
    backend.wait()
    try:
        workers[0].wait(timeout=5)
    except psutil.TimeoutExpired:
        pytest.fail("the worker outlived its killed master")
    except psutil.NoSuchProcess:
        pass
    assert refuses_connections(backend.port)
    port = backend.port
    backend.restart()
    assert backend.port == port
    assert requests.get(f"{backend.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_a_dead_backend_worker_stops_the_backend(start_backend):
    # A replacement forked from the master would start from the data as it was at start-up.
    backend = start_backend()
    (worker,) = psutil.Process(backend.popen.pid).children()
    worker.kill()
    assert backend.wait() == 1
    assert "the backend worker died" in backend.output()
    assert refuses_connections(backend.port)
    backend.restart()
    assert requests.get(f"{backend.url}/healthz", timeout=5).status_code == 200


def test_kill9_of_the_group_then_restart(live):
    live.backend.kill9()
    live.backend.restart()
    assert requests.get(f"{live.backend.url}/healthz", timeout=5).status_code == 200


def test_environment_is_honoured(start_process, data_dir):
    backend_port, front_port = free_port(), free_port()
    backend = start_process(
        "backend.py",
        env={
            "CHAT_BACKEND_HOST": "127.0.0.1",
            "CHAT_BACKEND_PORT": str(backend_port),
            "CHAT_DATA_DIR": str(data_dir),
        },
    )
    assert backend.url == f"http://127.0.0.1:{backend_port}"
    assert any(data_dir.iterdir()), "the backend wrote nothing to CHAT_DATA_DIR"
    front = start_process(
        "MainWServer.py",
        env={
            "CHAT_PORT": str(front_port),
            "CHAT_BACKEND_URL": backend.url,
            "CHAT_SECURE_COOKIES": "1",
            "CHAT_ALLOWED_ORIGINS": "http://chat.example, http://other.example:8080",
        },
    )
    assert front.url == f"http://127.0.0.1:{front_port}"
    assert requests.get(f"{front.url}/healthz", timeout=5).json()["backend"] == "ok"
    body = {"username": "env-user", "password": "correct horse"}
    answer = requests.post(
        f"{front.url}/api/session", json=body, headers={"Origin": "http://chat.example"}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    assert "secure" in answer.headers["Set-Cookie"].lower()
    foreign = requests.post(
        f"{front.url}/api/session", json=body, headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert foreign.status_code == 403


def test_flags_win_over_environment(start_process, data_dir, tmp_path):
    port = free_port()
    backend = start_process(
        "backend.py",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        env={"CHAT_BACKEND_PORT": "1", "CHAT_DATA_DIR": str(tmp_path / "elsewhere")},
    )
    assert backend.port == port
    assert any(data_dir.iterdir())
    assert not (tmp_path / "elsewhere").exists()


def test_http_user_registers_then_signs_in(live, http_user):
    first = http_user("fixture")
    assert first.status == 201
    assert first.get(f"{live.url}/api/session", timeout=5).json()["user"]["username"] == first.username
    again = http_user(first.username, password=first.password, unique=False)
    assert (again.status, again.username) == (200, first.username)
    with pytest.raises(RuntimeError, match="401"):
        http_user(first.username, password="a wrong password", unique=False)


@pytest.mark.parametrize("how", ["flags", "environment"])
def test_message_rate_limit_is_set_at_start(start_backend, start_front, http_user, how):
    if how == "flags":
        backend = start_backend(None, "--message-burst", "2", "--message-rate", "0.01")
    else:
        backend = start_backend(env={"CHAT_MESSAGE_BURST": "2", "CHAT_MESSAGE_RATE": "0.01"})
    front = start_front(backend)
    alice = http_user("limited", url=front.url)
    general = general_room(alice)
    answers = [
        alice.post(
            f"{front.url}/api/rooms/{general}/messages", json={"text": "hi", "client_id": f"c{i}"}, timeout=5
        )
        for i in range(3)
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited"
    assert int(answers[2].headers["Retry-After"]) >= 1
