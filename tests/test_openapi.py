"""The OpenAPI document matches the routes the two processes really serve, and is valid OpenAPI.

Relayed routes are the backend's (its Flask url_map, built on a temporary data directory); the
front server's own ``/api/`` routes are its url_map minus the catch-all relay. A route added to
either process without documenting it, or documented without being served, fails here.
"""

from __future__ import annotations

import copy
import io
import re

import jsonschema_rs
import pytest
import requests
import schemathesis
from PIL import Image

import backend
import webserver
from backend import validation
from backend.refusals import Invalid
from common import limits
from common.schemas import NewMessage, SignIn
from webserver import openapi
from webserver.openapi_schemas import ERROR_CODES

IGNORED_METHODS = {"HEAD", "OPTIONS"}
RELAY_ENDPOINT = "api_relay.relay"


def _shape(path: str) -> str:
    """A path with its parameters blanked, so Flask's ``<room_id>`` and OpenAPI's ``{id}`` compare."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _routes(app, *, skip_endpoint: str | None = None) -> set[tuple[str, str]]:
    """``(method, shaped path)`` of every ``/api/`` route of a Flask app."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == skip_endpoint:
            continue
        for method in rule.methods - IGNORED_METHODS:
            found.add((method, _shape(rule.rule)))
    return found


def _documented() -> set[tuple[str, str]]:
    found = set()
    for path, item in openapi.document()["paths"].items():
        for method in item:
            if method != "parameters":
                found.add((method.upper(), _shape(path)))
    return found


@pytest.fixture(scope="module")
def backend_routes(tmp_path_factory):
    app = backend.create_app({"DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    try:
        yield _routes(app)
    finally:
        app.extensions["chat.store"].close()


@pytest.fixture(scope="module")
def front_routes():
    # Building the app starts nothing: the hub's stream starts on the first request.
    return _routes(webserver.create_app(), skip_endpoint=RELAY_ENDPOINT)


def test_every_documented_operation_is_served(backend_routes, front_routes):
    missing = _documented() - backend_routes - front_routes
    assert not missing, f"documented but served by neither process: {sorted(missing)}"


def test_every_api_route_is_documented(backend_routes, front_routes):
    undocumented = (backend_routes | front_routes) - _documented()
    assert not undocumented, f"served but not in the OpenAPI document: {sorted(undocumented)}"


def test_the_front_server_relays_everything_else_under_api():
    app = webserver.create_app()
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/api/rooms/x/messages", method="POST")[0] == RELAY_ENDPOINT
    assert adapter.match("/api/openapi.json", method="GET")[0] == "openapi.openapi_json"


def test_document_is_valid_openapi():
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi.document()))
    schema.validate()  # against the OpenAPI 3.0 meta-schema; raises with the offending part
    operations = [result.ok() for result in schema.get_all_operations()]  # every $ref resolves
    assert len(operations) == len(_documented())


def test_a_broken_document_is_caught():
    broken = copy.deepcopy(openapi.document())
    broken["paths"]["/api/users"]["get"]["responses"]["200"] = {"content": 5}
    with pytest.raises(Exception, match="oneOf"):
        schemathesis.openapi.from_dict(broken).validate()


def test_error_codes_are_the_contracts():
    contract = {
        "invalid_json": 400,
        "validation_error": 422,
        "unauthenticated": 401,
        "invalid_credentials": 401,
        "forbidden": 403,
        "not_a_member": 403,
        "not_found": 404,
        "payload_too_large": 413,
        "rate_limited": 429,
        "backend_unavailable": 503,
        "storage_unavailable": 503,  # ours: the backend's disk failed; see docs/api.md
        "range_not_satisfiable": 416,  # ours: a Range outside a file; see docs/api.md
        "server_busy": 503,  # ours: a WebSocket handshake near the open-file limit; see docs/api.md
        "username_taken": 409,  # ours: a new name that looks like a registered one
        "weak_password": 422,  # ours: a new account's password among the easiest to guess
        "misdirected_request": 421,  # ours: the backend asked for a host it does not serve
    }
    assert set(ERROR_CODES) == set(contract)
    # Every error answer documents codes that its status really carries.
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]["allOf"][1]
                codes = schema["properties"]["error"]["properties"]["code"]["enum"]
                for code in codes:
                    assert contract[code] == int(status), f"{method} {path} {status}: {code}"


