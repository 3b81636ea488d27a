"""GET /api/search on the backend: what matches, who may find it, paging, edits and deletions.

The index follows the log in a thread of its own; each search waits for it to reach the log as it
was when the search arrived, so a test may search right after posting, as a sender would.
"""

from __future__ import annotations

import itertools
import time

import pytest

from backend import search as search_module
from backend import searchindex
from tests.backend_fixtures import check_error, general, new_room, say

_ids = itertools.count(1)


@pytest.fixture(params=["rooms in the query", "rooms looked up"])
def rooms_rule(request, monkeypatch):
    """Both ways of keeping to the caller's rooms (backend/search.py) must answer the same."""
    monkeypatch.setattr(
        search_module, "ROOMS_IN_QUERY_BELOW", 2 if request.param == "rooms in the query" else 0
    )


def post(caller, room_id: str, text: str) -> dict:
    """Post ``text``; the stored message."""
    answer = say(caller, room_id, text, f"s{next(_ids)}")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["message"]


def search(caller, q: str, **params) -> dict:
    """A successful search's body."""
    answer = caller.get("/api/search", query_string={"q": q, **params})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"results", "more", "partial"}
    assert body["partial"] is False
    return body


def texts(caller, q: str, **params) -> list[str]:
    """The texts found for ``q``, newest first."""
    return [message["text"] for message in search(caller, q, **params)["results"]]


@pytest.fixture
def room(users) -> str:
    """A public room of alice's with a few messages that the matching tests look for."""
    room_id = new_room(users.alice, "search")["id"]
    for text in (
        "Café au lait at nine",
        "CRÈME brûlée for dessert",
        "the quick brown fox",
        "brown bread and a quick coffee",
        "naïve Zoë met Ångström",
        "東京タワーに行きました",
    ):
        post(users.alice, room_id, text)
    return room_id


def test_case_and_accents_are_ignored_both_ways(users, room):
    assert texts(users.alice, "cafe") == ["Café au lait at nine"]
    assert texts(users.alice, "CAFÉ") == ["Café au lait at nine"]
    assert texts(users.alice, "creme brulee") == ["CRÈME brûlée for dessert"]
    assert texts(users.alice, "NAIVE zoe angstrom") == ["naïve Zoë met Ångström"]


def test_every_word_is_required_and_only_the_last_is_a_prefix(users, room):
    assert texts(users.alice, "quick brown") == ["brown bread and a quick coffee", "the quick brown fox"]
    assert texts(users.alice, "quick fox") == ["the quick brown fox"]
    assert texts(users.alice, "quick elephant") == []
    assert texts(users.alice, "quick bro") == ["brown bread and a quick coffee", "the quick brown fox"]
    assert texts(users.alice, "qui brown") == []  # a word before the last must be whole
    assert texts(users.alice, "brûl") == ["CRÈME brûlée for dessert"]


def test_quoted_words_must_appear_together_and_in_order(users, room):
    assert texts(users.alice, '"quick brown"') == ["the quick brown fox"]
    assert texts(users.alice, '"brown quick"') == []
    assert texts(users.alice, '"brown bread" coffee') == ["brown bread and a quick coffee"]
    assert texts(users.alice, '"quick bro"') == []  # a quoted word is whole, not a prefix


def test_chinese_and_japanese_runs_are_one_word_found_by_their_start(users, room):
    # unicode61 cuts words at spaces and punctuation, and these scripts use none between words.
    assert texts(users.alice, "東京") == ["東京タワーに行きました"]
    assert texts(users.alice, "タワー") == []


@pytest.mark.parametrize(
    "q",
    [
        "NEAR(quick fox)",
        "quick AND fox",
        "quick OR nothing",
        "NOT fox",
        "quick*",
        "*",
        "(",
        ")",
        '"',
        '"quick',
        '""',
        "text:quick",
        "{text name}: quick",
        "^quick",
        "-fox",
        "+fox",
        "quick NEAR/2 fox",
        "'; DROP TABLE messages; --",
        "\\",
        "\x00quick",
    ],
)
def test_operators_are_plain_words_never_an_error(users, room, q):
    found = texts(users.alice, q)
    words = {"quick", "fox", "near", "and", "or", "not", "text", "name", "drop", "table", "messages"}
    assert all(any(w in t.lower() for w in words) for t in found), found


def test_operators_match_as_the_words_they_are(users, room):
    post(users.alice, room, "meet me NEAR the AND gate (quickly)")
    assert texts(users.alice, "NEAR(the and") == ["meet me NEAR the AND gate (quickly)"]
    assert texts(users.alice, "quick*") == [
        "meet me NEAR the AND gate (quickly)",
        "brown bread and a quick coffee",
        "the quick brown fox",
    ]


def test_a_room_id_typed_as_words_does_not_match_the_room(users, room):
    assert texts(users.alice, room) == []
    assert texts(users.alice, f"room {room}") == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "\u3000\t"},
        {"q": "x" * 201},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "limit": "many"},
        {"q": "x", "before": -1},
    ],
)
def test_bad_queries_are_422(users, params):
    check_error(users.alice.get("/api/search", query_string=params), 422, "validation_error")


