"""Signing out in the browser: a sign-out the server did not carry out is never shown as done.

With the backend down, ``DELETE /api/session`` is 503 and the session (and the cookie) live on;
showing the sign-in form then would let the next person at this browser reload into the session.
"""

from __future__ import annotations

import pytest
from browser_helpers import screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_failed_sign_out_says_so_keeps_the_page_signed_in_and_can_be_retried(live, people):
    alice = people(live.url, unique("alice"))
    page = alice.page
    problem = page.locator("#signout-problem")
    expect(problem).to_be_hidden()
    live.backend.stop()
    page.click("#signout")
    expect(problem).to_be_visible(timeout=10_000)
    expect(problem).to_contain_text("Signing out did not work")
    expect(problem).to_contain_text("still signed in")
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("#me-name")).to_have_text(alice.username)
    screenshot(page, "sign-out-failed-desktop")
    live.backend.restart()
    page.get_by_role("button", name="Try signing out again").click()
    expect(page.locator("#signin-username")).to_be_visible(timeout=10_000)
    page.reload()  # the session is gone on the server: a reload does not sign anyone in
    expect(page.locator("#signin-username")).to_be_visible(timeout=10_000)
    expect(page.locator("#me-name")).not_to_have_text(alice.username)
    page.fill("#signin-username", alice.username)
    page.fill("#signin-password", "correct horse battery")
    page.click("#signin-submit")
    expect(page.locator("#me-name")).to_have_text(alice.username, timeout=10_000)
    expect(problem).to_be_hidden()  # a new session starts with no old sign-out problem