def test_every_operation_lists_its_common_errors():
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or path in ("/api/openapi.json", "/api/limits"):
                continue
            statuses = set(operation["responses"])
            assert "503" in statuses, f"{method} {path}"
            if "security" not in operation:
                assert "401" in statuses, f"{method} {path}"
            if method in ("post", "delete"):
                assert "403" in statuses, f"{method} {path}"
            if "requestBody" in operation:
                # A JSON body can be no JSON (400); a multipart upload has no JSON to be wrong.
                json_body = "application/json" in operation["requestBody"]["content"]
                expected = {"400", "413", "422"} if json_body else {"413", "422"}
                assert expected <= statuses, f"{method} {path}"
            if "429" in statuses:
                assert operation["responses"]["429"]["headers"]["Retry-After"]["required"]


@pytest.fixture(scope="module")
def loaded():
    return schemathesis.openapi.from_dict(copy.deepcopy(openapi.document()))


@pytest.mark.live
def test_real_answers_match_the_document(live_module, http_user, loaded):
    """One tour of every operation (successes and typical errors); each answer must be documented."""
    alice, bob = http_user("tour"), http_user("tour")
    url = live_module.url
    seen = []

    def check(template: str, answer: requests.Response) -> requests.Response:
        method = answer.request.method
        operation = loaded[template][method]
        documented = operation.definition.raw["responses"]
        assert str(answer.status_code) in documented, (
            f"{method} {template}: {answer.status_code} {answer.text}"
        )
        operation.validate_response(answer)  # body against the status's schema; raises if it differs
        seen.append((method, template))
        return answer

    served = requests.get(f"{url}/api/openapi.json", timeout=5)
    assert served.json() == openapi.document()
    check("/api/openapi.json", served)
    check("/api/limits", requests.get(f"{url}/api/limits", timeout=5))
    check("/api/session", requests.post(f"{url}/api/session", json={"username": "x"}, timeout=5))
    check(
        "/api/session",
        requests.post(
            f"{url}/api/session", json={"username": bob.username, "password": "wrong-one"}, timeout=5
        ),
    )
    check(
        "/api/session",
        requests.post(
            f"{url}/api/session", json={"username": bob.username, "password": bob.password}, timeout=5
        ),
    )
    check("/api/session", alice.get(f"{url}/api/session", timeout=5))
    check("/api/session", requests.get(f"{url}/api/session", timeout=5))
    check("/api/users", alice.get(f"{url}/api/users", timeout=5))
    check("/api/rooms", alice.get(f"{url}/api/rooms", timeout=5))
    room = check(
        "/api/rooms",
        alice.post(f"{url}/api/rooms", json={"name": "tour", "visibility": "private"}, timeout=5),
    ).json()["room"]
    check("/api/rooms", alice.post(f"{url}/api/rooms", json={"name": " "}, timeout=5))
    check(
        "/api/rooms",
        alice.post(f"{url}/api/rooms", json={"name": "x"}, headers={"Origin": "null"}, timeout=5),
    )
    rid = room["id"]
    check("/api/rooms/{id}", alice.get(f"{url}/api/rooms/{rid}", timeout=5))
    check("/api/rooms/{id}", bob.get(f"{url}/api/rooms/{rid}", timeout=5))
    check(
        "/api/rooms/{id}/members",
        alice.post(f"{url}/api/rooms/{rid}/members", json={"username": bob.username}, timeout=5),
    )
    check(
        "/api/rooms/{id}/members",
        alice.post(f"{url}/api/rooms/{rid}/members", json={"username": "nobody-at-all"}, timeout=5),
    )
    for body in (
        {"text": "hello", "client_id": "c-1"},
        {"text": "hello", "client_id": "c-1"},
        {"text": "", "client_id": "c-2"},
    ):
        check("/api/rooms/{id}/messages", alice.post(f"{url}/api/rooms/{rid}/messages", json=body, timeout=5))
    check("/api/rooms/{id}/messages", requests.post(f"{url}/api/rooms/{rid}/messages", data=b"[", timeout=5))
    check(
        "/api/rooms/{id}/messages",
        bob.get(f"{url}/api/rooms/{rid}/messages", params={"limit": 10}, timeout=5),
    )
    check(
        "/api/rooms/{id}/messages",
        bob.get(f"{url}/api/rooms/{rid}/messages", params={"limit": 201}, timeout=5),
    )
    found = check("/api/search", alice.get(f"{url}/api/search", params={"q": "hel"}, timeout=5)).json()
    assert [m["text"] for m in found["results"]] == ["hello"]  # relayed; the sender's message found
    check("/api/search", bob.get(f"{url}/api/search", params={"q": "hello", "room": rid}, timeout=5))
    check("/api/search", alice.get(f"{url}/api/search", params={"q": " "}, timeout=5))
    one, reaction = "/api/rooms/{id}/messages/{seq}", "/api/rooms/{id}/messages/{seq}/reactions/{emoji}"
    msg = f"{url}/api/rooms/{rid}/messages"
    check(one, bob.get(f"{msg}/1", timeout=5))
    check(one, bob.get(f"{msg}/9", timeout=5))
    check(one, alice.patch(f"{msg}/1", json={"text": "hello, edited"}, timeout=5))
    check(one, bob.patch(f"{msg}/1", json={"text": "not mine"}, timeout=5))
    check(one, alice.patch(f"{msg}/1", json={"text": ""}, timeout=5))
    check(reaction, bob.put(f"{msg}/1/reactions/%F0%9F%91%8D", timeout=5))
    check(reaction, bob.put(f"{msg}/1/reactions/ok", timeout=5))
    check(reaction, bob.put(f"{msg}/9/reactions/%F0%9F%91%8D", timeout=5))
    check(reaction, bob.delete(f"{msg}/1/reactions/%F0%9F%91%8D", timeout=5))
    check(one, bob.delete(f"{msg}/1", timeout=5))
    check(one, alice.delete(f"{msg}/1", timeout=5))
    check(one, alice.delete(f"{msg}/9", timeout=5))
    check(one, alice.patch(f"{msg}/1", json={"text": "gone"}, timeout=5))
    check(one, alice.get(f"{msg}/1", timeout=5))
    assert alice.get(f"{url}/api/search", params={"q": "hello"}, timeout=5).json()["results"] == []  # deleted
    check(
        "/api/rooms/{id}/members/{username}",
        bob.delete(f"{url}/api/rooms/{rid}/members/{alice.username}", timeout=5),
    )
    check(
        "/api/rooms/{id}/members/{username}",
        bob.delete(f"{url}/api/rooms/{rid}/members/{bob.username}", timeout=5),
    )
    read = "/api/rooms/{id}/read"
    check(read, alice.put(f"{url}/api/rooms/{rid}/read", json={"seq": 1}, timeout=5))
    check(read, alice.put(f"{url}/api/rooms/{rid}/read", json={"seq": -1}, timeout=5))
    check(read, alice.put(f"{url}/api/rooms/nope/read", json={"seq": 1}, timeout=5))
    typing = "/api/rooms/{id}/typing"
    check(typing, alice.post(f"{url}/api/rooms/{rid}/typing", timeout=5))
    check(typing, alice.post(f"{url}/api/rooms/nope/typing", timeout=5))
    check(typing, requests.post(f"{url}/api/rooms/{rid}/typing", timeout=5))
    check("/api/rooms", alice.get(f"{url}/api/rooms", timeout=5))
    check("/api/dms", alice.post(f"{url}/api/dms", json={"username": bob.username}, timeout=5))
    check("/api/dms", alice.post(f"{url}/api/dms", json={"username": bob.username}, timeout=5))
    check("/api/dms", alice.post(f"{url}/api/dms", json={"username": alice.username}, timeout=5))
    _file_tour(check, url, alice, bob, rid)
    check("/api/events", alice.get(f"{url}/api/events", params={"after": 0}, timeout=5))
    check("/api/events", alice.get(f"{url}/api/events", params={"wait": 31}, timeout=5))
    check("/api/session", alice.delete(f"{url}/api/session", timeout=5))
    check("/api/session", requests.delete(f"{url}/api/session", timeout=5))
    assert set(seen) == set(_documented_templates())


