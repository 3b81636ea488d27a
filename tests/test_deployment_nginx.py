"""The documented nginx configuration (``deploy/nginx/``) in front of two front servers on one Redis.

Debian's nginx runs the shipped ``chat-locations.conf`` as it is, with the ``upstream`` and ``map``
of ``chat.conf`` pointed at the test's front servers, on plain HTTP (the TLS part of ``chat.conf``
is the standard one and is not run here). Through it: the page, signing in under the origin rule,
WebSockets (the upgrade), typing and messages between two people spread over the front servers, a
long-poll, an upload and its download, and a front server that dies.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from live_procs import REPO

from tests.live_http import TIMEOUT, make_room, park_poll, sign_in
from tests.redis_server import free_port
from tests.ws_client import Client

pytestmark = pytest.mark.live

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = REPO / "deploy" / "nginx"


def nginx_conf(workdir: Path, port: int, fronts: list[str]) -> str:
    """An nginx.conf for the test: chat.conf's upstream and map, the shipped locations, on ``port``."""
    shipped = (DEPLOY / "chat.conf").read_text()
    # The http-level part of chat.conf: everything before its first server block.
    http_part = shipped[: shipped.index("\nserver {")]
    servers = "".join(
        f"    server {url.removeprefix('http://')} max_fails=1 fail_timeout=5s;\n" for url in fronts
    )
    http_part = re.sub(r"(    server 10\.0\.0\.\d+:8000[^\n]*\n)+", servers, http_part)
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
error_log {workdir / "error.log"} warn;
pid {workdir / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
{http_part}
    server {{
        listen 127.0.0.1:{port};
        include {DEPLOY / "chat-locations.conf"};
    }}
}}
"""


@pytest.fixture
def proxied(tmp_path, cluster):
    """Two front servers on one backend and Redis, and nginx in front: ``(url, cluster)``."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    chat = cluster(2)
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / kind).mkdir()
    # nginx's workers run as an unprivileged user when the tests run as root.
    for path in [workdir, *workdir.iterdir()]:
        os.chmod(path, 0o777)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(workdir, port, chat.urls))
    proc = subprocess.Popen(
        [NGINX, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                log = workdir / "error.log"
                assert proc.poll() is None, log.read_text() if log.exists() else "nginx exited"
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", chat
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_app_through_nginx_with_two_front_servers(proxied, stack):
    url, chat = proxied
    assert '<script type="module"' in requests.get(f"{url}/", timeout=TIMEOUT).text
    # Signing in from the page's own origin passes the origin rule through the proxy.
    alice = sign_in(url, headers={"Origin": url})
    bob = sign_in(url, headers={"Origin": url})
    room = make_room(alice, [bob])
    # Several sockets each, so that both front servers hold some (nginx takes them in turn).
    alices = [Client(stack, alice) for _ in range(2)]
    bobs = [Client(stack, bob) for _ in range(2)]
    alices[0].send({"type": "typing", "room": room})
    for client in bobs:
        assert client.expect("typing")["user"] == alice.username
    alices[0].send({"type": "send", "room": room, "text": "through nginx", "client_id": "n-1"})
    for client in (*alices[1:], *bobs):
        assert client.expect("message")["message"]["text"] == "through nginx"

    # A long-poll waits through the proxy and answers when a message arrives.
    poll, answers = park_poll(url, bob)
    sent = alice.post(
        f"{url}/api/rooms/{room}/messages",
        json={"text": "to the poll", "client_id": uuid.uuid4().hex},
        headers={"Origin": url},
        timeout=TIMEOUT,
    )
    assert sent.status_code == 201
    poll.join(25)
    assert [e["message"]["text"] for e in answers[0]["events"] if e["type"] == "message"] == ["to the poll"]

    # A 3 MiB file goes up and comes back through the proxy, byte for byte.
    body = os.urandom(3 * 2**20)
    uploaded = alice.post(
        f"{url}/api/rooms/{room}/files",
        files={"file": ("blob.bin", body)},
        data={"client_id": uuid.uuid4().hex},
        headers={"Origin": url},
        timeout=30,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert bob.get(url + uploaded.json()["message"]["file"]["url"], timeout=30).content == body

    # Another site's page is refused, as without the proxy.
    foreign = alice.post(
        f"{url}/api/rooms", json={}, headers={"Origin": "https://evil.example"}, timeout=TIMEOUT
    )
    assert foreign.status_code == 403

    # One front server dies: nginx sends everyone to the other, sockets included.
    chat.fronts[0].kill9()
    for _ in range(4):
        assert bob.get(f"{url}/api/users", timeout=TIMEOUT).status_code == 200
    again = Client(stack, bob)
    alice.post(
        f"{url}/api/rooms/{room}/messages",
        json={"text": "after one died", "client_id": uuid.uuid4().hex},
        headers={"Origin": url},
        timeout=TIMEOUT,
    )
    assert again.expect("message")["message"]["text"] == "after one died"
