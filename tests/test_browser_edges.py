"""The single-page app in headless Chromium against the real processes: the rough edges of daily
use. Signing in never creates an account by a typo; blocked WebSockets go straight to polling, and
typing shows both ways while polling; the Offline pill's "Retry now"; a reload while the front
server is down still shows the app and its unsent messages (the service worker); same-name rooms
told apart and a left public room offering Join; the phone's menu badge; message text direction,
long messages collapsed, blank lines trimmed; room names over the limit; presence greyed out
while offline; the app's icons as SVG.
"""

from __future__ import annotations

import re
import time

import pytest
from browser_helpers import PASSWORD, PHONE, WebSocketGate, create_room, open_person, screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_an_unknown_name_is_offered_as_a_new_account_never_created_by_a_typo(live_module, browser):
    alice = open_person(browser, live_module.url, unique("alice"))
    try:
        alice.page.click("#signout")
        page = alice.page
        typo = alice.username[:-1] + "x"
        page.fill("#signin-username", typo)
        page.fill("#signin-password", PASSWORD)
        expect(page.locator("#signin-password")).to_have_attribute("autocomplete", "current-password")
        page.click("#signin-submit")
        expect(page.locator("#signin-create")).to_have_text(
            re.compile(f"^No account named {typo}\\. Create it\\?")
        )
        expect(page.locator("#signin-submit")).to_have_text("Create account")
        expect(page.locator("#signin-password")).to_have_attribute("autocomplete", "new-password")
        assert alice.api("GET", "/api/session")[0] == 401  # nothing was registered, nor signed in
        status, _ = alice.api(
            "POST", "/api/session", {"username": typo, "password": PASSWORD, "create": False}
        )
        assert status == 404

        # Fixing the name goes back to signing in; a wrong password is tied to its field.
        page.fill("#signin-username", alice.username)
        expect(page.locator("#signin-create")).to_be_hidden()
        expect(page.locator("#signin-submit")).to_have_text("Sign in")
        page.fill("#signin-password", "not the password")
        page.click("#signin-submit")
        expect(page.locator("#signin-error")).to_have_text("Wrong password for this name.")
        password = page.locator("#signin-password")
        expect(password).to_have_attribute("aria-describedby", "signin-error")
        expect(password).to_have_attribute("aria-invalid", "true")
        expect(password).to_have_accessible_description("Wrong password for this name.")
        expect(password).to_be_focused()
        page.fill("#signin-username", "no spaces")
        page.click("#signin-submit")
        expect(page.locator("#signin-username")).to_have_attribute("aria-invalid", "true")
        expect(password).not_to_have_attribute("aria-invalid", "true")
        screenshot(page, "signin-error-desktop")

        # A new name, confirmed, is created.
        fresh = unique("newcomer")
        page.fill("#signin-username", fresh)
        page.fill("#signin-password", PASSWORD)
        page.click("#signin-submit")
        expect(page.locator("#signin-submit")).to_have_text("Create account")
        page.click("#signin-submit")
        expect(page.locator("#me-name")).to_have_text(fresh, timeout=10_000)
        assert alice.errors == []
    finally:
        alice.context.close()


def test_blocked_websockets_go_straight_to_polling_and_typing_shows_both_ways(live_module, people):
    gate = WebSocketGate(blocked=True)
    alice = people(live_module.url, unique("alice"), gate=gate)
    bob = people(live_module.url, unique("bob"), query="?transport=polling")
    carol = people(live_module.url, unique("carol"))  # on a WebSocket
    # From the first refused socket to Polling, the pill never said Offline.
    alice.context.add_init_script(
        """window.seen = [];
           document.addEventListener('DOMContentLoaded', () => {
             for (const pill of document.querySelectorAll('.pill')) {
               new MutationObserver(() => window.seen.push(pill.textContent)).observe(
                 pill, {subtree: true, childList: true, characterData: true});
             }
           });"""
    )
    alice.page.reload()
    started = time.monotonic()
    expect(alice.page.locator("#status")).to_have_text("Polling", timeout=5_000)
    assert time.monotonic() - started < 4
    statuses = alice.page.evaluate("window.seen")
    assert "Polling" in statuses and not any(s.startswith("Offline") for s in statuses), statuses
    assert gate.refused >= 2  # before and after the reload, one refused try each
    room = unique("typing")
    create_room(alice, room, private=True, members=[bob.username, carol.username])
    for person in (bob, carol):
        person.open_room(room)
    alice.page.locator("#composer-text").press_sequentially("hel")
    expect(bob.page.locator("#typing")).to_have_text(f"{alice.username} is typing…", timeout=5_000)
    expect(carol.page.locator("#typing")).to_have_text(f"{alice.username} is typing…", timeout=5_000)
    carol.page.locator("#composer-text").press_sequentially("hi")
    expect(alice.page.locator("#typing")).to_have_text(f"{carol.username} is typing…", timeout=5_000)
    # Bob may still see alice's notice (shown 4 s): carol's joins it.
    expect(bob.page.locator("#typing")).to_contain_text(carol.username, timeout=5_000)


