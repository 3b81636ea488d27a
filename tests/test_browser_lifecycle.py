"""Messages after they are sent, in headless Chromium between two people: edit, delete (with its
confirmation), reactions with counts and who reacted, replies with a quote that goes to its
parent (loading older history), formatting, the offline outbox for an edit and a reaction, the
action menu by keyboard, a refused edit that keeps its text, and the XSS suite of the one
function that renders message bodies.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from browser_helpers import create_room, screenshot, unique
from live_procs import Launcher, Live
from playwright.sync_api import expect

from tests.timing import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]

DELETED = "This message was deleted"


def message(person, text: str):
    """The message node (stored, not pending) whose body reads ``text``."""
    return person.page.locator("#message-list li.message[data-seq]").filter(
        has=person.page.locator(".text", has_text=re.compile(f"^{re.escape(text)}$"))
    )


def act(person, node, name: str) -> None:
    """Open a message's action menu with the mouse and press one of its buttons."""
    node.hover()
    node.get_by_role("button", name="Message actions").click()
    node.get_by_role("button", name=name, exact=True).click()


def shared_room(alice, bob) -> str:
    """A private room alice creates with bob, open on both sides; returns its id."""
    name = unique("after")
    create_room(alice, name, private=True, members=[bob.username])
    expect(bob.room_button(name)).to_be_visible(timeout=5_000)
    bob.open_room(name)
    return alice.room_id(name)


def post(person, room_id: str, text: str, **extra) -> dict:
    status, body = person.api(
        "POST", f"/api/rooms/{room_id}/messages", {"text": text, "client_id": unique("c"), **extra}
    )
    assert status == 201, body
    return body["message"]


