"""When two usernames look alike: Unicode's confusable skeleton (UTS #39), from ICU.

``аlice`` (Cyrillic а), ``ａｌｉｃｅ`` (fullwidth) and ``alıce`` (dotless ı) all look like ``alice``
on screen. Comparing names by case alone lets all four register; comparing them by their
*skeleton* does not. The skeleton is computed by ICU's ``SpoofChecker`` (the reference
implementation of UTS #39, with the Unicode consortium's own ``confusables.txt``), on the name
folded by NFKC and case first, so ``ALICE`` and ``ａｌｉｃｅ`` fold to the same key as ``alice``.
No table of our own: the data is ICU's and follows its releases.
"""

from __future__ import annotations

import threading
import unicodedata

import icu

# A SpoofChecker is safe to share between threads once built; getSkeleton changes nothing in it.
# Built once, lazily, under a lock (building it loads ICU's confusables data).
_checker: icu.SpoofChecker | None = None
_lock = threading.Lock()


def skeleton(username: str) -> str:
    """The key under which two usernames that look alike are the same."""
    global _checker
    if _checker is None:
        with _lock:
            if _checker is None:
                _checker = icu.SpoofChecker()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    return _checker.getSkeleton(0, folded).casefold()
