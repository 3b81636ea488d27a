"""Sign-in, sessions and the user list; and how every other route learns who is calling."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from common.schemas import SignIn

from . import passwords, validation
from .accounts import canonical
from .clients import client_key
from .clock import iso_from_epoch
from .refusals import NotFound, RateLimited, Unauthenticated, WrongCredentials
from .signins import SignInGuard
from .store import Store

bp = Blueprint("auth", __name__)


def store() -> Store:
    """The app's store."""
    return current_app.extensions["chat.store"]


def bearer_token() -> str | None:
    """The session token of ``Authorization: Bearer TOKEN``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_user() -> str:
    """The signed-in caller's username, or 401 ``unauthenticated``."""
    token = bearer_token()
    username = store().accounts.session_user(token) if token else None
    if username is None:
        raise Unauthenticated("Sign in first.")
    return username


def limit(name: str, key: str) -> None:
    """Spend one action of limit ``name`` for ``key``, or raise RateLimited."""
    wait = current_app.extensions["chat.limits"][name].take(key)
    if wait:
        raise RateLimited(f"Too many requests; try again in {wait} s.", retry_after=wait)


@bp.post("/api/session")
def sign_in():
    """Register a new name, or sign in to an existing one.

    The limits come before the password hash (:mod:`backend.signins`): failures per name and per
    client address, then, for a new name, a look-alike of a registered one, the address's
    allowance of new accounts and a guessable password; the hash itself runs only in a free slot.
    """
    body = validation.body(request, SignIn)
    name, password = body.username, body.password
    guard: SignInGuard = current_app.extensions["chat.signins"]
    address = client_key(request)
    guard.admit(canonical(name), address)
    accounts = store().accounts
    new = accounts.find(name) is None
    if new and not body.create:
        # A lookup, no password hashed: the page asks before it registers a name (docs/api.md).
        raise NotFound(f"No account named {name}.")
    if new:
        accounts.check_new_name(name)
        guard.register(address)
    with guard.hashing():
        if new:
            passwords.check_new(password, name)
        username, created = accounts.sign_in(name, password)
    if username is None:
        guard.failed(canonical(name), address)
        raise WrongCredentials("Wrong username or password.")
    guard.succeeded(canonical(name))
    store().join_general(username)
    token, expires_at = accounts.open_session(username)
    answer = jsonify(user={"username": username}, session={"token": token, "expires_at": expires_at})
    answer.status_code = 201 if created else 200
    return answer


@bp.get("/api/session")
def current_session():
    """Who the bearer token belongs to, and (for the front server, which strips it) when it ends."""
    token = bearer_token()
    session = store().accounts.session(token) if token else None
    if session is None:
        raise Unauthenticated("Sign in first.")
    username, expires = session
    return jsonify(user={"username": username}, session={"expires_at": iso_from_epoch(expires)})


@bp.delete("/api/session")
def sign_out():
    """Revoke the bearer token, and close its WebSockets on every front server; twice is no error."""
    token = bearer_token()
    if token:
        store().sign_out(token)
    return "", 204


@bp.get("/api/users")
def users():
    """Everyone registered; the front server adds ``online``."""
    require_user()
    return jsonify(users=[{"username": name} for name in store().accounts.usernames()])
