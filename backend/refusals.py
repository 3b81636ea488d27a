"""What the backend refuses, named for the domain: exceptions that know no HTTP.

The store, the accounts and the request checks raise these; the backend's one handler
(:func:`backend.create_app`) answers each with the contract's error shape, its ``code``, and the
HTTP status the contract gives that code (``common.codes.STATUS``). Nothing here imports Flask, so
the store can be used, and tested, without a web app.
"""

from __future__ import annotations


class Refused(Exception):
    """A request the domain turns down; ``message`` is a sentence for people."""

    code = "refused"  # the contract's error code, set by each kind below

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # whole seconds, for the kinds that pass with time


class NotFound(Refused):
    """No such room, or a private room or DM the caller is not in: the two look the same."""

    code = "not_found"


class NotAMember(Refused):
    """A room the caller can see but must join first (to post, to add others, to leave it)."""

    code = "not_a_member"


class Forbidden(Refused):
    """Something nobody may do: add to or leave a DM, remove someone else."""

    code = "forbidden"


class Invalid(Refused):
    """A value out of range, or naming nobody; the message names the field or the value."""

    code = "validation_error"


class InvalidJson(Refused):
    """A body that is not a JSON object."""

    code = "invalid_json"


class TooLarge(Refused):
    """A body over the limit on request size."""

    code = "payload_too_large"


class Unauthenticated(Refused):
    """No session, or one that ended."""

    code = "unauthenticated"


class WrongCredentials(Refused):
    """A username and password that do not go together."""

    code = "invalid_credentials"


class RateLimited(Refused):
    """Too much too fast; ``retry_after`` says when the caller may act again."""

    code = "rate_limited"


class NameTaken(Refused):
    """A new username that looks like a registered one (same confusable skeleton)."""

    code = "username_taken"


class WeakPassword(Refused):
    """A new account's password among the easiest to guess."""

    code = "weak_password"


class Busy(Refused):
    """The server is at its limit of concurrent password checks; ``retry_after`` is short."""

    code = "rate_limited"
