"""How the front server runs something apart: under gevent (its worker) a greenlet or the event
loop's timer, else (a threaded test server) a thread. One question decides it, asked here alone:
whether gevent has patched ``threading``. No Flask import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gevent
from gevent import monkey


def under_gevent() -> bool:
    """Whether this process runs on gevent's loop (``threading`` patched), as its worker does."""
    return monkey.is_module_patched("threading")


def spawn(run: Callable[[], Any]) -> None:
    """Run ``run`` apart: a raw greenlet, the cheapest gevent has, started at the loop's next
    turn; else a daemon thread."""
    if under_gevent():
        gevent.spawn_raw(run)
    else:
        threading.Thread(target=run, daemon=True).start()


def call_later(seconds: float, call: Callable[[], Any]) -> Callable[[], None]:
    """Run ``call`` in ``seconds``: from the event loop under gevent (nothing in ``call`` may
    wait), else from a timer thread; returns what cancels it."""
    if under_gevent():
        timer = gevent.get_hub().loop.timer(seconds)
        timer.start(call)
        return timer.close
    thread = threading.Timer(seconds, call)
    thread.daemon = True
    thread.start()
    return thread.cancel
