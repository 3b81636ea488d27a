"""Background loops of the front server, started once by whichever caller comes first.

The event stream (:mod:`webserver.stream`) and the link to the other front servers
(:mod:`webserver.cluster`) each run a few loops for the life of the process; each worker starts
them as it begins to serve, and the first request starts them too (an app built in a test). Under
the gevent worker a thread is a greenlet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Loops:
    """Named loops run as daemon threads: :meth:`start` starts them once, however often called."""

    def __init__(self, *loops: tuple[Callable[[], None], str]):
        self._loops = loops
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start every loop, unless they were started already; cheap to call again."""
        if self.threads:
            return
        with self._lock:
            if self.threads:
                return
            self.threads = [threading.Thread(target=t, name=name, daemon=True) for t, name in self._loops]
            for thread in self.threads:
                thread.start()
