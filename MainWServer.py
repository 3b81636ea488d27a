# The front server runs on gevent: every socket, lock, thread and the requests library must be the
# cooperative versions, so the patching has to happen before any module imports socket, ssl,
# threading or urllib3. Patching later leaves objects made from the unpatched originals (a lock
# that blocks the whole hub, an SSL context gevent warns about) and is a known source of deadlocks.
# The dependency check comes first and uses none of those modules.
from common import dependencies

dependencies.ensure("MainWServer.py")

from gevent import monkey  # noqa: E402

monkey.patch_all()

__doc__ = """Start the chat front server: parse flags and environment, then serve ``webserver.create_app``.

Runs on gunicorn with one gevent worker: thousands of WebSockets and long-polls are cheap
greenlets, and the WebSocket hub is in-process state that one process owns. With ``--redis`` and
``--workers N``, N such workers share the port, each a front server of its own that shares typing
and presence with the others through Redis (docs/deployment.md). The app is built in the worker,
after the fork, so the hub's greenlets start in the process that serves.
"""

import argparse  # noqa: E402
import ipaddress  # noqa: E402
import sys  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from common import limits, secret  # noqa: E402
from common.flags import ArgumentParser, count, env, port_number  # noqa: E402
from common.serve import ServeError, serve  # noqa: E402

NAME = "front server"


def _http_url(text: str) -> str:
    """argparse type: an ``http(s)://host[:port]`` URL, without a trailing slash."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad URL {text!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text!r}")
    return text.rstrip("/")


def _origin(text: str) -> str:
    """argparse type: a web origin, ``scheme://host[:port]`` with nothing after it."""
    url = _http_url(text)
    parts = urlsplit(url)
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise argparse.ArgumentTypeError(f"an origin is scheme://host[:port] only: {text!r}")
    return url.lower()


def _network(text: str) -> str:
    """argparse type: an IP address or network (``10.0.0.0/8``)."""
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address or network: {text!r}") from None
    return text.strip()


def _flag(text: str) -> bool:
    """Read an on/off environment value: 1, true, yes, on are on."""
    return text.strip().lower() in ("1", "true", "yes", "on")


def _upload_mb(text: str) -> float:
    """argparse type: an upload limit in MiB, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number more than 0: {text}")
    return value


def _redis_url(text: str) -> str:
    """argparse type: a Redis URL, ``redis://``, ``rediss://`` (TLS) or ``unix://`` (a socket path)."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad Redis URL {text!r}: {error}") from None
    if parts.scheme in ("redis", "rediss") and parts.hostname:
        return text
    if parts.scheme == "unix" and parts.path:
        return text
    raise argparse.ArgumentTypeError(f"not a redis://, rediss:// or unix:// URL: {text!r}")


