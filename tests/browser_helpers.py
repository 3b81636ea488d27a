"""Helpers for the browser tests: launching Debian's Chromium, signing people in, reading the page.

Kept apart from the ``test_browser_*.py`` modules so the tests read as what a user does and sees.
``tests/conftest.py`` registers this module as a pytest plugin, so the fixtures ``browser`` (one
headless Chromium per module) and ``people`` (a factory for signed-in people) are there by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.live_http import unique

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
CONNECTED = re.compile(r"^(Live|Polling)$")


# Scroll to one end of the list until the message with `seq` is rendered there (each step waits
# for the window to move: a page loaded from the server or rendered from memory).
SCROLL_TO = """async ([end, seq]) => {
  const scroller = document.querySelector('#messages');
  const edge = () => {
    const nodes = document.querySelectorAll('#message-list li[data-seq]');
    return Number(nodes[end === 'top' ? 0 : nodes.length - 1].dataset.seq);
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, 10));
  const t0 = performance.now();
  let steps = 0;
  while (edge() !== seq && steps < 1000 && performance.now() - t0 < 100000) {
    const before = edge();
    scroller.scrollTop = end === 'top' ? 0 : scroller.scrollHeight;
    for (let i = 0; i < 1000 && edge() === before; i += 1) await pause();
    steps += 1;
  }
  return { steps, edge: edge(), nodes: document.querySelectorAll('#message-list li[data-seq]').length };
}"""

# Click a sidebar room by its name. `nodes` and `last` (the newest seq) are what the message list
# holds right after the click, before anything could come from the network; `ms` runs from the
# click to the next animation frame after the room is drawn (the benchmark's scenario 12).
SWITCH_ROOM = """async (title) => {
  const button = [...document.querySelectorAll('#room-list button')]
    .find((node) => node.querySelector('.name').textContent === title);
  const start = performance.now();
  button.click();
  const drawn = document.querySelectorAll('#message-list li[data-seq]');
  const last = drawn.length ? Number(drawn[drawn.length - 1].dataset.seq) : null;
  void document.querySelector('#message-list').offsetHeight;
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return { ms: performance.now() - start, nodes: drawn.length, last };
}"""


class Person:
    """One person at one browser window: a context of their own (cookies, storage) and a page."""

    def __init__(self, context: BrowserContext, page: Page, base_url: str, username: str):
        self.context = context
        self.page = page
        self.base_url = base_url
        self.username = username
        self.dialogs: list[str] = []
        self.errors: list[str] = []  # uncaught exceptions in the page's scripts
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def reopen(self) -> None:
        """Close the tab (if still open) and open the app in a new one, same cookies and storage."""
        if not self.page.is_closed():
            self.page.close()
        self.page = self.context.new_page()
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{self.base_url}/")
        expect(self.page.locator("#me-name")).to_have_text(self.username, timeout=15_000)

    def _on_dialog(self, dialog) -> None:
        # Every alert or prompt the page opens is recorded (the markup test asserts there are
        # none); a confirm ("Leave this room?") is answered yes, as the user would.
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    def api(self, method: str, path: str, data=None):
        """Call the API with this person's session cookie; returns (status, JSON body or None)."""
        response = self.page.request.fetch(f"{self.base_url}{path}", method=method, data=data)
        body = response.json() if response.body() else None
        return response.status, body

    def room_button(self, title: str):
        """The sidebar button of a room or DM by the name shown."""
        return self.page.locator("#room-list button.chat-item, #dm-list button.chat-item").filter(
            has=self.page.locator(".name", has_text=re.compile(f"^{re.escape(title)}$"))
        )

    def open_room(self, title: str) -> None:
        self.room_button(title).click()
        expect(self.page.locator("#room-name")).to_have_text(title)

    def room_id(self, title: str) -> str:
        return self.room_button(title).get_attribute("data-room")

    def send(self, text: str) -> None:
        """Type a message and press Enter, as a user would."""
        box = self.page.locator("#composer-text")
        box.fill(text)
        box.press("Enter")

    def message_texts(self):
        """The locator of every message body in the open room (stored and pending)."""
        return self.page.locator("#message-list .message .text")

    def history(self, room_id: str) -> list[dict]:
        """The room's stored messages, newest 200, read from the API."""
        status, body = self.api("GET", f"/api/rooms/{room_id}/messages?limit=200")
        assert status == 200, body
        return body["messages"]

    def read_seq(self, room_id: str) -> int:
        """This person's read position in the room, as the server holds it."""
        status, body = self.api("GET", "/api/rooms")
        assert status == 200, body
        return next(room["read_seq"] for room in body["rooms"] if room["id"] == room_id)


