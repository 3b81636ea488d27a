"""What a front-server :class:`Connection` has queued, read the way its writer would send it.

For the unit tests of the hub and of the stream that feeds it (no network); imported by name.
"""

from __future__ import annotations

import orjson

from webserver.connection import Connection


def drain(conn: Connection) -> list[dict]:
    """Everything queued on a connection, decoded, as its writer would send it."""
    return [orjson.loads(frame) for frame in conn.next_frames(conn.limit)]


def positions(conn: Connection) -> list[int]:
    """The positions of the log events queued on a connection, of any kind (hello left out)."""
    return [f["pos"] for f in drain(conn) if "pos" in f and f["type"] != "hello"]