def _workers(text: str) -> int:
    """argparse type: a number of worker processes, 1 to 64."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be from 1 to 64: {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the flags, falling back on the environment, then on the defaults."""
    parser = ArgumentParser(
        prog="MainWServer.py",
        description="The chat front server: the web app, the /api relay and the /ws WebSocket hub.",
        epilog="Every flag also reads the environment variable shown; a flag wins over it.",
    )
    add = parser.add_argument
    add("--host", default=env("CHAT_HOST", "127.0.0.1"), help="address to listen on (CHAT_HOST)")
    add("--port", type=port_number, default=env("CHAT_PORT", "8000"), help="0 picks a free port (CHAT_PORT)")
    add(
        "--backend",
        type=_http_url,
        default=env("CHAT_BACKEND_URL", "http://127.0.0.1:8756"),
        help="the backend's address (CHAT_BACKEND_URL)",
    )
    add(
        "--secure-cookies",
        action="store_true",
        default=_flag(env("CHAT_SECURE_COOKIES", "0")),
        help="mark the session cookie Secure, for running behind HTTPS (CHAT_SECURE_COOKIES=1)",
    )
    add(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        type=_origin,
        metavar="ORIGIN",
        help="another origin allowed to call the API and open /ws; repeatable "
        "(CHAT_ALLOWED_ORIGINS, comma-separated)",
    )
    add(
        "--max-upload-mb",
        type=_upload_mb,
        default=env("CHAT_MAX_UPLOAD_MB", "25"),
        help="largest file passed on to the backend, in MiB; give both processes the same "
        "(CHAT_MAX_UPLOAD_MB)",
    )
    for flag, name, default, text in (
        (
            "--ws-per-user",
            "CHAT_WS_PER_USER",
            limits.WS_PER_USER,
            "open WebSockets of one user; past it, 429",
        ),
        ("--ws-frame-rate", "CHAT_WS_FRAME_RATE", limits.WS_FRAME_RATE, "frames a second from one WebSocket"),
        (
            "--backend-per-user",
            "CHAT_BACKEND_PER_USER",
            limits.BACKEND_PER_USER,
            "relayed calls of one user at once",
        ),
        (
            "--backend-calls",
            "CHAT_BACKEND_CALLS",
            limits.BACKEND_CALLS,
            "relayed calls at once in all; keep the sum over front servers below the backend's --threads",
        ),
    ):
        add(flag, type=count, default=env(name, str(default)), help=f"{text}; 0 turns it off ({name})")
    add(
        "--internal-secret",
        type=secret.secret_text,
        default=env(secret.ENVIRONMENT, "") or None,
        help="the secret the backend expects on every call; give both processes the same "
        f"({secret.ENVIRONMENT}; prefer the environment: a flag shows in the process list)",
    )
    add(
        "--redis",
        type=_redis_url,
        default=env("CHAT_REDIS_URL", "") or None,
        metavar="URL",
        help="share typing and presence with the other front servers on this Redis, e.g. "
        "redis://127.0.0.1:6379/0 (CHAT_REDIS_URL)",
    )
    add(
        "--workers",
        type=_workers,
        default=env("CHAT_WORKERS", "1"),
        help="worker processes on this port, each a front server; more than 1 needs --redis (CHAT_WORKERS)",
    )
    add(
        "--trust-proxy",
        dest="trust_proxy",
        action="append",
        type=_network,
        metavar="ADDRESS",
        help="a reverse proxy (address or network) whose X-Forwarded-For names the client; "
        "repeatable (CHAT_TRUST_PROXY, comma-separated). Without it the client is the peer.",
    )
    args = parser.parse_args(argv)
    if args.trust_proxy is None:
        names = [item.strip() for item in env("CHAT_TRUST_PROXY", "").split(",") if item.strip()]
        try:
            args.trust_proxy = [_network(name) for name in names]
        except argparse.ArgumentTypeError as error:
            parser.error(f"CHAT_TRUST_PROXY: {error}")
    if args.workers > 1 and not args.redis:
        parser.error(
            f"--workers {args.workers} needs --redis: each worker is a front server of its own, and "
            "only through Redis do they share who is online and who is typing"
        )
    if args.allowed_origins is None:
        # The environment's list is checked like the flag's, and a bad entry is reported the same way.
        names = [item.strip() for item in env("CHAT_ALLOWED_ORIGINS", "").split(",") if item.strip()]
        try:
            args.allowed_origins = [_origin(name) for name in names]
        except argparse.ArgumentTypeError as error:
            parser.error(f"CHAT_ALLOWED_ORIGINS: {error}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the front server and serve until stopped; the exit status for the shell."""
    args = parse_args(argv)
    config = {
        "BACKEND_URL": args.backend,
        "SECURE_COOKIES": args.secure_cookies,
        "ALLOWED_ORIGINS": args.allowed_origins,
        "MAX_UPLOAD_MB": args.max_upload_mb,
        "WS_PER_USER": args.ws_per_user,
        "WS_FRAME_RATE": args.ws_frame_rate,
        "BACKEND_PER_USER": args.backend_per_user,
        "BACKEND_CALLS": args.backend_calls,
        "INTERNAL_SECRET": args.internal_secret,
        "REDIS_URL": args.redis,
        "TRUST_PROXY": args.trust_proxy,
    }

    def build():
        # Imported in the worker, so nothing of the app exists in the master.
        import webserver

        return webserver.create_app(config)

    def started(app):
        from webserver.ws import start_background

        start_background(app)

    try:
        serve(
            build,
            name=NAME,
            host=args.host,
            port=args.port,
            worker_class="gevent",
            workers=args.workers,
            preload=False,
            started=started,
        )
    except ServeError as error:
        print(f"{NAME}: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
