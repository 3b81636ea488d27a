"""Start the chat backend: parse flags and environment, then serve ``backend.create_app`` on gunicorn.

Every flag has an environment variable and a default (see ``docs/operations.md``). The app is built
in the gunicorn master before it forks, so a data directory that is unusable or held by another
live backend stops the start with one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys

from common import dependencies

dependencies.ensure("backend.py")

from common import limits, secret  # noqa: E402
from common.flags import ArgumentParser, count, env, port_number  # noqa: E402
from common.serve import ServeError, serve  # noqa: E402

NAME = "backend"


def _rate(text: str) -> float:
    """argparse type: a rate per second of zero or more (0 turns a limit off)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more: {text}")
    return value


# The contract's rate limits: flag, default, type, meaning. Each flag's app config key is its name
# in capitals (--message-burst: MESSAGE_BURST) and its environment variable that key after CHAT_.
RATE_LIMITS = [
    ("--message-burst", str(limits.MESSAGE_BURST), count, "messages a user may send at once"),
    ("--message-rate", str(limits.MESSAGE_RATE), _rate, "messages per second a user regains"),
    (
        "--login-failures",
        str(limits.LOGIN_FAILURES),
        count,
        f"failed sign-ins per username per {limits.LOGIN_WINDOW // 60} minutes",
    ),
    (
        "--address-login-failures",
        str(limits.ADDRESS_LOGIN_FAILURES),
        count,
        f"failed sign-ins per client address, across names, per {limits.LOGIN_WINDOW // 60} minutes",
    ),
    (
        "--registration-burst",
        str(limits.REGISTRATION_BURST),
        count,
        "new accounts one client address may make at once",
    ),
    (
        "--registration-rate",
        f"{limits.REGISTRATION_RATE:.6g}",
        _rate,
        "new accounts per second a client address regains (1/60: one a minute)",
    ),
    (
        "--hash-concurrency",
        str(limits.HASH_CONCURRENCY),
        count,
        "password hashes run at once; a sign-in beyond them is refused at once",
    ),
    ("--room-burst", str(limits.ROOM_BURST), count, "rooms a user may create at once"),
    ("--room-rate", str(limits.ROOM_RATE), _rate, "rooms per second a user regains"),
    (
        "--membership-burst",
        str(limits.MEMBERSHIP_BURST),
        count,
        "joins, adds and leaves a user may make at once",
    ),
    ("--membership-rate", str(limits.MEMBERSHIP_RATE), _rate, "membership changes per second a user regains"),
    (
        "--catch-up-burst",
        str(limits.CATCH_UP_BURST),
        count,
        f"catch-ups more than {limits.DEEP_CATCH_UP:,} events behind a user may make at once",
    ),
    ("--catch-up-rate", str(limits.CATCH_UP_RATE), _rate, "deep catch-ups per second a user regains"),
    ("--upload-burst", str(limits.UPLOAD_BURST), count, "files a user may upload at once"),
    ("--upload-rate", str(limits.UPLOAD_RATE), _rate, "uploads per second a user regains"),
]


def _config_key(flag: str) -> str:
    return flag[2:].replace("-", "_").upper()


def _seconds(text: str) -> float:
    """argparse type: a number of seconds, 0 or more (0 means none)."""
    return _rate(text)


