"""Search in the app, in headless Chromium against the real processes: the box in the header, its
keys, results grouped by room with the words marked (as text, never markup), paging, the empty and
error states, and opening a result far back in a room's history at that very message.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def post(session, url: str, room_id: str, text: str, client_id: str) -> None:
    answer = session.post(f"{url}/api/rooms/{room_id}/messages", json={"text": text, "client_id": client_id})
    assert answer.status_code == 201, answer.text


def test_search_finds_marks_pages_and_opens_the_message(live_module, people, http_user):
    url = live_module.url
    reader = people(url, unique("reader"))
    poster = http_user("poster")
    room_name = unique("kitchen")
    answer = poster.post(
        f"{url}/api/rooms", json={"name": room_name, "visibility": "private", "members": [reader.username]}
    )
    assert answer.status_code == 201, answer.text
    room_id = answer.json()["room"]["id"]
    post(poster, url, room_id, "The Café <b>menu</b> is ready", "menu")
    for n in range(1, 150):
        post(poster, url, room_id, f"kitchen note {n:03}", f"n{n}")
    dm = poster.post(f"{url}/api/dms", json={"username": reader.username}).json()["room"]["id"]
    post(poster, url, dm, "the cafe menu, again, in private", "dm")

    page = reader.page
    box = page.get_by_role("searchbox", name="Search messages")
    page.locator("#messages").focus()
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()
    box.fill("CAFE men")
    results = page.locator("#search-results .search-result")
    expect(results).to_have_count(2)
    # Grouped by room, newest first: the DM (named by the other person), then the room.
    expect(page.locator("#search-results .search-room")).to_have_text([poster.username, room_name])
    first, second = results.nth(0), results.nth(1)
    expect(first.locator(".text")).to_have_text("the cafe menu, again, in private")
    expect(second.locator(".text")).to_have_text("The Café <b>menu</b> is ready")
    expect(second.locator(".sender")).to_have_text(poster.username)
    expect(second.locator("mark")).to_have_text(["Café", "menu"])
    assert second.locator("b").count() == 0  # the text's markup is shown as typed
    screenshot(page, "search-results-desktop")

    # The message is 150 back: the room opens there, the message highlighted and in view.
    second.click()
    expect(page.locator("#room-name")).to_have_text(room_name)
    found = page.locator("#message-list li.message.found")
    expect(found).to_have_count(1)
    expect(found.locator(".text")).to_have_text("The Café <b>menu</b> is ready")
    expect(found).to_be_in_viewport()
    expect(page.locator("#search-panel")).to_be_hidden()
    screenshot(page, "search-opened-result-desktop")
    # The rest of the room is still there to read: scrolling down loads it up to the newest.
    scroller = page.locator("#messages")
    for _ in range(20):
        if reader.message_texts().filter(has_text="kitchen note 149").count():
            break
        scroller.evaluate("node => { node.scrollTop = node.scrollHeight; }")
        page.wait_for_timeout(200)
    expect(reader.message_texts().filter(has_text="kitchen note 149")).to_have_count(1)

    # "/" focuses the box from anywhere but a text field; many matches come a page at a time.
    page.locator("#messages").focus()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    box.fill("kitchen note")
    box.press("Enter")
    expect(results).to_have_count(20)
    expect(results.first.locator(".text")).to_have_text("kitchen note 149")
    page.get_by_role("button", name="More results").click()
    expect(results).to_have_count(40)
    expect(results.nth(39).locator(".text")).to_have_text("kitchen note 110")

    # Nothing found, then the server failing: each said in the panel.
    box.fill("zebra quagga")
    box.press("Enter")
    expect(page.locator("#search-status")).to_have_text("No messages match “zebra quagga”.")
    expect(results).to_have_count(0)
    page.route(re.compile(r".*/api/search\?.*"), lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error": {"code": "backend_unavailable", "message": "The backend is unavailable."}}',
    ))  # fmt: skip
    box.fill("kitchen")
    box.press("Enter")
    expect(page.locator("#search-status")).to_have_text(re.compile("^Search did not work"))
    box.press("Escape")
    expect(page.locator("#search-panel")).to_be_hidden()
