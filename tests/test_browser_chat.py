"""The single-page app in headless Chromium against the real backend and front server: chat
basics and privacy. Two people talk in a private room that a third cannot see, an invitation and a
leave, markup shown as text, and a DM that appears live.

Each browser context is one person (own cookies and storage). The two-person chat runs twice: with
everyone on one front server, and with the two people on different front servers joined through a
real Redis. Timings: a message must show on the other side within a second; everything else waits
with explicit expectations.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import create_room, screenshot, sign_in, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


WITHIN_A_SECOND = 1_000  # ms: the promise for a message to reach the other window


@pytest.fixture(params=["one front server", "two front servers"])
def fronts(request) -> list[str]:
    """Where alice, bob and carol open the app: all on one front server, or alice and carol on one
    and bob on another, the two joined through Redis (``tests/redis_server.py``)."""
    if request.param == "one front server":
        return [request.getfixturevalue("live_module").url] * 3
    urls = request.getfixturevalue("cluster")(2).urls
    return [urls[0], urls[1], urls[0]]


def test_private_room_chat_both_ways_survives_reload_and_stays_private(fronts, people):
    alice = people(fronts[0], unique("alice"))
    bob = people(fronts[1], unique("bob"))
    carol = people(fronts[2], unique("carol"))
    room = unique("plans")

    create_room(alice, room, private=True, members=[bob.username])
    # The room alice made shows up for bob without a reload.
    expect(bob.room_button(room)).to_be_visible(timeout=5_000)
    bob.open_room(room)

    # Typing shows on the other side before the message does.
    alice.page.locator("#composer-text").press_sequentially("hi bob")
    expect(bob.page.locator("#typing")).to_have_text(f"{alice.username} is typing…", timeout=5_000)
    alice.send("hi bob, private here")
    expect(bob.message_texts().last).to_have_text("hi bob, private here", timeout=WITHIN_A_SECOND)
    # Screen readers hear it through the live region; the typing line is gone.
    expect(bob.page.locator("#announcer")).to_contain_text(f"{alice.username}: hi bob, private here")
    expect(bob.page.locator("#typing")).to_have_text("")
    bob.send("hi alice\nsecond line")
    expect(alice.message_texts().last).to_have_text("hi alice\nsecond line", timeout=WITHIN_A_SECOND)
    expect(alice.page.locator("#room-members")).to_contain_text(bob.username)

    # A reload keeps bob signed in (cookie) and shows the history.
    bob.page.reload()
    expect(bob.page.locator("#me-name")).to_have_text(bob.username, timeout=10_000)
    expect(bob.page.locator("#signin")).to_be_hidden()
    bob.open_room(room)
    expect(bob.message_texts()).to_have_text(["hi bob, private here", "hi alice\nsecond line"])

    # Carol sees neither the room in her lists nor through the API.
    room_id = alice.room_id(room)
    expect(carol.page.locator("#room-list")).not_to_contain_text(room)
    carol.page.click("#browse-rooms")
    expect(carol.page.locator("#browse-dialog")).to_be_visible()
    expect(carol.page.locator("#browse-list")).not_to_contain_text(room)
    # A public room alice creates meanwhile shows up in carol's open list.
    public = unique("open-house")
    status, body = alice.api("POST", "/api/rooms", {"name": public, "visibility": "public", "members": []})
    assert status == 201, body
    expect(carol.page.locator("#browse-list")).to_contain_text(public, timeout=5_000)
    status, body = carol.api("GET", f"/api/rooms/{room_id}/messages")
    assert status == 404, body
    assert room not in str(carol.api("GET", "/api/rooms")[1])

    # Signing out ends the session: a reload shows the sign-in form again.
    carol.page.keyboard.press("Escape")
    carol.page.click("#signout")
    expect(carol.page.locator("#signin-username")).to_be_visible()
    carol.page.reload()
    expect(carol.page.locator("#signin-username")).to_be_visible()
    assert carol.api("GET", "/api/session")[0] == 401
    # A wrong password is said inline; the right one signs her back in.
    carol.page.fill("#signin-username", carol.username)
    carol.page.fill("#signin-password", "not her password")
    carol.page.click("#signin-submit")
    expect(carol.page.locator("#signin-error")).to_have_text("Wrong password for this name.")
    sign_in(carol.page, carol.username)


def test_invite_someone_then_they_leave(live_module, people):
    alice = people(live_module.url, unique("alice"))
    carol = people(live_module.url, unique("carol"))
    room = unique("club")
    create_room(alice, room, private=False, members=[])

    alice.page.click("#invite")
    alice.page.fill("#invite-name", "nobody-by-this-name")
    alice.page.click("#invite-form button[type=submit]")
    expect(alice.page.locator("#invite-error")).not_to_be_empty()  # the server's refusal, inline
    alice.page.fill("#invite-name", carol.username)
    alice.page.click("#invite-form button[type=submit]")
    expect(alice.page.locator("#invite-dialog")).to_be_hidden()
    expect(alice.page.locator("#room-members")).to_contain_text(carol.username)

    expect(carol.room_button(room)).to_be_visible(timeout=5_000)
    carol.open_room(room)
    carol.page.click("#leave")
    expect(carol.room_button(room)).to_have_count(0)
    expect(alice.page.locator("#room-members")).not_to_contain_text(carol.username, timeout=5_000)


def test_markup_in_a_message_shows_as_text_links_and_mentions(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    attack = "<img src=x onerror=alert(1)>"

    alice.send(attack)
    expect(bob.message_texts().last).to_have_text(attack, timeout=5_000)
    alice.send(f"see https://example.com/a?b=1. @{bob.username} <script>alert(2)</script>")
    last = bob.message_texts().last
    expect(last).to_contain_text("<script>alert(2)</script>", timeout=5_000)
    link = last.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/a?b=1")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(last.locator(".mention-me")).to_have_text(f"@{bob.username}")

    assert bob.page.locator("#message-list img, #message-list script").count() == 0
    assert alice.dialogs == [] and bob.dialogs == []


def test_dm_opened_by_alice_appears_live_for_bob(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    # Bob's arrival reaches alice's people list live (presence); his name starts the DM.
    alice.page.locator("#people-list button", has_text=bob.username).click(timeout=10_000)
    expect(alice.page.locator("#room-name")).to_have_text(bob.username)

    expect(bob.room_button(alice.username)).to_be_visible(timeout=5_000)
    alice.send(f"psst @{bob.username}")
    expect(bob.room_button(alice.username).locator(".badge")).to_have_text("1", timeout=5_000)
    expect(bob.page).to_have_title(re.compile(r"^\(1\) "))
    bob.open_room(alice.username)
    expect(bob.message_texts().last).to_have_text(f"psst @{bob.username}")
    expect(bob.page.locator("#message-list .divider")).to_have_text("New messages")
    screenshot(bob.page, "dm-divider-desktop")
    expect(bob.room_button(alice.username).locator(".badge")).to_have_count(0)
