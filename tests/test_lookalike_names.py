"""New accounts: names that look like a registered one, and passwords among the easiest to guess.

Through the real processes: ``аlice`` (Cyrillic а), ``ａｌｉｃｅ`` (fullwidth) and ``alıce`` (dotless
ı) are refused beside ``alice`` with ``409 username_taken``; ``12345678``, eight spaces and
``aaaaaaaa`` with ``422 weak_password``. Accounts already on disk sign in as before, look-alikes
and weak passwords included.
"""

from __future__ import annotations

import json
import uuid

import pytest
from werkzeug.security import generate_password_hash

from tests.live_http import sign_in

pytestmark = pytest.mark.live


def refusal(url: str, username: str, password: str) -> tuple[int, str, str]:
    answer = sign_in(url, username, password, status=None).answer
    if answer.status_code < 400:
        return answer.status_code, "", ""
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"]


def test_names_that_look_like_a_registered_one_are_refused(live):
    tail = uuid.uuid4().hex[:6].replace("0", "x").replace("1", "y")  # no digit that looks like a letter
    alice = sign_in(live.url, f"alice{tail}", status=(201,))
    for lookalike in (
        f"\u0430lice{tail}",
        f"ａｌｉｃｅ{tail}",
        f"al\u0131ce{tail}",
    ):
        status, code, message = refusal(live.url, lookalike, "a fine long passphrase")
        assert (status, code) == (409, "username_taken"), (lookalike, message)
        assert alice.username in message
    # The same name in another case is the same account, as before.
    assert sign_in(live.url, alice.username.upper(), alice.password).status == 200
    # A name that merely resembles is fine.
    assert sign_in(live.url, f"alicia{tail}", "a fine long passphrase").status == 201


def test_passwords_among_the_easiest_to_guess_are_refused(live):
    for password in (" " * 8, "12345678", "aaaaaaaa", "password1"):
        status, code, message = refusal(live.url, f"weak-{uuid.uuid4().hex[:8]}", password)
        assert (status, code) == (422, "weak_password"), (password, message)
        assert "too easy to guess" in message
    assert sign_in(live.url, None, "correct horse battery").status == 201


def test_accounts_already_on_disk_still_sign_in(data_dir, start_backend, start_front):
    """Look-alike names and weak passwords registered before the rules keep working."""
    records = [
        {
            "username": name,
            "password_hash": generate_password_hash(password),
            "created_at": "2026-01-01T00:00:00.000Z",
        }
        for name, password in (("alice", "12345678"), ("\u0430lice", "aaaaaaaa"))
    ]
    (data_dir / "users.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    url = start_front(start_backend()).url
    assert sign_in(url, "alice", "12345678").answer.json()["user"]["username"] == "alice"
    assert sign_in(url, "\u0430lice", "aaaaaaaa").answer.json()["user"]["username"] == "\u0430lice"
    assert refusal(url, "ａｌｉｃｅ", "a fine long passphrase")[:2] == (409, "username_taken")