def _file_tour(check, url, alice, bob, rid):
    """The file operations: an upload (new, repeated, refused), its download and thumbnail."""
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(image, "PNG")
    uploads = f"{url}/api/rooms/{rid}/files"
    for _ in range(2):
        sent = alice.post(
            uploads, files={"file": ("a.png", image.getvalue())}, data={"client_id": "f-1"}, timeout=5
        )
        file = check("/api/rooms/{id}/files", sent).json()["message"]["file"]
    check("/api/rooms/{id}/files", alice.post(uploads, files={"file": ("a", b"x")}, timeout=5))
    check("/api/rooms/{id}/files", alice.post(uploads, json={"client_id": "x"}, timeout=5))
    download, thumb = url + file["url"], url + file["image"]["thumb_url"]
    got = check("/api/files/{id}/{name}", alice.get(download, timeout=5))
    check("/api/files/{id}/{name}", alice.get(download, headers={"Range": "bytes=0-3"}, timeout=5))
    check(
        "/api/files/{id}/{name}",
        alice.get(download, headers={"If-None-Match": got.headers["ETag"]}, timeout=5),
    )
    check("/api/files/{id}/{name}", alice.get(download, headers={"Range": "bytes=99999-"}, timeout=5))
    check("/api/files/{id}/{name}", alice.get(f"{url}/api/files/fnothing/x", timeout=5))
    check("/api/thumbnails/{id}", alice.get(thumb, timeout=5))
    check("/api/thumbnails/{id}", alice.get(f"{url}/api/thumbnails/fnothing", timeout=5))


