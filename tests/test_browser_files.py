"""Files in the app, two people in headless Chromium against the real processes: attach, paste and
drop; an image as a thumbnail that opens full size (Escape closes it); a file as a card with its
name, size and download link; a file attached while the server is away waits and goes out once."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from browser_helpers import screenshot, unique
from PIL import Image
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


NAME = 'plan "v2" <b>.pdf'  # quotes and markup, shown as typed


def png(width: int, height: int, color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def test_images_and_files_reach_the_other_person(live_module, people):
    alice = people(live_module.url, unique("alice"))
    bob = people(live_module.url, unique("bob"))
    for person in (alice, bob):
        person.open_room("general")

    # Attach: the button by its accessible name opens the file chooser.
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(
        {"name": "sunset.png", "mimeType": "image/png", "buffer": png(800, 600, "orange")}
    )
    thumb = bob.page.locator("#message-list .message .thumb img").last
    expect(thumb).to_have_attribute("alt", "sunset.png", timeout=5_000)
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") == 400  # the thumbnail, not the full image
    expect(alice.page.locator("#message-list .pending")).to_have_count(0)

    # Click opens the full image in the viewer; Escape closes it.
    bob.page.get_by_role("button", name="Open the image sunset.png").click()
    viewer = bob.page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(bob.page.locator("#viewer-image")).to_have_js_property("naturalWidth", 800)
    screenshot(bob.page, "image-viewer")
    bob.page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # A PDF is a card: name, size, download link.
    with bob.page.expect_file_chooser() as chooser:
        bob.page.get_by_role("button", name="Attach a file").click()
    pdf = b"%PDF-1.4\n" + b"0" * 48_000
    chooser.value.set_files({"name": NAME, "mimeType": "application/pdf", "buffer": pdf})
    card = alice.page.locator("#message-list .message .file-card").last
    expect(card.locator(".file-name")).to_have_text(NAME, timeout=5_000)
    expect(card.locator(".file-size")).to_have_text("48 KB")
    link = card.get_by_role("link", name="Download " + NAME)
    with alice.page.expect_download() as download:
        link.click()
    # Chromium replaces the characters a file system may refuse (quotes, <, >) when saving.
    assert download.value.suggested_filename == "plan _v2_ _b_.pdf"
    assert Path(download.value.path()).read_bytes() == pdf
    screenshot(alice.page, "file-card")

    # Paste an image into the message box, and drop a file on the conversation.
    pasted = base64.b64encode(png(30, 20, "purple")).decode()
    alice.page.locator("#composer-text").focus()
    alice.page.evaluate(
        """data => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'clip.png', {type: 'image/png'}));
            const init = {clipboardData: transfer, bubbles: true, cancelable: true};
            const event = new ClipboardEvent('paste', init);
            document.querySelector('#composer-text').dispatchEvent(event);
        }""",
        pasted,
    )
    expect(bob.page.locator("#message-list .thumb img").last).to_have_attribute(
        "alt", "clip.png", timeout=5_000
    )
    alice.page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(['dropped notes'], 'notes.txt', {type: 'text/plain'}));
            const target = document.querySelector('#messages');
            const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
            for (const type of ['dragover', 'drop']) target.dispatchEvent(new DragEvent(type, init));
        }"""
    )
    expect(bob.page.locator("#message-list .file-card .file-name").last).to_have_text(
        "notes.txt", timeout=5_000
    )
    names = [m["file"]["name"] for m in bob.history(bob.room_id("general")) if "file" in m]
    assert names[-4:] == ["sunset.png", NAME, "clip.png", "notes.txt"]
    assert alice.dialogs == [] and bob.dialogs == []


def test_a_file_attached_while_the_server_is_away_goes_out_once(live, people):
    alice = people(live.url, unique("alice"))
    bob = people(live.url, unique("bob"))
    for person in (alice, bob):
        person.open_room("general")
    room_id = alice.room_id("general")

    live.front.stop()
    expect(alice.page.locator("#status")).to_have_text(re.compile("^Offline"), timeout=10_000)
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files({"name": "offline.png", "mimeType": "image/png", "buffer": png(50, 50, "teal")})
    pending = alice.page.locator("#message-list .pending")
    expect(pending).to_contain_text("offline.png")
    expect(pending.locator("progress")).to_have_count(1)
    screenshot(alice.page, "upload-waiting")
    live.front.restart()
    expect(bob.page.locator("#message-list .thumb img")).to_have_attribute(
        "alt", "offline.png", timeout=20_000
    )
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=20_000)

    # Across a reload: the upload cannot get through, the page is reloaded, the bytes wait in
    # IndexedDB and go out once the way is open again.
    files_route = re.compile(r"/api/rooms/.*/files$")
    alice.page.route(files_route, lambda route: route.abort())
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files({"name": "reloaded.png", "mimeType": "image/png", "buffer": png(60, 40, "navy")})
    expect(alice.page.locator("#message-list .pending")).to_contain_text("reloaded.png")
    alice.page.reload()
    expect(alice.page.locator("#me-name")).to_have_text(alice.username, timeout=15_000)
    alice.open_room("general")
    expect(alice.page.locator("#message-list .pending")).to_contain_text("reloaded.png")
    alice.page.unroute(files_route)
    expect(bob.page.locator("#message-list .thumb img").last).to_have_attribute(
        "alt", "reloaded.png", timeout=20_000
    )
    expect(alice.page.locator("#message-list .pending")).to_have_count(0, timeout=20_000)
    files = [m for m in alice.history(room_id) if "file" in m]
    assert [m["file"]["name"] for m in files] == ["offline.png", "reloaded.png"]


def test_an_upload_can_be_cancelled_and_a_too_large_file_is_refused_at_once(live_module, people):
    alice = people(live_module.url, unique("alice"))
    alice.open_room("general")
    room_id = alice.room_id("general")
    limit = alice.api("GET", "/api/limits")[1]["upload_max_bytes"]
    # Too large: refused on the page, nothing sent; Discard removes it.
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(
        {"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": b"x" * (limit + 1)}
    )
    failed = alice.page.locator("#message-list .failed")
    expect(failed).to_contain_text("huge.bin")
    expect(failed.locator(".why")).to_contain_text("at most")
    failed.get_by_role("button", name="Discard").click()
    expect(failed).to_have_count(0)
    # Cancel while it is on its way (the upload is slowed down so there is time to press it).
    alice.page.route(
        re.compile(r"/api/rooms/.*/files$"),
        lambda route: alice.page.wait_for_timeout(3_000) or route.continue_(),
    )
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(
        {"name": "never.bin", "mimeType": "application/octet-stream", "buffer": b"n" * 1000}
    )
    pending = alice.page.locator("#message-list .pending")
    expect(pending).to_contain_text("never.bin")
    pending.get_by_role("button", name="Cancel").click()
    expect(pending).to_have_count(0)
    alice.page.wait_for_timeout(3_500)
    assert not [m for m in alice.history(room_id) if m.get("file", {}).get("name") == "never.bin"]