def test_a_reload_while_the_server_is_down_shows_the_app_and_its_outbox(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"))
    for person in (alice, bob):
        person.open_room("general")
    room_id = alice.room_id("general")
    alice.send("said before the outage")
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=5_000)
    page = alice.page
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)

    # Bob is online; with the server gone nobody's presence is known, so his dot greys out.
    dot = page.locator(f"#people-list button[data-user='{bob.username}'] .dot")
    expect(dot).to_have_class(re.compile(r"\bonline\b"))
    green = dot.evaluate("node => getComputedStyle(node).backgroundColor")
    live.front.stop()
    expect(page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    expect(dot).not_to_have_css("background-color", green)
    page.reload()
    # The shell came from the service worker, the rest from what the page saved.
    expect(page.locator("#me-name")).to_have_text(alice.username, timeout=10_000)
    expect(page.locator("#room-name")).to_have_text("general")
    expect(alice.message_texts().filter(has_text="said before the outage")).to_have_count(1)
    expect(page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    expect(page.locator("#app button.retry-now")).to_be_visible()
    alice.send("typed after reloading offline")
    expect(page.locator("#message-list .pending")).to_contain_text("typed after reloading offline")
    page.reload()  # and once more: the outbox is still on screen
    expect(page.locator("#message-list .pending")).to_contain_text(
        "typed after reloading offline", timeout=10_000
    )
    screenshot(page, "offline-reload-desktop")

    # Several failed tries later the next one is 10 s or more away; "Retry now" does not wait for it.
    page.wait_for_function(
        "() => Number((/· (\\d+) s/.exec(document.getElementById('status').textContent) || [0, 0])[1]) >= 10",
        timeout=60_000,
    )
    live.front.restart()
    page.locator("#app button.retry-now").click()
    expect(page.locator("#status")).to_have_text(re.compile("^(Live|Polling)$"), timeout=5_000)
    # Bob's page waits out its own backoff, as long as Alice's was: he does not wait for it either.
    bob_retry = bob.page.locator("#app button.retry-now")
    if bob_retry.is_visible():
        bob_retry.click()
    expect(bob.message_texts().filter(has_text="typed after reloading offline")).to_have_count(
        1, timeout=10_000
    )
    expect(page.locator("#message-list .pending")).to_have_count(0, timeout=10_000)
    texts = [m["text"] for m in alice.history(room_id)]
    assert texts.count("typed after reloading offline") == 1
    assert page.locator("#app button.retry-now").is_hidden()


def test_same_name_rooms_are_told_apart_and_a_public_room_left_offers_join(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    name = unique("lounge")
    create_room(alice, name, private=False, members=[])
    create_room(bob, name, private=False, members=[])
    alice.page.click("#browse-rooms")
    join = alice.page.get_by_role("button", name=f"Join {name} by {bob.username}")
    expect(alice.page.locator("#browse-list")).to_contain_text(f"by {bob.username}")
    join.click()
    expect(alice.page.locator("#browse-dialog")).to_be_hidden()
    rows = alice.page.locator("#room-list button.chat-item").filter(has_text=name)
    expect(rows).to_have_count(2)
    expect(rows.locator(".detail")).to_have_text([f"by {alice.username}", f"by {bob.username}"])
    expect(rows.nth(1)).to_have_accessible_name(f"{name} (by {bob.username})")
    expect(alice.page.locator("#room-members")).to_have_text(
        re.compile(f"^Created by {bob.username} · 2 members")
    )
    screenshot(alice.page, "same-name-rooms-desktop")

    # General is left elsewhere (another device, through the API) while it is open here.
    alice.open_room("general")
    general = alice.room_id("general")
    assert alice.api("DELETE", f"/api/rooms/{general}/members/{alice.username}")[0] == 204
    page = alice.page
    expect(page.locator("#join-bar")).to_be_visible(timeout=5_000)
    expect(page.locator("#join-text")).to_have_text("You are not in #general. Join to write here.")
    expect(page.locator("#composer")).to_be_hidden()
    page.get_by_role("button", name="Join general").click()
    expect(page.locator("#join-bar")).to_be_hidden()
    expect(page.locator("#composer-text")).to_be_enabled()
    alice.send("back in general")
    expect(bob.message_texts().filter(has_text="back in general")).to_have_count(0)  # bob is elsewhere
    bob.open_room("general")
    expect(bob.message_texts().filter(has_text="back in general")).to_have_count(1)


def test_the_phone_menu_button_shows_news_elsewhere(live_module, people):
    alice = people(live_module.url, unique("alice"), viewport=PHONE)
    bob = people(live_module.url, unique("bob"))
    page = alice.page
    menu = page.locator("#menu")
    expect(menu.locator("svg")).to_be_visible()
    expect(page.locator("#menu-badge")).to_be_hidden()
    bob.page.locator(f"#people-list button[data-user='{alice.username}']").click()
    expect(bob.page.locator("#room-name")).to_have_text(alice.username)
    bob.send("psst, over here")
    expect(page.locator("#menu-badge")).to_have_text("1", timeout=5_000)
    expect(menu).to_have_accessible_name("Open the chat list, 1 unread elsewhere")
    menu.click()
    screenshot(page, "menu-badge-drawer-phone")
    alice.room_button(bob.username).click()
    expect(page.locator("#menu-badge")).to_be_hidden()
    expect(menu).to_have_accessible_name("Open the chat list")


def test_message_text_direction_long_messages_and_blank_lines(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    room = unique("texts")
    create_room(alice, room, private=True, members=[bob.username])
    bob.open_room(room)
    room_id = alice.room_id(room)

    alice.send("مرحبا بالعالم، كيف حالكم؟")
    arabic = bob.message_texts().last
    expect(arabic).to_have_text("مرحبا بالعالم، كيف حالكم؟", timeout=5_000)
    expect(arabic).to_have_attribute("dir", "auto")
    assert arabic.evaluate("node => node.matches(':dir(rtl)')")
    alice.send("plain English stays left to right")
    english = bob.message_texts().last
    expect(english).to_have_text("plain English stays left to right", timeout=5_000)
    assert english.evaluate("node => node.matches(':dir(ltr)')")

    lines = "\n".join(f"line {n} of a long paste" for n in range(1, 41))
    alice.send(lines)
    long = bob.message_texts().last
    expect(long).to_contain_text("line 40 of a long paste", timeout=5_000)
    expect(long).to_have_class(re.compile(r"\bcollapsed\b"))
    height = long.evaluate("node => node.getBoundingClientRect().height")
    more = bob.page.locator("#message-list .message").last.get_by_role("button", name="Show more")
    expect(more).to_have_attribute("aria-expanded", "false")
    more.click()
    expect(long).not_to_have_class(re.compile(r"\bcollapsed\b"))
    assert long.evaluate("node => node.getBoundingClientRect().height") > height * 1.5
    less = bob.page.locator("#message-list .message").last.get_by_role("button", name="Show less")
    expect(less).to_have_attribute("aria-expanded", "true")
    screenshot(bob.page, "long-message-desktop")

    # Blank lines around a message are not sent; the first line's indent and inner ones stay.
    box = alice.page.locator("#composer-text")
    box.fill("\n \n  indented start\n\nafter a gap\n\n \n")
    box.press("Enter")
    expect(bob.message_texts().last).to_contain_text("after a gap", timeout=5_000)
    assert alice.history(room_id)[-1]["text"] == "  indented start\n\nafter a gap"


def test_a_room_name_over_the_limit_is_said_not_cut(live_module, people):
    alice = people(live_module.url, unique("alice"))
    page = alice.page
    page.click("#new-room")
    name = "a" * 60 + "ö" * 10  # 70 characters
    page.locator("#room-name-input").fill(name)
    expect(page.locator("#room-name-input")).to_have_value(name)  # nothing cut
    expect(page.locator("#room-error")).to_have_text("A room name is at most 64 characters; this one has 70.")
    expect(page.locator("#room-name-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#room-name-input")).to_have_accessible_description(re.compile("at most 64"))
    page.click("#room-form button[type=submit]")
    expect(page.locator("#room-dialog")).to_be_visible()
    assert not any(r["name"] == name for r in alice.api("GET", "/api/rooms")[1]["rooms"])
    page.locator("#room-name-input").fill(name[:64])
    expect(page.locator("#room-error")).to_have_text("")
    page.click("#room-form button[type=submit]")
    expect(page.locator("#room-name")).to_have_text(name[:64])


def test_the_apps_own_icons_are_svg_not_emoji(live_module, people):
    alice = people(live_module.url, unique("alice"))
    page = alice.page
    create_room(alice, unique("vault"), private=True, members=[])
    for selector in ("#new-room", "#reply-cancel", "#jump", "#room-list .prefix"):
        assert page.locator(selector).first.locator("svg").count() == 1, selector
    # No symbol or emoji characters left in the page's own chrome.
    chrome = page.evaluate(
        """() => [...document.querySelectorAll('#menu, #new-room, #reply-cancel, #jump, .prefix')]
             .map((node) => node.textContent).join('')"""
    )
    assert re.sub(r"[A-Za-z ]", "", chrome) == ""
    alice.send("a message with a menu")
    # A pending message has no menu yet: its actions need the stored message's seq.
    message = page.locator("#message-list .message").last
    expect(message).not_to_have_class(re.compile(r"\bpending\b"))
    message.hover()
    expect(message.locator("button.more svg")).to_have_count(1)
