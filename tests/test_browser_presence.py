"""Presence as people see it in the app: closing a tab turns its person offline within the grace.

The docs promise a 5 s grace before someone who left shows offline; the app's own reads of
``/api/events`` (the cursor at start, the check once a minute while live) used to count as
polling and kept a closed tab online for a whole minute more. Shown on one front server, and with
the two people on different front servers joined through Redis.
"""

from __future__ import annotations

import re
import time

import pytest
from browser_helpers import unique
from playwright.sync_api import expect

from webserver.presence import OFFLINE_GRACE

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Seconds beyond the grace for the offline to show: the sweep's second, the sync between front
# servers (a second), and a busy machine's margin.
MARGIN = 4.0


def person_row(watcher, username: str):
    """The watcher's sidebar button for ``username``, whose label says online or offline."""
    return watcher.page.locator(f"#people-list button[data-user='{username}']")


def closes_tab_and_goes_offline(alice, bob) -> None:
    row = person_row(bob, alice.username)
    expect(row).to_have_attribute("aria-label", re.compile(r"\(online\)"), timeout=10_000)
    alice.page.close()
    closed = time.monotonic()
    expect(row).to_have_attribute(
        "aria-label", re.compile(r"\(offline\)"), timeout=(OFFLINE_GRACE + MARGIN) * 1000
    )
    # Not before the grace: a reload within it does not flap.
    assert time.monotonic() - closed >= OFFLINE_GRACE - 1


def test_closing_a_tab_turns_the_person_offline_within_the_grace(live_module, people):
    bob = people(live_module.url, unique("bob"))
    alice = people(live_module.url, unique("alice"))
    closes_tab_and_goes_offline(alice, bob)


def test_closing_a_tab_on_another_front_server_turns_the_person_offline_within_the_grace(cluster, people):
    chat = cluster(2)
    bob = people(chat.urls[0], unique("bob"))
    alice = people(chat.urls[1], unique("alice"))
    closes_tab_and_goes_offline(alice, bob)
