"""The ``/api/`` relay: every public API call is passed to the backend and its answer passed back.

What the relay adds is what the backend cannot know: the cookie becomes ``Authorization: Bearer``
(and a sign-in's token becomes the cookie), sign-out also closes the session's WebSockets, the user
list gains ``online`` from the hub's presence tracker, and a long-poll of ``/api/events`` counts as
being online and waits in the hub, never on a backend thread. Every relayed call counts against
its caller's share of the backend (:mod:`webserver.backend_share`). Everything else (validation,
error codes, rate limits) is the backend's answer, relayed unchanged, so the rules live in one place.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import orjson
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from common.errors import ApiError, error_response
from webserver import clients, polling, sessions
from webserver.backend_client import (
    BackendClient,
    BackendRefused,
    BackendResponse,
    BackendUnavailable,
    EventsPage,
    take_addressed,
)
from webserver.backend_share import BackendShare
from webserver.hub import Hub

bp = Blueprint("api_relay", __name__)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# Times a poll behind the hub catches up from the backend and tries to wait in the hub before it
# answers with nothing new: each round costs one quick backend call.
CATCH_UP_ROUNDS = 3

# Seconds a long-poll waits for the hub's first rooms snapshot (the backend may be starting).
READY_WAIT = 5.0

# Seconds the backend may take to answer a sign-in: it hashes the password with scrypt, which is
# slow on purpose and slower still when several sign-ins share a busy machine.
SIGN_IN_TIMEOUT = 4.0

# Characters left as they are when the decoded path is encoded again for the backend: the path
# separators and the sub-delimiters RFC 3986 allows in a path segment.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# The same, plus "%": in the raw path, escapes the client made are kept as they are.
_RAW_SAFE = _PATH_SAFE + "%"

UNAVAILABLE_MESSAGE = "The chat's backend is not available right now; try again in a moment."


# ``/api`` and ``/api/`` are relayed too (the backend answers a JSON 404), rather than redirected.
@bp.route(
    "/api/", defaults={"path": ""}, methods=METHODS, provide_automatic_options=False, strict_slashes=False
)
@bp.route("/api/<path:path>", methods=METHODS, provide_automatic_options=False)
def relay(path: str) -> ResponseReturnValue:
    """Relay one API call to the backend; see the module docstring for what is added."""
    token = sessions.token_from(request)
    method = request.method
    route = (method, "/api/" + path)
    if route == ("GET", "/api/events"):
        return _events(token)
    if route == ("POST", "/api/session"):
        return _signed_in(_call(token, timeout=SIGN_IN_TIMEOUT))
    answer = _call(token)
    if route == ("DELETE", "/api/session"):
        return _signed_out(answer, token)
    if route in (("GET", "/api/session"), ("HEAD", "/api/session")) and isinstance(answer.body, dict):
        answer.body.pop("session", None)  # when it ends is the front server's to know, not the page's
    if route == ("GET", "/api/users") and answer.status == 200:
        _add_online(answer)
    return reply(answer)


def _call(token: str | None, *, timeout: float | None = None) -> BackendResponse:
    """Send the current request to the backend: same method, path, query and body.

    The call holds one of the caller's places in :class:`~webserver.backend_share.BackendShare`
    until the backend answers (429 or 503 when there is none). ``HEAD`` never waits: it is asked
    as a ``GET`` without its ``wait``.
    """
    backend: BackendClient = current_app.extensions["chat.backend"]
    # Reading the body enforces MAX_CONTENT_LENGTH (413) before anything reaches the backend.
    body = request.get_data(cache=False) if request.method in ("POST", "PUT", "PATCH") else b""
    params = list(request.args.items(multi=True))
    method = request.method
    if method == "HEAD":
        # Asked as GET, so that Werkzeug drops the body but keeps its true length; never a long-poll.
        method = "GET"
        params = [(name, value) for name, value in params if name != "wait"]
    with share().call(_caller(token)):
        return backend.request(
            method,
            raw_path(),
            token=token,
            params=params,
            data=body or None,
            timeout=timeout,
            client=clients.client_address(request, current_app.config["TRUSTED_PROXIES"]),
        )


def share() -> BackendShare:
    """This process's :class:`~webserver.backend_share.BackendShare`."""
    return current_app.extensions["chat.backend_share"]


