"""The events a call appended, handed back to the front server that made the call.

A front server's hub broadcasts what the log says, in ``pos`` order, and learns it from its
long-poll of ``/internal/events``. The front server that relayed a change need not wait for that
round: the answer to every call that changes something (``POST``, ``PUT``, ``PATCH``, ``DELETE``)
carries, besides its own JSON body, ``"addressed"``: the items ``/internal/events`` will serve for
the events appended while the call ran (its own, and any other call's that came in between), each
byte for byte as the feed serves it. The front server takes the key out before it answers its
client and hands the items to its hub, which broadcasts each one that is its next
(docs/realtime.md, "The front server that relays a change goes first"). Nothing is handed over that is not
stored and fsynced: the store's ``pos`` moves only after the fsync. A new kind of event is handed
over like every other, with nothing to add here. The front server's long-poll sleeps through what
it is handed (:mod:`backend.handoffs`); what a call appended and did not hand over is taken back
when the call ends, waking that long-poll.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from common.feed import FRONT_HEADER, addressed_item, front_id

from .auth import store

# Events handed back at most; a call that saw more appended while it ran (a busy log) hands over
# none, and the front server's hub takes them from the log as before.
HANDOVER_LIMIT = 8

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app: Flask) -> None:
    """Note the log's ``pos`` as a changing call starts; add what it appended to its answer."""

    @app.before_request
    def note_pos() -> None:
        if request.method in CHANGING and not request.path.startswith("/internal/"):
            g.handover_from = store().pos
            front = front_id(request.headers.get(FRONT_HEADER))
            if front is not None:
                store().handoffs.begin(front)

    @app.after_request
    def hand_over(response: Response) -> Response:
        start = g.pop("handover_from", None)
        if start is None or response.status_code >= 300 or response.mimetype != "application/json":
            return response
        end = store().pos
        if end == start or end - start > HANDOVER_LIMIT or response.direct_passthrough:
            return response
        body = response.get_data().rstrip()
        if not (body.startswith(b"{") and body.endswith(b"}")):
            return response
        items, _, _ = store().addressed_events(start, HANDOVER_LIMIT)
        handed = b'"addressed":[%s]}' % b",".join(addressed_item(line, users) for line, users in items)
        response.set_data(body[:-1] + (b"," if body[1:-1].strip() else b"") + handed)
        store().handoffs.handed_over()
        return response

    @app.teardown_request
    def take_back(_error: BaseException | None) -> None:
        store().handoffs.end()
