"""The shared secret between front servers and the backend, and the launchers' flags for several
front servers (``--internal-secret``, ``--redis``, ``--workers``).

Every live test runs with a secret (``tests/live_procs.py`` gives one to every process it starts);
these tests show what happens without it, with a wrong one, and on a non-loopback address.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from live_procs import INTERNAL_SECRET, REPO

from common.secret import HEADER

pytestmark = pytest.mark.live

NO_SECRET = {"CHAT_INTERNAL_SECRET": ""}


def refused(answer: requests.Response) -> bool:
    """A 401 in the contract's error shape that says it is about the internal secret."""
    return (
        answer.status_code == 401
        and answer.json()["error"]["code"] == "unauthenticated"
        and answer.headers.get(HEADER) == "refused"
    )


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/internal/events?after=0"),
        ("GET", "/internal/rooms"),
        ("POST", "/api/session"),
        ("GET", "/api/users"),
        ("GET", "/api/events"),
    ],
)
def test_the_backend_refuses_every_call_without_the_secret(live_module, method, path):
    url = live_module.backend.url + path
    body = {"username": "mallory", "password": "long enough pw"} if method == "POST" else None
    assert refused(requests.request(method, url, json=body, timeout=5))
    assert refused(requests.request(method, url, json=body, headers={HEADER: "x" * 32}, timeout=5))
    assert refused(
        requests.request(method, url, json=body, headers={HEADER: INTERNAL_SECRET + "x"}, timeout=5)
    )
    # With it, the backend answers as usual (401 here is about the missing session, not the secret).
    answer = requests.request(method, url, json=body, headers={HEADER: INTERNAL_SECRET}, timeout=5)
    assert answer.headers.get(HEADER) is None
    assert answer.status_code in (200, 201, 401)


def test_health_needs_no_secret(live_module):
    assert requests.get(f"{live_module.backend.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_a_front_server_with_the_wrong_secret_answers_503_and_says_why(live_module, start_front):
    front = start_front(live_module.backend, env={"CHAT_INTERNAL_SECRET": "not-the-right-secret-at-all"})
    answer = requests.post(
        f"{front.url}/api/session", json={"username": "wrongsecret", "password": "long enough pw"}, timeout=5
    )
    # Never a 401: that would sign every user out over a misconfiguration.
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "backend_unavailable"
    assert "internal secret" not in answer.text  # the client is not told the backend's business
    assert "this front server has a different one" in front.output()
    assert "--internal-secret" in front.output()


def test_a_front_server_without_a_secret_is_refused_too(live_module, start_front):
    front = start_front(live_module.backend, env=NO_SECRET)
    answer = requests.get(f"{front.url}/api/session", cookies={"chat_session": "x"}, timeout=5)
    assert answer.status_code == 503
    assert "this front server has none" in front.output()


def test_a_backend_on_a_non_loopback_address_refuses_to_start_without_a_secret(run_launcher, tmp_path):
    result = run_launcher(
        "backend.py", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path), env=NO_SECRET
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--internal-secret" in lines[0] and "0.0.0.0" in lines[0]


def test_a_backend_on_a_non_loopback_address_starts_with_a_secret(start_backend):
    backend = start_backend(None, "--host", "0.0.0.0")
    assert backend.url.startswith("http://0.0.0.0:")
    assert refused(requests.get(f"{backend.url}/internal/rooms", timeout=5))


def test_a_loopback_backend_without_a_secret_serves_anyone(start_backend):
    backend = start_backend(None, env=NO_SECRET)
    assert requests.get(f"{backend.url}/internal/rooms", timeout=5).status_code == 200


@pytest.mark.parametrize("script", ["backend.py", "MainWServer.py"])
def test_a_short_secret_is_refused(run_launcher, script):
    result = run_launcher(script, "--port", "0", env={"CHAT_INTERNAL_SECRET": "short"})
    assert result.returncode == 2
    assert "at least 16 characters" in result.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["--workers", "2"], "--workers 2 needs --redis"),
        (["--workers", "0"], "must be from 1 to 64"),
        (["--redis", "http://127.0.0.1:6379"], "not a redis://"),
        (["--redis", "redis://127.0.0.1:notaport"], "bad Redis URL"),
    ],
)
def test_the_front_servers_new_flags_refuse_bad_values(run_launcher, args, says):
    result = run_launcher("MainWServer.py", "--port", "0", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_without_redis_the_front_server_never_imports_it():
    # The front server's app built and serving with the redis package made unimportable.
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import webserver\n"
        "app = webserver.create_app({'BACKEND_URL': 'http://127.0.0.1:9'})\n"
        "print(app.test_client().get('/healthz').status_code, 'chat.cluster' in app.extensions)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["200", "False"], result.stderr
