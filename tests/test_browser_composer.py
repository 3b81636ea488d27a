"""The single-page app in headless Chromium: the message box. A paste over the message limit is
kept whole (a counter, Send refused, an offer to send it as several messages), and each room
keeps its own draft, across room switches and reloads.
"""

from __future__ import annotations

import pytest
from browser_helpers import create_room, screenshot, unique
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]

MESSAGE_MAX = 4000  # GET /api/limits: message.max


def test_a_paste_over_the_limit_is_kept_whole_and_sent_as_several_messages(live_module, people):
    alice = people(live_module.url, unique("alice"))
    page = alice.page
    name = unique("long")
    create_room(alice, name, private=True, members=[])
    room_id = alice.room_id(name)
    lines = [f"line {n:04} of a long paste, " + "x" * 30 for n in range(200)]
    pasted = "\n".join(lines)
    assert len(pasted) > 2 * MESSAGE_MAX

    box = page.locator("#composer-text")
    box.focus()
    page.keyboard.insert_text(pasted)  # as a paste arrives: one insertion
    assert box.input_value() == pasted  # nothing cut
    count = page.locator("#composer-count")
    expect(count).to_have_text(
        f"{len(pasted):,} / 4,000 characters: {len(pasted) - MESSAGE_MAX:,} too many to send as one message."
    )
    expect(page.locator("#send")).to_be_disabled()
    screenshot(page, "composer-over-limit-desktop")
    box.press("Enter")  # refused: nothing goes out, the text stays
    expect(page.locator("#message-list .message")).to_have_count(0)
    assert box.input_value() == pasted

    split = page.locator("#composer-split")
    expect(split).to_have_text("Send as 3 messages")
    split.click()
    expect(box).to_have_value("")
    expect(page.locator("#composer-limit")).to_be_hidden()
    expect(alice.message_texts()).to_have_count(3)
    expect(page.locator("#message-list .pending")).to_have_count(0, timeout=10_000)
    stored = [m["text"] for m in alice.history(room_id)]
    assert len(stored) == 3 and all(len(text) <= MESSAGE_MAX for text in stored)
    assert "\n".join(stored) == pasted  # cut between lines, nothing lost or changed

    # Near the limit the counter shows; within it, Send works.
    box.fill("y" * 3700)
    expect(count).to_have_text("3,700 / 4,000 characters")
    expect(page.locator("#send")).to_be_enabled()


def test_each_room_keeps_its_own_draft_across_switches_and_reloads(live_module, people):
    alice = people(live_module.url, unique("alice"))
    page = alice.page
    other = unique("other")
    create_room(alice, other, private=True, members=[])
    alice.open_room("general")
    box = page.locator("#composer-text")
    box.fill("half a thought for general")

    # Another room: its own (empty) box; what is sent there does not take general's draft.
    alice.open_room(other)
    expect(box).to_have_value("")
    alice.send("said in the other room")
    expect(alice.message_texts()).to_have_text(["said in the other room"])
    box.fill("a draft for the other room")

    alice.open_room("general")
    expect(box).to_have_value("half a thought for general")
    page.reload()
    expect(page.locator("#room-name")).to_have_text("general", timeout=15_000)
    expect(box).to_have_value("half a thought for general")
    alice.open_room(other)
    expect(box).to_have_value("a draft for the other room")
    box.press("Enter")  # sent: the draft is gone, here and after a reload
    expect(alice.message_texts().last).to_have_text("a draft for the other room", timeout=5_000)
    page.reload()
    expect(page.locator("#room-name")).to_have_text(other, timeout=15_000)
    expect(box).to_have_value("")
    history = [m["text"] for m in alice.history(alice.room_id(other))]
    assert history == ["said in the other room", "a draft for the other room"]


# splitForSending on its own, in the app's page: where it cuts, and that every part fits.
SPLIT_CASES = """async () => {
  const { splitForSending } = await import('/js/split.js');
  const length = (text) => [...text].length;
  const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
  return {
    paragraphs: splitForSending('a'.repeat(30) + '\\n\\n' + 'b'.repeat(30) + '\\nc', 40),
    words: splitForSending(words, 40),
    emoji: splitForSending('🙂'.repeat(25), 10).map(length),
    short: splitForSending('  fits  ', 40),
    blank: splitForSending(' \\n ', 40),
  };
}"""


def test_a_long_text_is_cut_at_paragraphs_then_lines_then_words(live_module, people):
    alice = people(live_module.url, unique("alice"))
    parts = alice.page.evaluate(SPLIT_CASES)
    assert parts["paragraphs"] == ["a" * 30, "b" * 30 + "\nc"]
    words = " ".join(f"word{i}" for i in range(30))
    assert all(len(part) <= 40 for part in parts["words"])
    assert " ".join(parts["words"]) == words  # cut between words only
    assert parts["emoji"] == [10, 10, 5]  # no break at all: cut at the limit, in code points
    assert parts["short"] == ["fits"]
    assert parts["blank"] == []
