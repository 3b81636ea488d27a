"""The screenshot set of the main screens, for a person to look at after a change to the page.

    .venv/bin/python -m tests.screenshots [OUT_DIR]      (or: make screenshots)

Starts a fresh backend and front server (a temporary data directory), fills them with a small
team's chat over the API (a busy ``general`` with a mention, a reply, a reaction, a link and
Arabic text; two public rooms both named ``design``; a private room with a long message; a DM),
then photographs, in Chromium at desktop 1280×800 and phone 390×844, in light and dark: the
sign-in form, its "No account named X. Create it?" step, a room with messages, a DM, search
results, and (phone) the drawer open with its unread badge. The PNGs go to OUT_DIR (default
``tests/artifacts/screens``, git-ignored), named ``SCREEN-WIDTH-THEME.png``.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PASSWORD, PHONE, sign_in
from tests.live_http import TIMEOUT
from tests.live_http import sign_in as http_sign_in
from tests.live_procs import Launcher

OUT = Path(__file__).resolve().parent / "artifacts" / "screens"
PEOPLE = ["alice", "bob", "carol", "zoë"]
LONG = "\n".join(f"{n}. step {n} of the release checklist, with enough words to wrap" for n in range(1, 31))


def seed(url: str) -> dict:
    """The team's chat, made over the API; returns each person's session and the rooms' ids."""
    s = {name: http_sign_in(url, name, PASSWORD) for name in PEOPLE}

    def call(who, method, path, body=None):
        answer = s[who].request(method, f"{url}{path}", json=body, timeout=TIMEOUT)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    ids = itertools.count(1)

    def say(who, room, text, **extra):
        body = {"text": text, "client_id": f"seed-{next(ids)}", **extra}
        return call(who, "POST", f"/api/rooms/{room}/messages", body)["message"]

    general = next(r["id"] for r in call("alice", "GET", "/api/rooms")["rooms"] if r["name"] == "general")
    say("carol", general, "Morning all! Standup in 10 minutes.")
    say("bob", general, "On my way ☕")
    build = say(
        "alice", general, "Thanks @bob, the **build** is green again. Notes: https://example.com/notes"
    )
    say("bob", general, "Great, I'll cut the release after lunch.", reply_to=build["seq"])
    call("carol", "PUT", f"/api/rooms/{general}/messages/{build['seq']}/reactions/%F0%9F%91%8D")
    say("zoë", general, "مرحبا بالجميع! The translations are in.")
    say("carol", general, "@alice can you review the `release-notes.md` diff?")
    public = {"name": "design", "visibility": "public"}
    design = call("alice", "POST", "/api/rooms", {**public, "members": ["bob"]})
    other = call("carol", "POST", "/api/rooms", {**public, "members": []})
    call("alice", "POST", f"/api/rooms/{other['room']['id']}/members", {"username": "alice"})
    say("bob", design["room"]["id"], LONG)
    ops = call("alice", "POST", "/api/rooms", {"name": "ops", "visibility": "private", "members": ["bob"]})
    say("bob", ops["room"]["id"], "Disk on the build box is at 91%.")
    dm = call("alice", "POST", "/api/dms", {"username": "bob"})["room"]["id"]
    say("alice", dm, "Do you have a minute for the release plan?")
    say("bob", dm, "Sure, after standup. Want me to bring the draft?")
    say("alice", dm, "Yes please 🙏")
    say("carol", general, "Release is out 🎉")  # unread for alice once she looks elsewhere
    return {"general": general, "dm": dm}


def shoot(browser, url: str, out: Path, viewport: dict, theme: str) -> list[Path]:
    """Every screen at one size and theme."""
    width = "desktop" if viewport == DESKTOP else "phone"
    shots = []

    def save(page, screen):
        path = out / f"{screen}-{width}-{theme}.png"
        page.screenshot(path=str(path))
        shots.append(path)

    context = browser.new_context(viewport=viewport, color_scheme=theme)
    try:
        page = context.new_page()
        page.goto(f"{url}/")
        expect(page.locator("#signin-username")).to_be_visible(timeout=15_000)
        save(page, "signin")
        page.fill("#signin-username", "alcie")
        page.fill("#signin-password", PASSWORD)
        page.click("#signin-submit")
        expect(page.locator("#signin-create")).to_be_visible()
        save(page, "signin-create")
        sign_in(page, "alice")
        general = page.locator("#room-list button.chat-item").filter(has_text="general")
        if width == "phone":
            page.click("#menu")
        general.click()
        expect(page.locator("#room-name")).to_have_text("general")
        expect(page.locator("#message-list .message").last).to_contain_text("Release is out", timeout=10_000)
        save(page, "room")
        if width == "phone":
            page.click("#menu")
            expect(page.locator("#sidebar")).to_have_class("sidebar open")
            page.wait_for_timeout(300)  # the drawer's slide
            save(page, "drawer")
        page.locator("#dm-list button.chat-item").filter(has_text="bob").click()
        expect(page.locator("#message-list .message").last).to_contain_text("Yes please", timeout=10_000)
        save(page, "dm")
        page.fill("#search-input", "release")
        page.press("#search-input", "Enter")
        expect(page.locator("#search-results .search-result").first).to_be_visible(timeout=10_000)
        save(page, "search")
    finally:
        context.close()
    return shots


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    launcher = Launcher()
    try:
        with tempfile.TemporaryDirectory() as data:
            backend = launcher.backend(Path(data))
            front = launcher.front(backend)
            seed(front.url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                shots = [
                    path
                    for viewport in (DESKTOP, PHONE)
                    for theme in ("light", "dark")
                    for path in shoot(browser, front.url, out, viewport, theme)
                ]
                browser.close()
    finally:
        launcher.close()
    return shots


if __name__ == "__main__":
    for shot in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(shot)
