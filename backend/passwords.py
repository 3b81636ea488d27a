"""Passwords too easy to guess are refused at registration: zxcvbn, checked offline.

zxcvbn (Dropbox's estimator, here its Python port) scores a password by the guesses an attacker
needs, knowing the most common passwords, English words and names, keyboard walks, repeats and
sequences: its lists ship with the package, so nothing is looked up over the network. A score of
0 means fewer than a thousand guesses (``12345678``, ``password1``, eight spaces, ``aaaaaaaa``,
``qwertyuiop``, the username with digits after it): those are refused. Existing accounts are
never checked, so nobody is locked out by this rule.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from common.limits import PASSWORD_MAX

from .refusals import WeakPassword

# zxcvbn's own scale: 0 is "too guessable: risky password" (under 10^3 guesses).
REFUSED_SCORE = 0


def check_new(password: str, username: str) -> None:
    """Raise WeakPassword if ``password`` is among the easiest to guess (for ``username``)."""
    result = zxcvbn(password, user_inputs=[username], max_length=PASSWORD_MAX)
    if result["score"] <= REFUSED_SCORE:
        hint = result["feedback"].get("warning") or "It is among the most common passwords."
        raise WeakPassword(
            f"This password is too easy to guess. {hint.rstrip('.')}. Choose a longer or less common one."
        )
