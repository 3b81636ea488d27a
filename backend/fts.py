"""What a search's ``q`` means, as an FTS5 query: words, quoted phrases, the last word as a prefix.

The caller's text is never pasted into FTS5 syntax. It is cut into quoted phrases (``"..."``) and
bare words (runs of letters and digits, the characters FTS5's ``unicode61`` tokenizer keeps), and
each one goes into the query as an FTS5 string literal, which FTS5 reads as plain tokens whatever
it holds: ``AND``, ``NEAR``, ``*``, ``(``, ``:`` or ``^`` typed by someone are words or nothing.
No I/O here.
"""

from __future__ import annotations

import re

# A quoted phrase, or a stretch of text between quotes. An unpaired quote is dropped.
_PIECE = re.compile(r'"([^"]*)"|([^"]+)')
# A word: letters and digits of any script (str.isalnum); FTS5's unicode61 splits on the rest.
_WORD = re.compile(r"[^\W_]+")

TEXT_COLUMNS = "{text name}"  # what a word may match: the message's text and its file's name


def pieces(q: str) -> list[tuple[str, bool]]:
    """The words and phrases of ``q`` in order, each as ``(text, quoted)``; empty ones left out."""
    found = []
    for match in _PIECE.finditer(q):
        phrase, rest = match.groups()
        if phrase is not None:
            if _WORD.search(phrase):
                found.append((phrase, True))
        else:
            found.extend((word, False) for word in _WORD.findall(rest))
    return found


def match_expression(q: str, rooms: list[str] | None = None) -> str | None:
    """The FTS5 MATCH expression for ``q``, limited to ``rooms`` (ids) unless None.

    Every word and phrase is required (an implicit AND); the last one, when it is a bare word, is
    also a prefix. None when ``q`` holds no word at all, or ``rooms`` is empty: nothing can match.
    """
    found = pieces(q)
    if not found or rooms == []:
        return None
    terms = [literal(text) for text, _ in found]
    if not found[-1][1]:
        terms[-1] += " *"
    expression = f"{TEXT_COLUMNS} : ({' AND '.join(terms)})"
    if rooms is not None:
        expression += f" AND room : ({' OR '.join(literal(room) for room in rooms)})"
    return expression


def literal(text: str) -> str:
    """``text`` as an FTS5 string: in double quotes, a double quote doubled."""
    return '"' + text.replace('"', '""') + '"'
