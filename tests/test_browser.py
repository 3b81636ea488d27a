"""The single-page app in headless Chromium against the real backend and front server.

Each browser context is one person (own cookies and storage). Timings: a message must show on
the other side within a second; everything else waits with explicit expectations.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    WebSocketGate,
    open_person,
    screenshot,
    sign_in,
    unique,
)
from playwright.sync_api import expect, sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.live]

WITHIN_A_SECOND = 1_000  # ms: the promise for a message to reach the other window


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module; each test opens its own contexts."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def people(browser):
    """Factory for signed-in people; their contexts close after the test."""
    opened = []

    def make(base_url, username=None, **options):
        person = open_person(browser, base_url, username, **options)
        opened.append(person)
        return person

    yield make
    for person in opened:
        person.context.close()
    # A script error anywhere in the app fails the test that caused it.
    assert [error for person in opened for error in person.errors] == []


def create_room(person, name: str, *, private: bool, members: list[str]) -> None:
    """Use the create-room dialog."""
    page = person.page
    page.click("#new-room")
    page.fill("#room-name-input", name)
    page.check("input[name=visibility][value=private]" if private else "input[name=visibility][value=public]")
    for member in members:
        page.check(f"#room-member-choices input[value='{member}']")
    screenshot(page, "create-room-dialog-desktop")
    page.click("#room-form button[type=submit]")
    expect(page.locator("#room-dialog")).to_be_hidden()
    expect(page.locator("#room-name")).to_have_text(name)


def test_private_room_chat_both_ways_survives_reload_and_stays_private(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    carol = people(live_module.url, unique("carol"))
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


def test_chat_carries_on_by_polling_when_websockets_are_blocked(live_module, people):
    # Alice is behind a proxy that refuses WebSockets; bob asked for polling in the address.
    gate = WebSocketGate(blocked=True)
    alice = people(live_module.url, unique("alice"), gate=gate)
    bob = people(live_module.url, unique("bob"), query="?transport=polling")
    for person in (alice, bob):
        expect(person.page.locator("#status")).to_have_text("Polling", timeout=15_000)
        person.open_room("general")
    assert gate.refused == 3  # three failed tries, then polling

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


def test_scrolling_up_loads_older_messages_and_keeps_the_place(live_module, people, http_user):
    poster = http_user("poster")
    room_name = unique("archive")
    answer = poster.post(
        f"{live_module.url}/api/rooms", json={"name": room_name, "visibility": "public", "members": []}
    )
    assert answer.status_code == 201, answer.text
    room_id = answer.json()["room"]["id"]
    for n in range(1, 121):
        sent = poster.post(
            f"{live_module.url}/api/rooms/{room_id}/messages",
            json={"text": f"old message {n:03}", "client_id": f"old-{n}"},
        )
        assert sent.status_code == 201, sent.text

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
    poster.post(
        f"{live_module.url}/api/rooms/{room_id}/messages", json={"text": "brand new", "client_id": "new-1"}
    )
    expect(page.locator("#jump")).to_be_visible(timeout=5_000)
    screenshot(page, "history-jump-desktop")
    page.click("#jump")
    expect(reader.message_texts().last).to_be_in_viewport()
    expect(page.locator("#jump")).to_be_hidden()


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