def test_edit_and_delete_reach_the_other_person_at_once(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    room_id = shared_room(alice, bob)

    alice.send("helo wrold")
    expect(message(bob, "helo wrold")).to_be_visible(timeout=5_000)
    act(alice, message(alice, "helo wrold"), "Edit")
    box = alice.page.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    box.fill("hello world")
    box.press("Enter")
    edited = message(bob, "hello world")
    expect(edited).to_be_visible(timeout=5_000)
    expect(edited.locator(".edited")).to_have_text("(edited)")

    # Up-arrow in the empty composer edits one's last message; Escape gives the edit up.
    alice.page.locator("#composer-text").press("ArrowUp")
    expect(box).to_be_focused()
    expect(box).to_have_value("hello world")
    box.fill("not this")
    box.press("Escape")
    expect(box).to_have_count(0)
    expect(message(alice, "hello world")).to_be_visible()

    # Bob may not edit or delete alice's message; he may reply and react.
    node = message(bob, "hello world")
    node.hover()
    node.get_by_role("button", name="Message actions").click()
    names = node.locator(".menu button").all_inner_texts()
    assert names == ["Reply", "Add reaction"]
    bob.page.keyboard.press("Escape")

    # A deletion asks first, then reads "This message was deleted" on both sides, reactions gone.
    act(bob, message(bob, "hello world"), "Add reaction")
    bob.page.get_by_role("button", name="👍 thumbs up").click()
    expect(message(alice, "hello world").locator(".reaction")).to_have_count(1, timeout=5_000)
    act(alice, message(alice, "hello world"), "Delete")
    assert any(line.startswith("confirm: Delete this message") for line in alice.dialogs)
    for person in (alice, bob):
        gone = message(person, DELETED)
        expect(gone).to_be_visible(timeout=5_000)
        expect(gone.locator(".reaction")).to_have_count(0)
        expect(gone.locator(".more")).to_have_count(0)
    assert "helo" not in json.dumps(bob.history(room_id))

    # The creator of a group room deletes someone else's message.
    bob.send("oops, wrong room")
    act(alice, message(alice, "oops, wrong room"), "Delete")
    expect(bob.message_texts()).to_have_text([DELETED, DELETED], timeout=5_000)
    screenshot(bob.page, "lifecycle-deleted-desktop")


def test_reactions_show_counts_and_who_and_toggle_by_clicking(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"), query="?transport=polling")  # both transports
    expect(bob.page.locator("#status")).to_have_text("Polling", timeout=15_000)
    room_id = shared_room(alice, bob)
    alice.send("lunch at noon?")
    expect(message(bob, "lunch at noon?")).to_be_visible(timeout=5_000)

    act(bob, message(bob, "lunch at noon?"), "Add reaction")
    picker = bob.page.locator("#emoji-dialog")
    expect(picker).to_be_visible()
    bob.page.get_by_role("searchbox", name="Filter emoji").fill("thumbs u")
    expect(picker.locator("li:not([hidden]) button")).to_have_count(1)
    bob.page.get_by_role("searchbox", name="Filter emoji").press("Enter")
    expect(picker).to_be_hidden()

    chip = message(alice, "lunch at noon?").locator(".reaction[data-emoji='👍']")
    expect(chip.locator(".count")).to_have_text("1", timeout=5_000)
    expect(chip).to_have_attribute("title", bob.username)
    expect(chip).to_have_attribute("aria-pressed", "false")
    chip.click()  # alice adds hers
    bobs = message(bob, "lunch at noon?").locator(".reaction[data-emoji='👍']")
    expect(bobs.locator(".count")).to_have_text("2", timeout=5_000)
    expect(bobs).to_have_attribute("title", f"{bob.username}, {alice.username}")
    expect(chip).to_have_attribute("aria-pressed", "true")
    bobs.click()  # bob takes his back
    expect(chip.locator(".count")).to_have_text("1", timeout=5_000)
    expect(chip).to_have_attribute("title", alice.username)
    screenshot(alice.page, "lifecycle-reactions-desktop")

    stored = [m for m in alice.history(room_id) if m["text"] == "lunch at noon?"][0]
    assert stored["reactions"] == [{"emoji": "👍", "users": [alice.username]}]


def test_reply_shows_a_quote_that_goes_to_its_parent_loading_older_history(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    room_id = shared_room(alice, bob)
    parent = post(alice, room_id, "the very first plan")
    for n in range(60):
        post(alice, room_id, f"filler {n}")
    # Bob has read them all (else the app would open at the unread divider, near the parent).
    expect(message(bob, "filler 59")).to_be_visible(timeout=10_000)
    assert wait_for(lambda: bob.read_seq(room_id) == parent["seq"] + 60, 10)
    # Bob opens the room again: only the latest page is loaded, without the parent.
    bob.page.reload()
    expect(bob.page.locator("#me-name")).to_have_text(bob.username, timeout=10_000)
    expect(message(bob, "filler 59")).to_be_visible(timeout=10_000)
    expect(message(bob, "the very first plan")).to_have_count(0)

    # Reply with the menu: the quote shows above the composer, then on the sent message.
    act(bob, message(bob, "filler 59"), "Reply")
    expect(bob.page.locator("#reply-bar")).to_be_visible()
    expect(bob.page.locator("#reply-quote")).to_have_text(f"{alice.username}: filler 59")
    bob.send("agreed")
    expect(bob.page.locator("#reply-bar")).to_be_hidden()
    reply = message(alice, "agreed")
    expect(reply.locator(".quote")).to_have_text(f"{alice.username}: filler 59", timeout=5_000)
    assert [m for m in alice.history(room_id) if m["text"] == "agreed"][0]["reply_to"] == parent["seq"] + 60

    # A reply to the first message (not loaded): its quote is fetched; a click loads older pages.
    post(alice, room_id, "about **that** first plan", reply_to=parent["seq"])
    old = message(bob, "about that first plan")
    expect(old.locator(".quote")).to_have_text(f"{alice.username}: the very first plan", timeout=5_000)
    old.locator(".quote").click()
    first = message(bob, "the very first plan")
    expect(first).to_be_in_viewport(timeout=10_000)
    expect(first).to_be_focused()

    # The parent deleted: the quotes of its replies follow at once.
    status, _ = alice.api("DELETE", f"/api/rooms/{room_id}/messages/{parent['seq']}")
    assert status == 204
    expect(message(bob, DELETED)).to_be_visible(timeout=5_000)
    expect(message(bob, "about that first plan").locator(".quote")).to_have_text(f"{DELETED}")


def test_formatting_renders_and_markup_never_runs(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    room_id = shared_room(alice, bob)

    alice.send(f"**bold** _italic_ `code` and @{bob.username} at https://example.com/x.")
    last = bob.message_texts().last
    expect(last.locator("strong")).to_have_text("bold", timeout=5_000)
    expect(last.locator("em")).to_have_text("italic")
    expect(last.locator("code")).to_have_text("code")
    expect(last.locator(".mention-me")).to_have_text(f"@{bob.username}")
    link = last.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/x")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")

    alice.send("```\nif (a < b) { go(); }\n```\n> quoted\n\n- one\n- two\n\n1. first\n2. second")
    last = bob.message_texts().last
    expect(last.locator("pre code")).to_have_text("if (a < b) { go(); }\n", timeout=5_000)
    expect(last.locator("blockquote")).to_have_text("quoted")
    expect(last.locator("ul li")).to_have_text(["one", "two"])
    expect(last.locator("ol li")).to_have_text(["first", "second"])
    # The raw text stays the stored truth.
    assert bob.history(room_id)[-1]["text"].startswith("```\nif (a < b)")

    attacks = [
        "<script>window.__xss = 1</script>",
        "<img src=x onerror=window.__xss=2>",
        "[click me](javascript:window.__xss=3)",
        "**<svg onload=window.__xss=4>**",
    ]
    for text in attacks:
        post(alice, room_id, text)
    expect(bob.message_texts().last.locator("strong")).to_have_text(
        "<svg onload=window.__xss=4>", timeout=5_000
    )
    expect(bob.message_texts().nth(-4)).to_have_text(attacks[0])
    expect(bob.message_texts().nth(-3)).to_have_text(attacks[1])
    # The javascript: link stays text: no link to click, nothing ran.
    expect(bob.message_texts().nth(-2)).to_have_text(attacks[2])
    assert bob.message_texts().nth(-2).locator("a").count() == 0
    bob.message_texts().nth(-2).click()
    assert bob.page.evaluate("window.__xss") is None
    # The app's own icons (the reply arrow, the menu button) are SVG made by the page, not by a message.
    assert (
        bob.page.locator("#message-list script, #message-list img, #message-list svg:not(.svg-icon)").count()
        == 0
    )
    assert bob.page.locator("#message-list .text svg").count() == 0
    assert alice.dialogs == [] and bob.dialogs == []
    screenshot(bob.page, "lifecycle-formatting-desktop")


# The XSS suite, in the page: every payload through renderBody (the one function that renders a
# message body), put into the document; then nothing ran, and only allowed elements, attributes
# and link addresses are there.
XSS = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "<svg><script>window.__xss='svg'</script></svg>",
    "<iframe src=\"javascript:window.__xss='iframe'\"></iframe>",
    "<a href=\"javascript:window.__xss='a'\">x</a>",
    "<div onmouseover=\"window.__xss='div'\">hover</div>",
    "<<script>script>window.__xss='nested'<</script>/script>",
    "<scr<script>ipt>window.__xss='split'</script>",
    "<b><i onclick=\"window.__xss='malformed'\">unclosed",
    "</p><p onclick=\"window.__xss='close'\">x",
    "[js](javascript:window.__xss='md')",
    "[JS](JaVaScRiPt:window.__xss='case')",
    "[tab](java\tscript:window.__xss='tab')",
    "[entity](&#106;avascript:window.__xss='entity')",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    "![img](https://example.com/x.png)",
    "![x](javascript:window.__xss='image')",
    '[t](https://example.com "a\\" onmouseover=\\"window.__xss=1")',
    "[ref][r]\n\n[r]: javascript:window.__xss='ref'",
    "<javascript:window.__xss='autolink'>",
    "<https://example.com/\" onmouseover=\"window.__xss='auto'>",
    "<mailto:someone@example.com>",
    "<data:text/html,<script>window.__xss='dauto'</script>>",
    "**[bold link](https://example.com/ok)** and _<style>*{display:none}</style>_",
    "```html\n<script>window.__xss='fence'</script>\n```",
    "`<img src=x onerror=window.__xss='code'>`",
    "> <iframe srcdoc='<script>parent.__xss=1</script>'>",
    "- <form action=javascript:alert(1)><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss='mxss'>",
    "[a](https://example.com/ok 'title')",
    "http://example.com/<script> and https://example.com/?q=<img>",
]

XSS_SUITE = """async (payloads) => {
  const { renderBody } = await import('/js/markdown.js');
  const allowedTags = new Set(['P', 'BR', 'STRONG', 'EM', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI',
    'A', 'SPAN']);
  const allowedAttrs = { A: ['href', 'target', 'rel'], OL: ['start'], SPAN: ['class'] };
  const root = document.createElement('div');
  document.body.append(root);
  const problems = [];
  const links = [];
  for (const text of payloads) {
    const box = document.createElement('div');
    box.className = 'text';
    box.append(renderBody(text, 'bob'));
    root.append(box);
    for (const node of box.querySelectorAll('*')) {
      if (!allowedTags.has(node.tagName)) problems.push(`${text}: <${node.tagName}>`);
      for (const attr of node.attributes) {
        const allowed = allowedAttrs[node.tagName] || [];
        if (!allowed.includes(attr.name)) problems.push(`${text}: ${node.tagName}[${attr.name}]`);
      }
      if (node.tagName === 'A') {
        const href = node.getAttribute('href') || '';
        links.push(href);
        if (!/^(https?:|mailto:)/i.test(href)) problems.push(`${text}: href ${href}`);
        const safe = node.rel === 'noopener noreferrer' && node.target === '_blank';
        if (!safe) problems.push(`${text}: rel/target`);
      }
      const mention = /^mention( mention-me)?$/.test(node.className);
      if (node.tagName === 'SPAN' && !mention) problems.push(`${text}: span`);
    }
  }
  // Give anything that might have been queued a chance to run, and hover and click every link.
  for (const node of root.querySelectorAll('*')) {
    node.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
  }
  for (const link of root.querySelectorAll('a')) link.addEventListener('click', (e) => e.preventDefault());
  for (const link of root.querySelectorAll('a')) link.click();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const text = root.textContent;
  root.remove();
  return { problems, links, ran: window.__xss === undefined ? null : String(window.__xss), text };
}"""


def test_xss_suite_nothing_runs_and_nothing_disallowed_reaches_the_page(live_module, people):
    alice = people(live_module.url, unique("alice"))
    result = alice.page.evaluate(XSS_SUITE, XSS)
    assert result["problems"] == []
    assert result["ran"] is None
    # Safe links still work: markdown links, autolinks, mailto, detected addresses.
    assert "https://example.com/ok" in result["links"]
    assert "mailto:someone@example.com" in result["links"]
    assert "http://example.com/" in result["links"]
    # Markup typed as text stays readable as text.
    assert "<script>window.__xss='fence'</script>" in result["text"]
    assert "<img src=x onerror=window.__xss='code'>" in result["text"]
    assert alice.dialogs == []


def test_offline_edit_and_reaction_wait_in_the_outbox_and_go_out_once(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"))
    room_id = shared_room(alice, bob)
    alice.send("see you at 5")
    expect(message(bob, "see you at 5")).to_be_visible(timeout=5_000)

    live.front.stop()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    act(alice, message(alice, "see you at 5"), "Edit")
    box = alice.page.get_by_role("textbox", name="Edit message")
    box.fill("see you at 6")
    box.press("Enter")
    pending = message(alice, "see you at 6")
    expect(pending.locator(".state")).to_have_text("Waiting for the connection…")
    act(alice, pending, "Add reaction")
    alice.page.get_by_role("button", name="🎉 party tada").click()
    expect(pending.locator(".reaction.pending .count")).to_have_text("1")
    saved = alice.page.evaluate(f"localStorage.getItem('chat.outbox.{alice.username}')")
    kinds = sorted(entry["kind"] for entry in json.loads(saved))
    assert kinds == ["edit", "react"]

    live.front.restart()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^(Live|Polling)$"), timeout=30_000)
    theirs = message(bob, "see you at 6")
    expect(theirs.locator(".reaction[data-emoji='🎉'] .count")).to_have_text("1", timeout=15_000)
    expect(pending.locator(".state")).to_have_count(0)
    stored = [m for m in bob.history(room_id) if m["seq"] == 1][0]
    assert stored["text"] == "see you at 6" and stored["reactions"] == [
        {"emoji": "🎉", "users": [alice.username]}
    ]
    # Exactly once: one edit and one reaction, as update events.
    status, body = bob.api("GET", "/api/events?after=0")
    updates = [e for e in body["events"] if e["type"] == "update" and e["message"]["room"] == room_id]
    assert len(updates) == 2, updates
    assert json.loads(alice.page.evaluate(f"localStorage.getItem('chat.outbox.{alice.username}')")) == []


def test_the_action_menu_works_by_keyboard(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    shared_room(alice, bob)
    alice.send("keyboard only")
    expect(message(bob, "keyboard only")).to_be_visible(timeout=5_000)
    page = alice.page

    page.locator("#messages").focus()
    page.keyboard.press("Tab")
    more = message(alice, "keyboard only").get_by_role("button", name="Message actions")
    expect(more).to_be_focused()
    page.keyboard.press("Enter")
    expect(more).to_have_attribute("aria-expanded", "true")
    menu = message(alice, "keyboard only").locator(".menu button")
    expect(menu).to_have_text(["Reply", "Add reaction", "Edit", "Delete"])
    expect(menu.nth(0)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(menu.nth(1)).to_be_focused()
    page.keyboard.press("Escape")
    expect(more).to_be_focused()
    expect(more).to_have_attribute("aria-expanded", "false")

    # Add reaction by keyboard: the picker's filter, Enter, and focus comes back.
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.keyboard.type("fire")
    page.keyboard.press("Enter")
    expect(message(bob, "keyboard only").locator(".reaction[data-emoji='🔥']")).to_be_visible(timeout=5_000)
    expect(message(alice, "keyboard only").get_by_role("button", name="Message actions")).to_be_focused()

    # Edit by keyboard: End goes to Delete, Left to Edit.
    page.keyboard.press("Enter")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("typed with keys")
    page.keyboard.press("Enter")
    expect(message(bob, "typed with keys")).to_be_visible(timeout=5_000)


@pytest.fixture(scope="module")
def short_window(tmp_path_factory):
    """A backend whose messages can be edited for one second only."""
    launcher = Launcher()
    try:
        backend = launcher.backend(tmp_path_factory.mktemp("data"), "--edit-window", "1")
        yield Live(backend, launcher.front(backend))
    finally:
        launcher.close()


def test_a_refused_edit_keeps_its_text_and_says_why(short_window, people):
    alice = people(short_window.url, unique("alice"))
    alice.send("first version")
    node = message(alice, "first version")
    expect(node).to_be_visible(timeout=5_000)
    time.sleep(1.5)  # the edit window closes
    act(alice, node, "Edit")
    box = alice.page.get_by_role("textbox", name="Edit message")
    box.fill("a long careful rewrite")
    box.press("Enter")
    why = alice.page.locator("#message-list .edit .why")
    expect(why).to_contain_text("edit window has closed", timeout=5_000)
    expect(box).to_have_value("a long careful rewrite")
    # Cancel gives the edit up; the message is as the server has it.
    alice.page.locator("#message-list .edit").get_by_role("button", name="Cancel").click()
    expect(message(alice, "first version")).to_be_visible()
    expect(alice.page.locator("#message-list .edit")).to_have_count(0)