def open_person(
    browser: Browser,
    base_url: str,
    username: str | None = None,
    *,
    query: str = "",
    viewport: dict | None = None,
    color_scheme: str = "light",
    gate: WebSocketGate | None = None,
    fake_clock: bool = False,
) -> Person:
    """A new browser context that opens the app and registers (or signs in) ``username``.

    ``gate`` puts a WebSocket-refusing proxy in front of the page; ``fake_clock`` installs
    Playwright's clock (time still flows, and ``page.clock.fast_forward`` can jump ahead).
    """
    context = browser.new_context(viewport=viewport or DESKTOP, color_scheme=color_scheme)
    if gate is not None:
        gate.install(context)
    if fake_clock:
        context.clock.install()
    page = context.new_page()
    person = Person(context, page, base_url, username or unique("user"))
    page.goto(f"{base_url}/{query}")
    sign_in(page, person.username)
    return person


class WebSocketGate:
    """A proxy in front of one browser context that refuses WebSockets while ``blocked``.

    A refused socket is closed at once, before the server could say hello, as a proxy that
    does not pass WebSockets would; an allowed one is connected through to the real server.
    """

    def __init__(self, blocked: bool = True):
        self.blocked = blocked
        self.refused = 0
        self.drop_messages = 0  # this many `message` frames from the server are lost on the way
        self.hold_sends = False  # while True, the page's `send` frames never reach the server
        self.page_side = None  # the page's end of the last socket let through

    def install(self, context: BrowserContext) -> None:
        context.route_web_socket(re.compile(r"/ws(\?.*)?$"), self._route)

    def _route(self, ws) -> None:
        if self.blocked:
            self.refused += 1
            ws.close(code=1008, reason="blocked")
            return
        server = ws.connect_to_server()
        server.on_message(lambda frame: self._to_page(ws, frame))
        ws.on_message(lambda frame: self._to_server(server, frame))
        self.page_side = ws

    def inject(self, frame: dict) -> None:
        """Hand the page a frame as if the server had sent it."""
        self.page_side.send(json.dumps(frame))

    def _to_server(self, server, frame) -> None:
        if self.hold_sends and isinstance(frame, str) and json.loads(frame).get("type") == "send":
            return
        server.send(frame)

    def _to_page(self, ws, frame) -> None:
        if self.drop_messages and isinstance(frame, str) and json.loads(frame).get("type") == "message":
            self.drop_messages -= 1
            return
        ws.send(frame)


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill the one sign-in form (confirming a new name when it asks) and wait for a connection."""
    expect(page.locator("#signin-username")).to_be_visible(timeout=10_000)
    page.fill("#signin-username", username)
    page.fill("#signin-password", password)
    page.click("#signin-submit")
    create = page.locator("#signin-create")
    page.wait_for_function(
        "() => !document.getElementById('app').hidden || !document.getElementById('signin-create').hidden",
        timeout=10_000,
    )
    if create.is_visible():
        expect(page.locator("#signin-submit")).to_have_text("Create account")
        page.click("#signin-submit")
    expect(page.locator("#me-name")).to_have_text(username, timeout=10_000)
    expect(page.locator("#status")).to_have_text(CONNECTED, timeout=15_000)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-window screenshot under tests/artifacts/ (git-ignored) for a human to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


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
    for member in members:  # the dialog lists the people the page knows as it opens
        expect(page.locator(f"#people-list button[data-user='{member}']")).to_be_attached(timeout=20_000)
    page.click("#new-room")
    page.fill("#room-name-input", name)
    page.check("input[name=visibility][value=private]" if private else "input[name=visibility][value=public]")
    for member in members:
        page.check(f"#room-member-choices input[value='{member}']")
    screenshot(page, "create-room-dialog-desktop")
    page.click("#room-form button[type=submit]")
    expect(page.locator("#room-dialog")).to_be_hidden()
    expect(page.locator("#room-name")).to_have_text(name)
