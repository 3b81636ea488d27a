"""File bodies and images without a server: the body store, compaction's sweep, images, and the
backend's rules that the live tests cannot reach (a deleted message, the upload rate limit)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend import images
from backend.files import Bodies, remove_unreferenced
from backend.refusals import TooLarge


def _receive(bodies: Bodies, data: bytes, limit: int = 1 << 20) -> str:
    incoming = bodies.incoming(limit)
    for start in range(0, len(data), 1000):
        incoming.write(data[start : start + 1000])
    return bodies.commit(incoming)


def test_bodies_are_content_addressed_and_shared(tmp_path):
    bodies = Bodies(tmp_path)
    first = _receive(bodies, b"hello" * 1000)
    second = _receive(bodies, b"hello" * 1000)
    assert first == second
    path = bodies.path(first)
    assert path == tmp_path / "files" / first[:2] / first[2:4] / first
    assert path.read_bytes() == b"hello" * 1000
    assert list(bodies.digests()) == [first]
    assert list(bodies.tmp.iterdir()) == []


def test_crossing_the_limit_raises_at_once_and_leaves_nothing(tmp_path):
    bodies = Bodies(tmp_path)
    incoming = bodies.incoming(10)
    incoming.write(b"0123456789")
    with pytest.raises(TooLarge):
        incoming.write(b"x")
    assert list(bodies.tmp.iterdir()) == [] and list(bodies.digests()) == []


def test_a_leftover_upload_is_removed_at_start(tmp_path):
    bodies = Bodies(tmp_path)
    incoming = bodies.incoming(100)
    incoming.write(b"half")  # then a crash: never committed
    incoming._file.close()
    assert Bodies(tmp_path).tmp.exists() and list(bodies.tmp.iterdir()) == []


def test_remove_unreferenced_keeps_exactly_what_is_referenced(tmp_path):
    bodies = Bodies(tmp_path)
    kept, dropped = _receive(bodies, b"kept"), _receive(bodies, b"dropped")
    bodies.write_beside(bodies.thumb_path(dropped), b"thumb")
    bodies.write_beside(bodies.thumb_path(kept), b"thumb")
    orphan_thumb = bodies.thumb_path("a" * 64)
    orphan_thumb.parent.mkdir(parents=True)
    orphan_thumb.write_bytes(b"left by a crash between the thumbnail and its body")
    assert remove_unreferenced(tmp_path, {kept}) == [dropped]
    assert list(bodies.digests()) == [kept]
    assert bodies.thumb_path(kept).exists()
    assert not bodies.thumb_path(dropped).exists() and not orphan_thumb.exists()
    assert remove_unreferenced(tmp_path, {kept}) == []  # again: nothing to do
    assert remove_unreferenced(tmp_path, [{"id": "f1", "sha256": kept}]) == []  # file objects do too


def _image(fmt: str, size=(30, 20), **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA" if fmt in ("PNG", "WEBP") else "RGB", size, "red").save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_the_four_inline_types_are_sniffed_measured_and_thumbnailed(tmp_path, fmt, mime):
    path = tmp_path / "body"
    path.write_bytes(_image(fmt, (900, 450)))
    assert images.sniff(path) == mime
    assert images.dimensions(path, mime) == (900, 450)
    thumb = Image.open(io.BytesIO(images.thumbnail(path, mime)))
    assert thumb.size == (400, 200) and thumb.format == ("JPEG" if fmt == "JPEG" else "PNG")


def test_other_types_are_never_images(tmp_path):
    for data in (b"%PDF-1.4 x", b"<svg/>", b"GIF89a-not-really", b""):
        path = tmp_path / "body"
        path.write_bytes(data)
        mime = images.sniff(path)
        assert images.dimensions(path, mime) is None


def test_a_pixel_bomb_is_measured_from_its_header_only(tmp_path):
    from tests.test_files_live import huge_png_header

    path = tmp_path / "bomb"
    # 100,000 x 100,000: over Pillow's own bomb limit too, which must neither warn nor raise here.
    path.write_bytes(huge_png_header(100_000, 100_000))
    assert images.dimensions(path, "image/png") is None
    path.write_bytes(huge_png_header(7072, 7072))  # 50,013,184 pixels: just over ours
    assert images.dimensions(path, "image/png") is None
    path.write_bytes(huge_png_header(7071, 7071))  # 49,999,041: within; its header is read, not decoded
    assert images.dimensions(path, "image/png") == (7071, 7071)


def test_a_deleted_message_serves_no_file(backend_app, users, monkeypatch):
    room = users.alice.get("/api/rooms").get_json()["rooms"][0]["id"]
    sent = users.alice.request(
        "POST",
        f"/api/rooms/{room}/files",
        data={"file": (io.BytesIO(_image("PNG")), "a.png"), "client_id": "d-1"},
        content_type="multipart/form-data",
    )
    file = sent.get_json()["message"]["file"]
    served = users.bob.get(file["url"])
    assert served.status_code == 200
    served.close()
    store = backend_app.extensions["chat.store"]
    tombstone = dict(sent.get_json()["message"], text="", deleted=True)
    del tombstone["file"]
    monkeypatch.setattr(store, "current", lambda room_id, seq: tombstone)
    for url in (file["url"], file["image"]["thumb_url"]):
        assert users.alice.get(url).status_code == 404


def test_uploads_have_their_own_rate_limit(make_backend_app):
    from tests.backend_fixtures import callers

    app = make_backend_app({"UPLOAD_BURST": 2, "UPLOAD_RATE": 0.001})
    alice = callers(app).alice
    room = alice.get("/api/rooms").get_json()["rooms"][0]["id"]
    statuses = [
        alice.request(
            "POST",
            f"/api/rooms/{room}/files",
            data={"file": (io.BytesIO(b"x"), "a.bin"), "client_id": f"r-{n}"},
            content_type="multipart/form-data",
        )
        for n in range(3)
    ]
    assert [answer.status_code for answer in statuses] == [201, 201, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1


def test_a_full_disk_is_503_and_leaves_nothing(backend_app, users, monkeypatch):
    import errno

    from backend import files

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    room = users.alice.get("/api/rooms").get_json()["rooms"][0]["id"]
    bodies = backend_app.extensions["chat.bodies"]
    monkeypatch.setattr(files.os, "fsync", full)  # the body cannot be made durable
    answer = users.alice.request(
        "POST",
        f"/api/rooms/{room}/files",
        data={"file": (io.BytesIO(b"x" * 1000), "a.bin"), "client_id": "full-1"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "storage_unavailable"
    assert list(bodies.tmp.iterdir()) == [] and list(bodies.digests()) == []
    history = users.alice.get(f"/api/rooms/{room}/messages").get_json()["messages"]
    assert [m for m in history if "file" in m] == []


def test_a_crowded_form_is_422_and_an_oversize_caption_too(users):
    room = users.alice.get("/api/rooms").get_json()["rooms"][0]["id"]
    crowded = [(f"extra{n}", b"x") for n in range(20)]
    for extra in (crowded, [("text", b"x" * (2 * 1024 * 1024))]):
        # Encoded here, in memory: the test client would spool a large form to a temporary file
        # that it never closes.
        body = b"".join(
            b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value)
            for name, value in [("client_id", b"crowd"), *extra]
        )
        body += b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nx\r\n--b--\r\n'
        answer = users.alice.request(
            "POST", f"/api/rooms/{room}/files", data=body, content_type="multipart/form-data; boundary=b"
        )
        assert answer.status_code == 422, answer.get_json()
