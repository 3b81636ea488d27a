"""Users and sessions, each kept as an append-only JSON-lines file.

Passwords are stored only as werkzeug scrypt hashes (salted, deliberately slow), session tokens only
as SHA-256 digests: a copy of the data directory reveals neither. Hashing runs outside the lock so
sign-ins do not queue behind each other (scrypt releases the GIL).

A name is found ignoring case (:func:`canonical`); a *new* name is also refused when it looks like
a registered one (:func:`backend.lookalikes.skeleton`). Accounts registered before that rule keep
signing in under their own spelling, even if two of them look alike.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

from werkzeug.security import check_password_hash, generate_password_hash

from common import limits
from common.feed import token_digest

from .clock import iso_from_epoch, now_iso
from .jsonl import JsonlFile
from .lookalikes import skeleton
from .refusals import NameTaken

SESSION_SECONDS = limits.SESSION_SECONDS  # the contract's 30-day cookie; the server side lasts as long
# Compared against when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


def canonical(username: str) -> str:
    """The key that makes usernames unique ignoring case."""
    return username.casefold()


class Accounts:
    """Registered users and open sessions."""

    def __init__(self, data_dir: str):
        self._lock = threading.Lock()
        self._users_file = JsonlFile(os.path.join(data_dir, "users.jsonl"))
        self._sessions_file = JsonlFile(os.path.join(data_dir, "sessions.jsonl"))
        self._users: dict[str, dict] = {}  # canonical name -> record
        self._skeletons: dict[str, str] = {}  # skeleton -> the stored username that first had it
        self._sessions: dict[str, tuple[str, float]] = {}  # token digest -> (username, expires)
        for _, _, record in self._users_file.recover():
            if isinstance(record.get("username"), str) and isinstance(record.get("password_hash"), str):
                self._add_user(record)
        for _, _, record in self._sessions_file.recover():
            self._apply_session(record)

    def close(self) -> None:
        """Release the files."""
        self._users_file.close()
        self._sessions_file.close()

    def find(self, username: str) -> str | None:
        """The stored spelling of ``username`` (matched ignoring case), or None."""
        record = self._users.get(canonical(username))
        return record["username"] if record else None

    def usernames(self) -> list[str]:
        """Every registered username, sorted ignoring case."""
        return sorted((r["username"] for r in self._users.values()), key=canonical)

    def check_new_name(self, username: str) -> None:
        """Raise NameTaken if ``username`` looks like a registered name (not its own spelling)."""
        taken = self._skeletons.get(skeleton(username))
        if taken is not None and canonical(taken) != canonical(username):
            raise NameTaken(
                f"The name '{username}' looks too much like '{taken}', who is registered; choose another."
            )

    def sign_in(self, username: str, password: str) -> tuple[str | None, bool]:
        """Check or register; return ``(stored username or None if refused, newly registered)``.

        A new name must pass :meth:`check_new_name` (NameTaken otherwise), checked again under
        the lock against a look-alike registered meanwhile.
        """
        record = self._users.get(canonical(username))
        if record is not None:
            ok = check_password_hash(record["password_hash"], password)
            return (record["username"] if ok else None), False
        self.check_new_name(username)
        password_hash = generate_password_hash(password)
        with self._lock:
            if canonical(username) in self._users:  # registered meanwhile by a concurrent request
                check_password_hash(_DUMMY_HASH, password)
                return None, False
            self.check_new_name(username)
            record = {"username": username, "password_hash": password_hash, "created_at": now_iso()}
            self._users_file.append(record)
            self._add_user(record)
        return username, True

    def _add_user(self, record: dict) -> None:
        key = canonical(record["username"])
        if key not in self._users:
            self._users[key] = record
            self._skeletons.setdefault(skeleton(record["username"]), record["username"])

    def open_session(self, username: str) -> tuple[str, str]:
        """Create a session; return ``(token, expires_at ISO)``. Only the token's digest is stored."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + SESSION_SECONDS
        record = {"op": "open", "token_sha256": token_digest(token), "username": username, "expires": expires}
        with self._lock:
            self._sessions_file.append(record)
            self._apply_session(record)
        return token, iso_from_epoch(expires)

    def session_user(self, token: str) -> str | None:
        """The username of a valid, unexpired session token."""
        session = self.session(token)
        return session[0] if session else None

    def session(self, token: str) -> tuple[str, float] | None:
        """``(username, expires)`` of a valid, unexpired session token (``expires`` in epoch seconds)."""
        entry = self._sessions.get(token_digest(token))
        if entry is None or entry[1] < time.time():
            return None
        return entry

    def revoke(self, token: str) -> str | None:
        """End a session for good; the username it was open for, or None if it was not open."""
        record = {"op": "revoke", "token_sha256": token_digest(token)}
        with self._lock:
            entry = self._sessions.get(record["token_sha256"])
            if entry is None:
                return None
            self._sessions_file.append(record)
            self._apply_session(record)
            return entry[0]

    def _apply_session(self, record: dict) -> None:
        digest = record.get("token_sha256")
        if not isinstance(digest, str):
            return
        if record.get("op") == "open" and isinstance(record.get("username"), str):
            self._sessions[digest] = (record["username"], float(record.get("expires", 0)))
        elif record.get("op") == "revoke":
            self._sessions.pop(digest, None)
