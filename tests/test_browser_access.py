"""The single-page app in headless Chromium, for people who use a screen reader, the keyboard
alone, or who need enough contrast: what is announced, where focus may go, what the
accessibility tree names, and axe-core's WCAG 2 A and AA rules (contrast among them) over the
main screens in both themes (each screen and theme saved under tests/artifacts/ as axe-*.png).
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import DESKTOP, PHONE, WebSocketGate, create_room, screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]

# axe-core (bundled with axe-playwright-python, injected into the page by Playwright, so the
# page's Content-Security-Policy does not stand in its way): the WCAG 2.0 and 2.1 A and AA rules.
AXE_OPTIONS = {
    "resultTypes": ["violations", "incomplete"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
}


def undecided_contrast(results: dict) -> list[dict]:
    """The nodes whose contrast axe could not decide, but for icon-only text (one glyph like ☰).

    axe leaves a contrast it cannot measure as "incomplete" rather than failing it (the unread
    badge at 3.9:1 was one), so an undecided contrast counts as a problem here too.
    """
    nodes = []
    for check in results["incomplete"]:
        if check["id"] == "color-contrast":
            for node in check["nodes"]:
                keys = {(item.get("data") or {}).get("messageKey") for item in node["any"]}
                if keys != {"nonBmp"}:
                    nodes.append(node)
    return nodes


def axe_problems(page, screen: str) -> list[str]:
    """Every rule axe finds broken (or a contrast it cannot decide) on the page as it is, in
    both themes, one line per node."""
    problems = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(50)  # the themes' colours apply on the next style pass
        screenshot(page, f"axe-{screen.replace(' ', '-')}-{scheme}")
        results = Axe().run(page, options=AXE_OPTIONS).response
        for node in undecided_contrast(results):
            problems.append(f"{screen} ({scheme}): contrast undecided: {node['target']}: {node['any']}")
        for violation in results["violations"]:
            for node in violation["nodes"]:
                problems.append(
                    f"{screen} ({scheme}): {violation['id']}: {node['target']}: {node['failureSummary']}"
                )
    page.emulate_media(color_scheme="light")
    return problems


def test_the_main_screens_pass_axe_in_both_themes(live_module, people):
    gate = WebSocketGate(blocked=False)
    alice = people(live_module.url, unique("alice"), gate=gate)
    bob = people(live_module.url, unique("bob"), query="?transport=polling")
    page = alice.page
    alice.open_room("general")
    bob.open_room("general")
    alice.send("my own message, with a link: https://example.com")
    bob.send(f"hello @{alice.username}, a mention of you")
    expect(alice.message_texts().last.locator(".mention-me")).to_have_count(1, timeout=5_000)
    # A DM from bob waits unread: a badge in alice's sidebar.
    bob.page.locator("#people-list button", has_text=alice.username).click()
    expect(bob.page.locator("#room-name")).to_have_text(alice.username)
    bob.send("unread, for the badge")
    expect(alice.room_button(bob.username).locator(".badge")).to_have_text("1", timeout=5_000)
    # A message of alice's that the proxy holds: it stays "Sending…".
    gate.hold_sends = True
    alice.send("held on the way: Sending…")
    expect(page.locator("#message-list .pending .state")).to_have_text("Sending…")
    expect(page.locator("#status")).to_have_text("Live")

    problems = axe_problems(page, "chat")
    problems += axe_problems(bob.page, "chat while polling")
    page.click("#browse-rooms")
    problems += axe_problems(page, "browse dialog")
    page.keyboard.press("Escape")
    page.click("#new-room")
    problems += axe_problems(page, "create-room dialog")
    page.keyboard.press("Escape")
    page.locator("#composer-text").fill("x" * 4001)
    expect(page.locator("#composer-split")).to_be_visible()
    problems += axe_problems(page, "message over the limit")
    page.locator("#composer-text").fill("")
    page.set_viewport_size(PHONE)
    page.click("#menu")
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
    problems += axe_problems(page, "phone drawer")
    page.keyboard.press("Escape")
    problems += axe_problems(page, "phone chat")
    gate.hold_sends = False
    page.set_viewport_size(DESKTOP)
    page.click("#signout")
    page.fill("#signin-username", "x")
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).not_to_be_empty()
    problems += axe_problems(page, "sign-in")
    assert problems == [], "\n".join(problems)


def test_being_invited_is_announced(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    alice.open_room("general")
    name = unique("plans")
    create_room(alice, name, private=True, members=[])
    alice.page.click("#invite")
    alice.page.fill("#invite-name", bob.username)
    alice.page.click("#invite-form button[type=submit]")
    expect(alice.page.locator("#invite-dialog")).to_be_hidden()
    expect(bob.room_button(name)).to_be_visible(timeout=5_000)
    expect(bob.page.locator("#announcer")).to_contain_text(f"You were added to {name}")


def test_browse_counts_members_in_words(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    alice.open_room("general")
    # A public room of one: "1 member", not "1 members".
    lonely = unique("lonely")
    create_room(alice, lonely, private=False, members=[])
    bob.page.click("#browse-rooms")
    row = bob.page.locator("#browse-list li").filter(has_text=lonely)
    expect(row.locator(".hint")).to_have_text("1 member")


def test_the_message_list_is_a_named_log_in_the_accessibility_tree(live_module, people):
    alice = people(live_module.url, unique("alice"))
    alice.open_room("general")
    alice.send("in the log")
    log = alice.page.get_by_role("log", name="Messages")
    expect(log).to_be_visible()
    expect(log.get_by_role("listitem").filter(has_text="in the log")).to_have_count(1, timeout=5_000)


def test_the_phone_drawer_keeps_focus_inside_until_it_closes(live_module, people):
    alice = people(live_module.url, unique("alice"), viewport=PHONE)
    page = alice.page
    inside = "() => document.querySelector('#sidebar').contains(document.activeElement)"
    page.click("#menu")
    expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
    assert page.evaluate(inside)
    stops = page.evaluate(
        "() => [...document.querySelectorAll('#sidebar button')].filter((b) => b.offsetParent).length"
    )
    for key in ("Tab", "Shift+Tab"):
        for _ in range(stops + 2):  # round the drawer once, and past its end
            page.keyboard.press(key)
            assert page.evaluate(inside), (key, page.evaluate("document.activeElement.outerHTML"))
    # The page behind the scrim is out of reach meanwhile; closed, it is back.
    expect(page.locator("main.main")).to_have_js_property("inert", True)
    page.keyboard.press("Escape")
    expect(page.locator("#menu")).to_be_focused()
    expect(page.locator("main.main")).to_have_js_property("inert", False)
    page.keyboard.press("Tab")
    assert not page.evaluate(inside)
