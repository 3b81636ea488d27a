"""The single-page app in headless Chromium, telling the truth about the server: the status pill
while the backend is away (the front server says so: a ``status`` frame, or the poll's answer)
and a visible notice when an action fails.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]

BUSY = " · server busy, retrying"


def test_the_pill_says_the_server_is_busy_while_messages_wait_for_the_backend(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"), query="?transport=polling")
    expect(alice.page.locator("#status")).to_have_text("Live")
    expect(bob.page.locator("#status")).to_have_text("Polling", timeout=15_000)
    for person in (alice, bob):
        person.open_room("general")

    # The front server stays up, so both pages stay connected, but nothing can be stored.
    live.backend.stop()
    expect(alice.page.locator("#status")).to_have_text(f"Live{BUSY}", timeout=10_000)
    expect(bob.page.locator("#status")).to_have_text(f"Polling{BUSY}", timeout=10_000)
    alice.send("held while the backend is away")
    expect(alice.page.locator("#message-list .pending")).to_contain_text("held while the backend is away")
    screenshot(alice.page, "server-busy-desktop")

    live.backend.restart()
    expect(alice.page.locator("#status")).to_have_text("Live", timeout=15_000)
    expect(bob.page.locator("#status")).to_have_text("Polling", timeout=15_000)
    arrived = bob.message_texts().filter(has_text="held while the backend is away")
    expect(arrived).to_have_count(1, timeout=15_000)
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=10_000)


def test_opening_a_dm_or_leaving_a_room_during_an_outage_says_it_failed(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"))
    alice.open_room("general")
    expect(alice.page.locator("#people-list")).to_contain_text(bob.username, timeout=10_000)
    notice = alice.page.locator("#notice")
    expect(notice).to_be_hidden()

    live.backend.stop()
    alice.page.locator("#people-list button", has_text=bob.username).click()
    expect(notice).to_be_visible(timeout=10_000)
    said = notice.locator("#notice-text")
    expect(said).to_have_text(re.compile(f"^Could not open a conversation with {bob.username}: "))
    expect(alice.page.locator("#room-name")).to_have_text("general")
    screenshot(alice.page, "action-failed-desktop")
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()

    alice.page.click("#leave")  # the confirmation is accepted (browser_helpers.Person)
    expect(notice).to_be_visible(timeout=10_000)
    expect(said).to_have_text(re.compile("^Could not leave general: "))
    expect(alice.page.locator("#room-name")).to_have_text("general")