def test_limits_of_q_in_code_points(users, room):
    assert search(users.alice, "é" * 200)["results"] == []
    check_error(users.alice.get("/api/search", query_string={"q": "é" * 201}), 422, "validation_error")


def test_needs_a_session(backend_client):
    check_error(backend_client.get("/api/search?q=x"), 401, "unauthenticated")


def test_only_rooms_the_caller_is_a_member_of(users, rooms_rule):
    alice, bob, carol = users.alice, users.bob, users.carol
    mine = new_room(alice, "alice-private", "private")["id"]
    public = new_room(alice, "alice-public", "public")["id"]
    dm = alice.post("/api/dms", {"username": "bob"}).get_json()["room"]["id"]
    post(alice, mine, "secret plans in private")
    post(alice, public, "secret plans in public")
    post(alice, dm, "secret plans in a DM")
    post(alice, general(alice)["id"], "secret plans in general")

    assert texts(alice, "secret plans") == [
        "secret plans in general",
        "secret plans in a DM",
        "secret plans in public",
        "secret plans in private",
    ]
    assert texts(bob, "secret plans") == ["secret plans in general", "secret plans in a DM"]
    assert texts(carol, "secret plans") == ["secret plans in general"]

    # With room: a public room may be read without joining it; a private room or someone else's DM
    # does not exist for a non-member, nor does a room that does not exist at all.
    assert texts(carol, "secret", room=public) == ["secret plans in public"]
    for hidden in (mine, dm, "r-no-such-room"):
        check_error(carol.get("/api/search", query_string={"q": "secret", "room": hidden}), 404, "not_found")
    assert texts(bob, "secret", room=dm) == ["secret plans in a DM"]
    assert texts(alice, "secret", room=mine) == ["secret plans in private"]


def test_leaving_a_room_leaves_its_messages_out(users, rooms_rule):
    alice, bob = users.alice, users.bob
    room = new_room(alice, "passing", "private", members=["bob"])["id"]
    post(alice, room, "farewell party")
    assert texts(bob, "farewell") == ["farewell party"]
    assert bob.delete(f"/api/rooms/{room}/members/bob").status_code == 204
    assert texts(bob, "farewell") == []
    check_error(bob.get("/api/search", query_string={"q": "farewell", "room": room}), 404, "not_found")


def test_pages_newest_first_with_before_exclusive(users, rooms_rule):
    room = new_room(users.alice, "paging")["id"]
    sent = [post(users.alice, room, f"page test number {i}") for i in range(25)]
    post(users.alice, room, "something else entirely")
    pages, before = [], None
    while True:
        params = {"limit": 10} if before is None else {"limit": 10, "before": before}
        body = search(users.alice, "page test", **params)
        pages.append(body["results"])
        if not body["more"]:
            break
        before = body["results"][-1]["pos"]
    assert [len(p) for p in pages] == [10, 10, 5]
    found = [message["pos"] for p in pages for message in p]
    assert found == sorted((m["pos"] for m in sent), reverse=True)
    assert pages[0][0] == sent[-1]  # the message itself, every field
    assert search(users.alice, "page test", before=sent[0]["pos"])["results"] == []
    assert len(search(users.alice, "page test")["results"]) == 20  # the default page
    assert len(search(users.alice, "page test", before=10**40, limit=100)["results"]) == 25


def test_a_message_is_found_as_soon_as_it_is_acknowledged(users, monkeypatch):
    # The index lingers after an append to take more events in one transaction; a search waiting
    # for it cuts that short. With a linger of 5 s, each search still answers at once.
    monkeypatch.setattr(searchindex, "LINGER", 5)
    room = new_room(users.alice, "instant")["id"]
    for i in range(20):
        message = post(users.alice, room, f"instant{i} hello")
        started = time.monotonic()
        assert [m["id"] for m in search(users.alice, f"instant{i}")["results"]] == [message["id"]]
        assert time.monotonic() - started < 1


def test_edited_messages_match_their_new_text_and_deleted_ones_never(users):
    room = new_room(users.alice, "changes")["id"]
    edited = post(users.alice, room, "original wording here")
    deleted = post(users.alice, room, "regrettable wording here")
    kept = post(users.alice, room, "plain wording here")
    answer = users.alice.request(
        "PATCH", f"/api/rooms/{room}/messages/{edited['seq']}", json={"text": "revised phrasing here"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert users.alice.delete(f"/api/rooms/{room}/messages/{deleted['seq']}").status_code == 204

    def seqs(q):
        return [m["seq"] for m in search(users.alice, q, room=room)["results"]]

    assert seqs("original") == []
    assert seqs("revised phrasing") == [edited["seq"]]
    assert seqs("regrettable") == []
    assert seqs("wording") == [kept["seq"]]
    assert seqs("here") == [kept["seq"], edited["seq"]]
    # Served as it is now: the new text, marked as edited.
    (served,) = search(users.alice, "revised")["results"]
    assert served["text"] == "revised phrasing here" and "edited_at" in served