def _documented_templates():
    for path, item in openapi.document()["paths"].items():
        for method in item:
            if method != "parameters":
                yield method.upper(), path


USERNAME_SAMPLES = [
    "al",
    "Zoë",
    "名字",
    "٣٣",
    "½x",
    "a.b-c_d",
    "a",
    "a b",
    "a!",
    "x" * 33,
    "é" * 32,
    "a\n",
    "ab\u200b",
]
TEXT_SAMPLES = ["x", " x ", " ", "\t\n", "\x1d", "\u3000\xa0", "\ufeff", "\u200b", "a" * 4000, "a" * 4001, ""]


def _backend_accepts(model, body: dict) -> bool:
    """Whether the backend's check of a request body (the model, as the routes apply it) passes."""
    try:
        validation.parse(model, body)
    except Invalid:
        return False
    return True


def _request_schema(path: str, method: str) -> dict:
    """The schema of an operation's request body, as the document states it."""
    document = openapi.document()
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("value", USERNAME_SAMPLES)
def test_username_schema_agrees_with_the_backend(value):
    """The pattern given to clients (\\p{L}\\p{N}) accepts exactly what str.isalnum() does."""
    schema = _request_schema("/api/session", "post")["properties"]["username"]
    schema_says = jsonschema_rs.validator_for(schema).is_valid(value)
    assert schema_says == _backend_accepts(SignIn, {"username": value, "password": "password-1"})


@pytest.mark.parametrize("value", TEXT_SAMPLES)
def test_message_text_schema_agrees_with_the_backend(value):
    schema = _request_schema("/api/rooms/{id}/messages", "post")["properties"]["text"]
    schema_says = jsonschema_rs.validator_for(schema).is_valid(value)
    assert schema_says == _backend_accepts(NewMessage, {"text": value, "client_id": "c-1"})


def test_the_document_states_the_limits_of_the_one_table():
    """The numbers a client reads in the document are those of common/limits.py (and /api/limits)."""
    app = limits.for_app()
    sign_in = _request_schema("/api/session", "post")["properties"]
    room = _request_schema("/api/rooms", "post")["properties"]
    text = _request_schema("/api/rooms/{id}/messages", "post")["properties"]["text"]
    for name, schema in (("username", sign_in["username"]), ("password", sign_in["password"])):
        assert (schema["minLength"], schema["maxLength"]) == (app[name]["min"], app[name]["max"])
    assert sign_in["username"]["pattern"] == app["username"]["pattern"]
    assert (room["name"]["minLength"], room["name"]["maxLength"]) == tuple(app["room_name"].values())
    assert (text["minLength"], text["maxLength"]) == tuple(app["message"].values())
    history = openapi.document()["paths"]["/api/rooms/{id}/messages"]["get"]["parameters"]
    page_size = next(p for p in history if p["name"] == "limit")["schema"]
    assert (page_size["default"], page_size["maximum"]) == tuple(app["history"].values())
    wait = next(
        p for p in openapi.document()["paths"]["/api/events"]["get"]["parameters"] if p["name"] == "wait"
    )
    assert wait["schema"]["maximum"] == app["long_poll_max_wait"]
