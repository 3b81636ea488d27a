"""The single-page app in headless Chromium against the real backend and front server:
connection and delivery. Polling when WebSockets are blocked and the upgrade back, messages typed
during an outage delivered exactly once (across a reload, a closed tab, two tabs), a refused
message with retry and discard, a start during an outage, and a message lost on the socket.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import WebSocketGate, create_room, screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_chat_carries_on_by_polling_when_websockets_are_blocked(live_module, people):
    # Alice is behind a proxy that refuses WebSockets; bob asked for polling in the address.
    gate = WebSocketGate(blocked=True)
    alice = people(live_module.url, unique("alice"), gate=gate)
    bob = people(live_module.url, unique("bob"), query="?transport=polling")
    for person in (alice, bob):
        expect(person.page.locator("#status")).to_have_text("Polling", timeout=15_000)
        person.open_room("general")
    assert gate.refused == 1  # one refused try, then straight to polling

    alice.send("can you hear me without websockets?")
    expect(bob.message_texts().last).to_have_text("can you hear me without websockets?", timeout=5_000)
    bob.send("loud and clear, by polling")
    expect(alice.message_texts().last).to_have_text("loud and clear, by polling", timeout=5_000)
    # Sent messages turn from pending to stored.
    expect(alice.page.locator("#message-list .pending")).to_have_count(0)
    screenshot(alice.page, "polling-desktop")


def test_polling_upgrades_to_websocket_within_a_minute_and_live_checks_every_minute(live_module, people):
    gate = WebSocketGate(blocked=True)
    alice = people(live_module.url, unique("alice"), gate=gate, fake_clock=True)
    page = alice.page
    expect(page.locator("#status")).to_have_text("Polling", timeout=15_000)

    # The proxy lets WebSockets through again: within a minute the page is Live.
    gate.blocked = False
    page.clock.fast_forward("01:01")
    expect(page.locator("#status")).to_have_text("Live", timeout=10_000)
    alice.open_room("general")

    # While Live, a light HTTP check every minute catches anything the socket missed.
    with page.expect_request(lambda request: "/api/events?after=" in request.url, timeout=10_000) as check:
        page.clock.fast_forward("01:01")
    assert "wait=" not in check.value.url or "wait=0" in check.value.url
    alice.send("still here after the check")
    expect(page.locator("#message-list .pending")).to_have_count(0, timeout=5_000)
    expect(alice.message_texts().last).to_have_text("still here after the check")


def test_message_typed_while_server_unreachable_is_delivered_exactly_once(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"))
    for person in (alice, bob):
        person.open_room("general")
    room_id = alice.room_id("general")

    live.front.stop()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    alice.send("typed during the outage")
    expect(alice.page.locator("#message-list .pending")).to_contain_text("typed during the outage")
    screenshot(alice.page, "offline-pending-desktop")
    live.front.restart()

    expect(bob.message_texts().filter(has_text="typed during the outage")).to_have_count(1, timeout=20_000)
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=20_000)

    # Across a reload: typed while down, the page reloaded as soon as the server is back.
    live.front.stop()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    alice.send("typed, then the page reloaded")
    expect(alice.page.locator("#message-list .pending")).to_contain_text("typed, then the page reloaded")
    live.front.restart()
    alice.page.reload()
    alice.open_room("general")
    expect(bob.message_texts().filter(has_text="typed, then the page reloaded")).to_have_count(
        1, timeout=20_000
    )
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=20_000)

    # Stricter: the tab is closed while the server is down, so only the saved outbox can
    # bring the message back when the app is opened again.
    live.front.stop()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    alice.send("typed, then the tab was closed")
    expect(alice.page.locator("#message-list .pending")).to_contain_text("typed, then the tab was closed")
    alice.page.close()
    live.front.restart()
    alice.reopen()
    closed = bob.message_texts().filter(has_text="typed, then the tab was closed")
    expect(closed).to_have_count(1, timeout=20_000)

    texts = [m["text"] for m in alice.history(room_id)]
    assert texts.count("typed during the outage") == 1
    assert texts.count("typed, then the page reloaded") == 1
    assert texts.count("typed, then the tab was closed") == 1
    # Another reload resends nothing: the outbox is empty.
    alice.page.reload()
    alice.open_room("general")
    expect(alice.message_texts().filter(has_text="typed, then the page reloaded")).to_have_count(1)
    texts = [m["text"] for m in alice.history(room_id)]
    assert texts.count("typed, then the page reloaded") == 1


def test_two_tabs_of_one_person_never_erase_each_others_unsent_messages(live, people):
    alice = people(live.url, unique("alice"))
    alice.open_room("general")
    room_id = alice.room_id("general")
    first_tab = alice.page
    second_tab = alice.context.new_page()
    second_tab.goto(f"{live.url}/")
    expect(second_tab.locator("#status")).to_have_text("Live", timeout=10_000)

    live.front.stop()
    for tab, text in ((first_tab, "from the first tab"), (second_tab, "from the second tab")):
        expect(tab.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
        tab.locator("#composer-text").fill(text)
        tab.locator("#composer-text").press("Enter")
        expect(tab.locator("#message-list .pending")).to_contain_text(text)
    first_tab.close()  # its page is gone; only the saved outbox still holds its message
    alice.page = second_tab
    live.front.restart()
    second_tab.reload()
    stored = second_tab.locator("#message-list .message:not(.pending):not(.failed) .text")
    for text in ("from the first tab", "from the second tab"):
        expect(stored.filter(has_text=text)).to_have_count(1, timeout=20_000)
    texts = [m["text"] for m in alice.history(room_id)]
    assert texts.count("from the first tab") == 1
    assert texts.count("from the second tab") == 1


def test_refused_message_shows_why_with_retry_and_discard(live_module, people):
    alice = people(live_module.url, unique("alice"))
    alice.open_room("general")
    room_id = alice.room_id("general")
    # A message the server will refuse (over 4,000 characters) waiting in the saved outbox,
    # as a page of an older version could have left it.
    alice.page.evaluate(
        """([key, room]) => localStorage.setItem(key, JSON.stringify([
            {client_id: 'c-too-long', room, text: 'x'.repeat(4001), ts: new Date().toISOString()}]))""",
        [f"chat.outbox.{alice.username}", room_id],
    )
    alice.page.reload()
    alice.open_room("general")
    refused = alice.page.locator("#message-list .failed")
    expect(refused).to_be_visible(timeout=10_000)
    expect(refused.locator(".why")).not_to_be_empty()
    screenshot(alice.page, "refused-message-desktop")
    refused.get_by_role("button", name="Retry").click()
    expect(refused).to_be_visible(timeout=10_000)
    refused.get_by_role("button", name="Discard").click()
    expect(refused).to_have_count(0)
    assert alice.page.evaluate(f"localStorage.getItem('chat.outbox.{alice.username}')") == "[]"
    assert all(len(m["text"]) <= 4000 for m in alice.history(room_id))


def test_start_up_during_an_outage_shows_offline_and_heals(live, people):
    alice = people(live.url, unique("alice"))
    live.backend.stop()
    alice.page.reload()
    expect(alice.page.locator("#loading-status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    live.backend.restart()
    expect(alice.page.locator("#me-name")).to_have_text(alice.username, timeout=20_000)
    expect(alice.page.locator("#status")).to_have_text("Live", timeout=20_000)


def test_a_message_lost_on_the_socket_is_fetched_when_seq_jumps(live_module, people):
    gate = WebSocketGate(blocked=False)
    alice = people(live_module.url, unique("alice"), gate=gate)
    bob = people(live_module.url, unique("bob"))
    expect(alice.page.locator("#status")).to_have_text("Live")
    for person in (alice, bob):
        person.open_room("general")
    room = unique("gap")
    create_room(bob, room, private=True, members=[alice.username])
    alice.open_room(room)

    gate.drop_messages = 1  # the next message frame never reaches alice's page
    bob.send("first, lost on the way")
    bob.send("second, shows the jump")
    expect(alice.message_texts()).to_have_text(
        ["first, lost on the way", "second, shows the jump"], timeout=5_000
    )