def _caller(token: str | None) -> str | None:
    """Whose share a call counts against: the signed-in user's, or None (the total only).

    Known without a backend call once the token's user was ever looked up (its WebSocket's
    handshake, an earlier call): :meth:`~webserver.sessions.SessionCache.owner`.
    """
    return current_app.extensions["chat.sessions"].owner(token) if token else None


def raw_path() -> str:
    """The request's path as the client encoded it, so every segment reaches the backend intact.

    The decoded path would turn ``/api/rooms/a%2Fb`` into three segments and ``%2E%2E`` into a
    dot segment. gunicorn keeps the raw request target in ``RAW_URI`` (as latin-1 text of the
    bytes received); bytes outside printable ASCII are percent-encoded, escapes are kept as sent.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if not path.startswith("/"):  # absolute-form: http://host/api/...
            path = urlsplit(path).path
        # No API route has an empty segment or a "/" inside one (ids and usernames cannot hold
        # one), and the backend could not tell either from a path without it: its server decodes
        # %2F before routing, and its router merges "//" into "/".
        if "//" in path or "%2f" in path.lower():
            raise ApiError(404, "not_found", "No such API path.")
        try:
            return quote(path.encode("latin-1"), safe=_RAW_SAFE)
        except UnicodeEncodeError:
            pass
    return quote(request.path, safe=_PATH_SAFE)


def reply(answer: BackendResponse) -> Response:
    """The backend's answer as the front server's: status, JSON body, Retry-After and Allow.

    What the call appended (a message, an edit, a room) is taken out of the body and broadcast
    now, rather than after the log's round (docs/realtime.md): to an idle socket it is written
    in this call, before the answer.
    """
    current_app.extensions["chat.hub"].apply_ahead(take_addressed(answer.body))
    if 300 <= answer.status < 400:
        # The backend redirects only to tidy a path (merged slashes, as from an encoded "/" in a
        # room id); no such path is an API route as asked.
        raise ApiError(404, "not_found", "No such API path.")
    if answer.status == 204 or (answer.body is None and request.method == "OPTIONS"):
        response = Response(status=answer.status)
        del response.headers["Content-Type"]  # no body, so no type (Werkzeug defaults to HTML)
    elif answer.body is None:
        # The backend always answers JSON; anything else came from something that is not it.
        raise BackendUnavailable(
            f"The backend answered {answer.status} without a JSON body; check that backend.py is "
            "the program listening on the backend address."
        )
    else:
        response = Response(orjson.dumps(answer.body), status=answer.status, mimetype="application/json")
    for name in ("Retry-After", "Allow"):
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    return response


def _signed_in(answer: BackendResponse) -> Response:
    """POST /api/session: move the backend's session token into the cookie."""
    session = answer.body.pop("session", None) if isinstance(answer.body, dict) else None
    response = reply(answer)
    if answer.status in (200, 201):
        if not isinstance(session, dict) or not session.get("token"):
            raise BackendUnavailable("The backend signed the user in but sent no session token.")
        sessions.set_cookie(
            response,
            session["token"],
            secure=current_app.config["SECURE_COOKIES"],
            expires_at=session.get("expires_at"),
        )
    return response


def _signed_out(answer: BackendResponse, token: str | None) -> Response:
    """DELETE /api/session: clear the cookie and close the session's WebSockets.

    A 401 means the session was already gone on the server: the cookie is cleared all the same,
    so the browser stops presenting a dead credential.
    """
    response = reply(answer)
    if answer.status in (204, 401):
        current_app.extensions["chat.sessions"].forget(token)
        sessions.clear_cookie(response, secure=current_app.config["SECURE_COOKIES"])
        if token:
            current_app.extensions["chat.hub"].close_session(token)
    return response


