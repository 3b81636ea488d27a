"""The single-page app in headless Chromium against the real backend and front server: reading,
layout and notifications. Scrolling back through history keeps the place, the layout at desktop and
phone widths, the keyboard alone with every control labelled, and notifications while hidden.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import PHONE, screenshot, unique
from playwright.sync_api import expect

from tests.live_http import make_room, post
from tests.timing import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_scrolling_up_loads_older_messages_and_keeps_the_place(live_module, people, http_user):
    poster = http_user("poster")
    room_name = unique("archive")
    room_id = make_room(poster, visibility="public", name=room_name)
    for n in range(1, 121):
        post(poster, room_id, f"old message {n:03}")

    reader = people(live_module.url, unique("reader"))
    page = reader.page
    page.click("#browse-rooms")
    page.get_by_role("button", name=f"Join {room_name}").click()
    expect(page.locator("#room-name")).to_have_text(room_name)
    expect(reader.message_texts().last).to_have_text("old message 120")
    loaded = reader.message_texts().count()
    assert loaded < 120

    scroller = page.locator("#messages")
    anchor = reader.message_texts().first.inner_text()
    scroller.evaluate("node => { node.scrollTop = 0; }")
    expect(reader.message_texts()).not_to_have_count(loaded)
    # The message that was on top is still in view: the reading position was kept.
    expect(reader.message_texts().filter(has_text=re.compile(f"^{anchor}$"))).to_be_in_viewport()
    for _ in range(5):
        if page.locator("#history-status").inner_text() == "This is the start of the conversation.":
            break
        scroller.evaluate("node => { node.scrollTop = 0; }")
        page.wait_for_timeout(300)
    expect(page.locator("#history-status")).to_have_text("This is the start of the conversation.")
    expect(reader.message_texts()).to_have_count(120)
    expect(reader.message_texts().first).to_have_text("old message 001")

    # Scrolled up, a new message does not drag the view down: a button offers to jump.
    post(poster, room_id, "brand new")
    expect(page.locator("#jump")).to_be_visible(timeout=5_000)
    screenshot(page, "history-jump-desktop")
    page.click("#jump")
    expect(reader.message_texts().last).to_be_in_viewport()
    expect(page.locator("#jump")).to_be_hidden()


def test_layout_at_desktop_and_phone_widths(live_module, people):
    alice = people(live_module.url, unique("alice"))
    alice.open_room("general")
    alice.send("Screenshots: https://example.com and a longer line of text to wrap on a narrow screen.")
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=5_000)
    screenshot(alice.page, "chat-desktop")

    phone = people(live_module.url, unique("phone"), viewport=PHONE, color_scheme="dark")
    page = phone.page
    expect(phone.message_texts().last).to_be_visible()
    # On a phone the sidebar is a drawer: closed until the menu button opens it.
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    expect(page.locator("#menu")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "chat-phone-dark")
    page.click("#menu")
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
    expect(page.locator("#menu")).to_have_attribute("aria-expanded", "true")
    screenshot(page, "drawer-phone-dark")
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()


def test_keyboard_alone_and_every_control_labelled(live_module, people):
    alice = people(live_module.url, unique("alice"))
    page = alice.page
    alice.open_room("general")
    # The skip link shows when focused and takes the keyboard to the message box.
    page.locator(".skip").focus()
    expect(page.locator(".skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    page.keyboard.press("Enter")
    expect(alice.message_texts().last).to_have_text("line one\nline two", timeout=5_000)

    # The create-room dialog by keyboard: focus starts in it and Escape closes it.
    page.locator("#new-room").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#room-name-input")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#room-dialog")).to_be_hidden()

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('button, input, textarea, select')]
            .filter((node) => node.offsetParent !== null)
            .filter((node) => !(node.getAttribute('aria-label') || node.textContent.trim()
                || (node.labels && node.labels.length)))
            .map((node) => node.outerHTML)"""
    )
    assert unlabelled == []