def _threads(text: str) -> int:
    """argparse type: a thread count of at least 1."""
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _upload_mb(text: str) -> float:
    """argparse type: an upload limit in MiB, more than 0."""
    value = _rate(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the flags, falling back on the environment, then on the defaults."""
    parser = ArgumentParser(
        prog="backend.py",
        description="The chat backend: users, sessions, rooms and messages on JSON-lines files.",
        epilog="Every flag also reads the environment variable shown; a flag wins over it.",
    )
    add = parser.add_argument
    add(
        "--host",
        default=env("CHAT_BACKEND_HOST", "127.0.0.1"),
        help="address to listen on (CHAT_BACKEND_HOST)",
    )
    add(
        "--port",
        type=port_number,
        default=env("CHAT_BACKEND_PORT", "8756"),
        help="0 picks a free port (CHAT_BACKEND_PORT)",
    )
    add("--data-dir", default=env("CHAT_DATA_DIR", "chats"), help="where the data files live (CHAT_DATA_DIR)")
    add(
        "--internal-secret",
        type=secret.secret_text,
        default=env(secret.ENVIRONMENT, "") or None,
        help="the secret every front server must present; required when --host is not loopback "
        f"({secret.ENVIRONMENT}; prefer the environment: a flag shows in the process list)",
    )
    add(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        metavar="NAME",
        help="a host name requests may name besides localhost and IP addresses, for a front server "
        "that reaches the backend by name; repeatable (CHAT_BACKEND_ALLOWED_HOSTS, comma-separated)",
    )
    for flag, default, kind, meaning in RATE_LIMITS:
        variable = "CHAT_" + _config_key(flag)
        add(flag, type=kind, default=env(variable, default), help=f"{meaning} ({variable}; 0 = no limit)")
    add(
        "--max-upload-mb",
        type=_upload_mb,
        default=env("CHAT_MAX_UPLOAD_MB", str(limits.MAX_UPLOAD_MB)),
        help="largest file a user may upload, in MiB (CHAT_MAX_UPLOAD_MB)",
    )
    add(
        "--threads",
        type=_threads,
        default=env("CHAT_BACKEND_THREADS", "32"),
        help="request threads; each long-poll holds one (CHAT_BACKEND_THREADS)",
    )
    add(
        "--edit-window",
        type=_seconds,
        default=env("CHAT_EDIT_WINDOW", str(limits.EDIT_WINDOW)),
        help="seconds after sending that a message may be edited (CHAT_EDIT_WINDOW; 0 = no window)",
    )
    add(
        "--compact",
        action="store_true",
        help="rewrite the data files without deleted and replaced texts, then exit (no live backend "
        "may hold the data directory)",
    )
    # argparse runs ``type`` on string defaults too, so a bad environment value is reported
    # exactly like a bad flag.
    args = parser.parse_args(argv)
    if not args.compact and not args.internal_secret and not secret.is_loopback(args.host):
        parser.error(
            f"listening on {args.host} (not loopback) needs --internal-secret ({secret.ENVIRONMENT}), "
            "or anyone who reaches the port reads every room"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the backend and serve until stopped; the exit status for the shell."""
    args = parse_args(argv)
    if args.compact:
        return compact(args.data_dir)
    from backend.hosts import allowed_names

    extra = args.allowed_hosts
    if extra is None:
        extra = env("CHAT_BACKEND_ALLOWED_HOSTS", "").split(",")
    config = {
        "DATA_DIR": args.data_dir,
        "ALLOWED_HOSTS": allowed_names(args.host, extra),
        "EDIT_WINDOW": args.edit_window,
        "MAX_UPLOAD_MB": args.max_upload_mb,
        "START_SEARCH_INDEX": False,
        "INTERNAL_SECRET": args.internal_secret,
    }
    for flag, *_ in RATE_LIMITS:
        config[_config_key(flag)] = getattr(args, _config_key(flag).lower())
    # Imported here, not at the top, so that ``--help`` and flag errors answer at once.
    import backend
    from backend.datadir import DataDirError

    try:
        serve(
            lambda: backend.create_app(config),
            name=NAME,
            host=args.host,
            port=args.port,
            worker_class="gthread",
            threads=args.threads,
            preload=True,
            started=backend.start_background,
        )
    except (DataDirError, ServeError) as error:
        print(f"{NAME}: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def compact(data_dir: str) -> int:
    """``--compact``: compact the data directory's log and say what was done; the exit status."""
    from backend.compaction import compact as run
    from backend.datadir import DataDirError

    try:
        summary = run(data_dir)
    except DataDirError as error:
        print(f"{NAME}: cannot compact: {error}", file=sys.stderr, flush=True)
        return 1
    except OSError as error:
        print(f"{NAME}: compaction failed, the data is unchanged: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"{NAME}: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
