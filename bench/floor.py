"""The floor: the least a flask-sock broadcast relay can do on our worker model.

Same stack as the front server (Flask, flask-sock, simple-websocket, one gunicorn gevent worker)
and the same frames (``hello``, ``send`` in, ``ack`` and ``message`` out), but no storage, no
backend, no auth and no rooms: every ``send`` is numbered in memory and broadcast to every open
connection. Whatever the real stack spends beyond this is the cost of our design; the benchmark
reports our figures as ratios to these, measured in the same run.

Run it with ``python -m bench.floor --port 0``; it prints ``http://HOST:PORT`` once listening.
"""

from __future__ import annotations

import argparse
import itertools
import threading
from datetime import UTC, datetime

import orjson
from flask import Flask, request
from flask_sock import ConnectionClosed, Sock
from gunicorn.app.base import BaseApplication


def create_app(compression: bool = False) -> Flask:
    """The relay: ``GET /healthz`` and ``GET /ws``; ``compression`` allows permessage-deflate."""
    app = Flask(__name__)
    sock = Sock(app)

    if not compression:

        @app.before_request
        def _no_deflate():
            # Like the front server: without the client's offer simple-websocket negotiates no
            # permessage-deflate, which would cost a compressor per connection and per frame.
            request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)

    peers: dict[int, tuple] = {}
    positions = itertools.count(1)
    seqs: dict[str, int] = {}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @sock.route("/ws")
    def relay(ws):
        # simple-websocket has no lock and this socket is written to by other connections'
        # greenlets too: one lock per connection keeps two frames from interleaving.
        peer = (ws, threading.Lock())
        _send(peer, orjson.dumps({"type": "hello", "user": {"username": "floor"}, "pos": 0}))
        peers[id(ws)] = peer
        try:
            while True:
                frame = _parse(ws.receive())
                if frame is None:
                    _send(peer, orjson.dumps({"type": "error", "error": {"code": "validation_error"}}))
                    continue
                room = frame["room"]
                seqs[room] = seq = seqs.get(room, 0) + 1
                pos = next(positions)
                message = {
                    "id": f"m{pos}",
                    "room": room,
                    "seq": seq,
                    "pos": pos,
                    "sender": "floor",
                    "text": frame["text"],
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "client_id": frame["client_id"],
                }
                _send(
                    peer, orjson.dumps({"type": "ack", "client_id": frame["client_id"], "message": message})
                )
                data = orjson.dumps({"type": "message", "pos": pos, "message": message})
                for other in list(peers.values()):
                    _send(other, data)
        finally:
            peers.pop(id(ws), None)

    return app


def _parse(raw) -> dict | None:
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict) or frame.get("type") != "send":
        return None
    if not all(isinstance(frame.get(k), str) for k in ("room", "text", "client_id")):
        return None
    return frame


def _send(peer: tuple, data: bytes) -> None:
    ws, lock = peer
    try:
        with lock:
            ws.send(data.decode())
    except (ConnectionClosed, OSError):
        pass  # the connection's own greenlet notices and removes it


class _Gunicorn(BaseApplication):
    """One gevent worker, like the front server, with room for many connections."""

    def __init__(self, host: str, port: int, compression: bool):
        self.host, self.port, self.compression = host, port, compression
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.host}:{self.port}")
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gevent")
        self.cfg.set("worker_connections", 20000)
        self.cfg.set("backlog", 4096)
        self.cfg.set("loglevel", "warning")
        self.cfg.set("when_ready", _announce)

    def load(self) -> Flask:
        return create_app(self.compression)


def _announce(server) -> None:
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        print(f"floor relay listening on http://{host}:{port}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host`` and ``--port`` and serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--compression", action="store_true", help="negotiate permessage-deflate")
    args = parser.parse_args(argv)
    _Gunicorn(args.host, args.port, args.compression).run()


if __name__ == "__main__":
    main()