def _add_online(answer: BackendResponse) -> None:
    """GET /api/users: mark each user online or not, from the hub's presence tracker."""
    online = current_app.extensions["chat.hub"].online_users()
    users = answer.body.get("users") if isinstance(answer.body, dict) else None
    for user in users or ():
        if isinstance(user, dict):
            user["online"] = user.get("username") in online


def _events(token: str | None) -> Response:
    """GET /api/events: a long-poll waits in the hub, never on the backend; anything else is relayed.

    A request that is not a long-poll the backend would accept (no ``after``, no ``wait``, a bad
    value) is relayed, and the backend answers it at once. A long-poll counts as online: the caller
    is marked before it starts (so a user who only polls shows up at once, not after the first
    wait) and again when it ends. A read that does not wait does not: the app asks for the cursor
    at start and checks for missed events once a minute while its WebSocket is live, and counting
    those would keep a closed tab online for the whole poll window instead of the offline grace.
    """
    hub: Hub = current_app.extensions["chat.hub"]
    params = polling.local_params(request.args)
    if params is None:
        return reply(_call(token))
    if not hub.ready.wait(min(params[1], READY_WAIT)):
        raise BackendUnavailable("the hub has not loaded the backend's rooms yet; a long-poll cannot wait")
    return _events_from_hub(hub, token, *params)


def _events_from_hub(hub: Hub, token: str | None, after: int, wait: float) -> Response:
    """A long-poll: wait in memory for what concerns the caller, never on a backend thread.

    A poll at any cursor but the hub's first asks the backend, without waiting, for the events
    after it (they are on disk, the hub keeps none): if some concern the caller they are the
    answer, and if none do, the cursor the backend returns lets the poll wait here. That cursor is
    never past the end of the backend's log, so a poll from past it waits from the end, as the
    backend would have; one the hub has not reached yet is left to wait for the events after it.
    While other rooms are busy the hub may move on meanwhile; after a few rounds the poll is
    answered with no events and the cursor reached, and the client asks again from there.
    """
    backend: BackendClient = current_app.extensions["chat.backend"]
    user = current_app.extensions["chat.sessions"].user_for(token)  # 503 if it cannot tell
    if not user or not user.get("username"):
        raise ApiError(401, "unauthenticated", "Sign in first.")
    username = user["username"]
    hub.touch_poller(username)
    page = EventsPage([], after, False)
    waiter = None
    for _ in range(CATCH_UP_ROUNDS):
        if after != hub.pos:
            try:
                with share().call(username):
                    page = backend.user_events(token, after)
            except BackendRefused as refused:
                return reply(refused.answer)
            if page.events or page.more:
                return _events_answer(page)
            after = page.pos
        waiter = hub.park(username, after)
        if waiter is not None:
            break
    if waiter is None:
        return _events_answer(page)
    try:
        waiter.wait(wait)
    finally:
        frames, pos, signals = hub.unpark(waiter)
    hub.touch_poller(username)
    body = polling.answer_body(frames, pos, signals, backend_ok=hub.backend_ok)
    return Response(body, mimetype="application/json")


def _events_answer(page: EventsPage) -> Response:
    """A page of the backend's ``GET /api/events`` as this server's answer."""
    body = {"events": page.events, "pos": page.pos, "more": page.more}
    return Response(orjson.dumps(body), mimetype="application/json")


def backend_unavailable(error: BackendUnavailable) -> Response:
    """The JSON 503 for a backend that cannot be reached; registered on the app.

    The operator's log gets the detail (which address, what to check); the caller gets a plain
    sentence, since the backend's internal address is none of its business.
    """
    current_app.logger.warning("%s", error)
    return error_response(503, "backend_unavailable", UNAVAILABLE_MESSAGE)
