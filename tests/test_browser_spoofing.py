"""In the browser: a link cannot be made to read backwards, user text is isolated, and the sign-in
form says why the server refused a new account (a look-alike name, a guessable password)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.live_http import unique

pytestmark = [pytest.mark.live, pytest.mark.browser]

SPOOF = "https://evil.example/\u202egnp.exe"

# Where the browser draws the "g" of "gnp" and the "x" of "exe" in the link's text: with an
# override character in force, "gnp.exe" is drawn right to left and reads "exe.png".
DRAWN = """(link) => {
  const node = [...link.childNodes].find((child) => child.nodeType === Node.TEXT_NODE);
  const x = (index) => {
    const range = document.createRange();
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    return range.getBoundingClientRect().left;
  };
  return { g: x(node.data.indexOf('gnp')), x: x(node.data.indexOf('exe') + 1) };
}"""


def test_a_link_with_a_right_to_left_override_does_not_read_backwards(live_module, people):
    sender = people(live_module.url, unique("sender"))
    reader = people(live_module.url, unique("reader"))
    for person in (sender, reader):
        person.open_room("general")
    sender.send(f"look {SPOOF} now")
    sender.send(f"[{SPOOF}](https://evil.example/a)")

    texts = reader.message_texts()
    expect(texts.last.locator("a")).to_have_count(1, timeout=5_000)
    for link in (texts.nth(-2).locator("a"), texts.last.locator("a")):
        expect(link).to_have_text("https://evil.example/gnp.exe")
        drawn = link.evaluate(DRAWN)
        assert drawn["g"] < drawn["x"], drawn  # "gnp.exe", left to right
    # The plain address still leads where it was written.
    assert texts.nth(-2).locator("a").get_attribute("href") == SPOOF

    # Names and bodies are bidirectional isolates: nothing typed in one reorders the page around it.
    last = reader.page.locator("#messages li.message").last
    for part in (last.locator(".sender"), last.locator(".text")):
        assert part.evaluate("(node) => getComputedStyle(node).unicodeBidi") == "isolate"
    assert last.locator(".text").get_attribute("dir") == "auto"


def test_the_sign_in_form_says_why_a_new_account_was_refused(live_module, people):
    alice = people(live_module.url, unique("alice").replace("0", "x").replace("1", "y"))
    page = people(live_module.url, unique("other")).page
    page.click("#signout")
    page.fill("#signin-username", unique("newcomer"))
    page.fill("#signin-password", "12345678")
    page.click("#signin-submit")
    # A name nobody has: the form asks before it creates the account, and then says why not.
    expect(page.locator("#signin-submit")).to_have_text("Create account")
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).to_have_text(re.compile("^This password is too easy to guess"))
    expect(page.locator("#signin-password")).to_have_attribute("aria-invalid", "true")

    lookalike = "\u0430" + alice.username[1:]  # a Cyrillic а in front
    page.fill("#signin-username", lookalike)
    page.fill("#signin-password", "a fine long passphrase")
    page.click("#signin-submit")
    expect(page.locator("#signin-submit")).to_have_text("Create account")
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).to_have_text(re.compile(f"looks too much like '{alice.username}'"))
    expect(page.locator("#signin-username")).to_have_attribute("aria-invalid", "true")