# Lets the test hide the tab (headless tabs are always visible) and records each Notification the
# page creates, while still creating the real one.
NOTIFICATION_SPY = """
Object.defineProperty(Document.prototype, 'hidden', {
  configurable: true, get() { return window.__hidden === true; } });
const RealNotification = window.Notification;
window.__notes = [];
class SpyNotification extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.__notes.push({ title, body: options && options.body });
  }
}
Object.defineProperty(SpyNotification, 'permission', { get: () => RealNotification.permission });
SpyNotification.requestPermission = (...args) => RealNotification.requestPermission(...args);
window.Notification = SpyNotification;
"""


def test_dm_or_mention_notifies_while_the_tab_is_hidden(live_module, browser, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    bob.context.add_init_script(NOTIFICATION_SPY)
    bob.page.reload()
    expect(bob.page.locator("#status")).to_have_text("Live", timeout=10_000)
    # The user allows notifications with a click (the browser's prompt answered yes).
    bob.context.grant_permissions(["notifications"], origin=live_module.url)
    bob.page.click("#enable-notifications")
    expect(bob.page.locator("#enable-notifications")).to_be_hidden()
    bob.open_room("general")
    bob.page.evaluate("window.__hidden = true")

    alice.open_room("general")
    alice.send("nothing for bob here")
    alice.send(f"hey @{bob.username}, look")
    expect(bob.message_texts().last).to_have_text(f"hey @{bob.username}, look", timeout=5_000)
    alice.page.locator("#people-list button", has_text=bob.username).click(timeout=10_000)
    expect(alice.page.locator("#room-name")).to_have_text(bob.username)
    alice.send("a direct word")
    expect(bob.room_button(alice.username)).to_be_visible(timeout=5_000)
    bob.page.wait_for_function("() => window.__notes.length >= 2", timeout=5_000)
    notes = bob.page.evaluate("window.__notes")
    assert [note["body"] for note in notes] == [f"hey @{bob.username}, look", "a direct word"]
    assert all(alice.username in note["title"] for note in notes)


def test_unread_counts_follow_the_server_across_browsers(live_module, people):
    """A DM received while away shows its badge in a browser that never saw the chat; reading it
    there clears the badge in the first browser at once (the read event)."""
    bob = people(live_module.url, unique("bob"))
    alice_name = unique("alice")
    at_work = people(live_module.url, alice_name)  # registers; general's past counts as read
    expect(at_work.room_button("general").locator(".badge")).to_have_count(0)
    bob.page.locator("#people-list button", has_text=alice_name).click(timeout=10_000)
    expect(bob.page.locator("#room-name")).to_have_text(alice_name)
    bob.send("while you were out")
    bob.send("and again")
    expect(at_work.room_button(bob.username).locator(".badge")).to_have_text("2", timeout=10_000)
    at_home = people(live_module.url, alice_name)  # a new browser: nothing in its storage
    badge = at_home.room_button(bob.username).locator(".badge")
    expect(badge).to_have_text("2", timeout=10_000)
    at_home.open_room(bob.username)
    expect(badge).to_have_count(0)
    expect(at_work.room_button(bob.username).locator(".badge")).to_have_count(0, timeout=5_000)


def test_what_was_read_just_before_the_tab_closes_counts_as_read(live_module, people, http_user):
    """Read positions go to the server at most 2 s after they move; one that moved just before
    the tab was closed goes as the page goes, and is not lost with it."""
    poster = http_user("poster")
    room_name = unique("lastword")
    room_id = make_room(poster, visibility="public", name=room_name)
    reader = people(live_module.url, unique("reader"))
    reader.page.click("#browse-rooms")
    reader.page.get_by_role("button", name=f"Join {room_name}").click()
    expect(reader.page.locator("#room-name")).to_have_text(room_name)
    seq = post(poster, room_id, "read this before you go")["seq"]
    expect(reader.message_texts().last).to_have_text("read this before you go", timeout=5_000)
    reader.page.goto("about:blank")  # the tab goes, well within the 2 s
    assert wait_for(lambda: reader.read_seq(room_id) == seq, 5), reader.read_seq(room_id)
