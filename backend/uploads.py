"""Files and images: upload one to a room, download it, and its thumbnail (docs/api.md, "Files").

An upload is ``multipart/form-data`` read as it arrives: the file part goes straight into a
temporary file (:class:`backend.files.Incoming`), counted and hashed, and is refused with 413 as
soon as it crosses the limit. Only once the body is durable under its digest is the message that
carries it appended. Downloads are served by ``send_file`` (sendfile, Range, ETag, 304), to those
who may read the room and only while the message is not deleted; everything else is a 404.
"""

from __future__ import annotations

import io
import secrets
import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from common.schemas import NewFile

from . import images, validation
from .auth import limit, require_user, store
from .files import Bodies
from .refusals import Invalid, NotAMember, NotFound

bp = Blueprint("uploads", __name__)

# Bytes of a multipart request beyond the file itself: part headers, boundaries, the client_id
# and a caption of 4,000 characters (up to 16 KB of UTF-8). The file's own bytes are counted
# exactly, against the upload limit; this only bounds the rest.
ENVELOPE_BYTES = 64 * 1024
# Bytes werkzeug's multipart parser may hold at once: its buffer must fit one 64 KiB read plus
# what it keeps back while looking for a boundary; it also caps a text part (the caption).
FORM_MEMORY_BYTES = 1024 * 1024
# Bytes read from the socket at a time. werkzeug's multipart parser asks for 64 KiB pieces; read
# straight from gunicorn's body reader, each piece copied again what was read ahead (up to 1 MiB),
# and every read is a GIL hand-over that a thread storing a message may then wait for. A buffer of
# 1 MiB in between makes the socket reads whole MiBs and the parser's pieces plain memory copies.
READ_BYTES = 1024 * 1024
FORM_PARTS = 8  # parts of an upload's form at most: file, client_id, text, and a few to spare
NAME_MAX = 200  # code points kept of a file's name (the end, with its extension, is kept)
FILE_POLICY = "default-src 'none'; sandbox"


def bodies() -> Bodies:
    """The app's file bodies."""
    return current_app.extensions["chat.bodies"]


@bp.post("/api/rooms/<room_id>/files")
def upload(room_id: str):
    """Store one file (and an optional caption) as a message; a repeated client_id stores nothing."""
    username = require_user()
    room = store().room(username, room_id)
    if not room.has_member(username):
        raise NotAMember("You are not a member of this room.")
    if request.mimetype != "multipart/form-data":
        raise Invalid("Send the file as multipart/form-data with a 'file' part and a 'client_id'.")
    limit("uploads", username)
    max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
    received = []

    def file_part(*_args, **_kwargs):
        incoming = bodies().incoming(max_bytes)
        received.append(incoming)
        return incoming

    request.max_content_length = max_bytes + ENVELOPE_BYTES
    parser = FormDataParser(
        stream_factory=file_part,
        max_form_memory_size=FORM_MEMORY_BYTES,
        max_form_parts=FORM_PARTS,
        silent=True,
    )
    stream = request.stream  # 413 at once for a declared length over the limit
    buffered = io.BufferedReader(stream, READ_BYTES)
    try:
        try:
            _, form, files = parser.parse(
                buffered, request.mimetype, request.content_length, request.mimetype_params
            )
        except RequestEntityTooLarge:
            if getattr(stream, "_limit_is_max", False) and getattr(stream, "is_exhausted", False):
                raise  # a body of no declared length went over the limit
            # Otherwise the form besides the file: too many parts, or a text part over 1 MiB.
            raise Invalid("Besides the file, send only 'client_id' and an optional short 'text'.") from None
        part = files.get("file")
        if part is None or len(received) != 1 or part.stream is not received[0]:
            raise Invalid("Send exactly one file, in a part named 'file' with a filename.")
        fields = validation.parse(NewFile, {key: form[key] for key in ("client_id", "text") if key in form})
        first = store().find_message(username, room_id, fields.client_id)
        if first is not None:
            return jsonify(message=first), 200
        digest = bodies().commit(received[0])
    finally:
        buffered.detach()  # the request's stream stays open for werkzeug to finish with
        for incoming in received:  # whatever was not committed (a committed one is renamed away)
            incoming.discard()
    file = _describe(digest, received[0].size, clean_name(part.filename))
    message, created = store().post_message(username, room_id, fields.text or "", fields.client_id, file=file)
    return jsonify(message=message), 201 if created else 200


def _describe(digest: str, size: int, name: str) -> dict:
    """The contract's file object for a committed body, its thumbnail made if it is an image."""
    path = bodies().path(digest)
    mime = images.sniff(path)
    file_id = "f" + secrets.token_hex(12)
    image = None
    size_px = images.dimensions(path, mime)
    if size_px is not None and _thumbnail(digest, mime):
        image = {"width": size_px[0], "height": size_px[1], "thumb_url": f"/api/thumbnails/{file_id}"}
    return {
        "id": file_id,
        "name": name,
        "size": size,
        "type": mime,
        "url": f"/api/files/{file_id}/{quote(name, safe='')}",
        "image": image,
        "sha256": digest,
    }


def _thumbnail(digest: str, mime: str) -> bool:
    """Make the body's thumbnail unless it exists; whether there is one."""
    target = bodies().thumb_path(digest)
    if target.exists():
        return True
    data = images.thumbnail(bodies().path(digest), mime)
    if data is None:
        return False
    bodies().write_beside(target, data)
    return True


def clean_name(raw: str | None) -> str:
    """The name to keep and show: its last path segment, no control or bidi characters, bounded."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Categories C*: control characters (newlines), format characters (RTL overrides and marks
    # that make "exe.pdf" look like "pdf.exe"), surrogates, unassigned.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if name.strip(".") == "":
        return "file"
    return name if len(name) <= NAME_MAX else name[-NAME_MAX:]


def disposition(kind: str, name: str) -> str:
    """An RFC 6266 Content-Disposition: an ASCII ``filename`` for old clients, ``filename*`` in UTF-8."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _readable(file_id: str) -> dict:
    """The file object ``file_id`` if the caller may read its room and its message is not deleted."""
    username = require_user()
    where = store().file_message(file_id)
    if where is None:
        raise NotFound("No such file.")
    store().room(username, where[0])  # NotFound for a room the caller may not read
    message = store().current(*where)
    file = (message or {}).get("file")
    if message is None or message.get("deleted") or not file or file.get("id") != file_id:
        raise NotFound("No such file.")
    return file


def _serve(path, mimetype: str, etag: str, kind: str, name: str) -> Response:
    if not path.exists():
        raise NotFound("No such file.")
    response = send_file(
        path, mimetype=mimetype, conditional=True, etag=etag, last_modified=None, max_age=None
    )
    response.headers["Content-Disposition"] = disposition(kind, name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    # Checked again on every use (a 304 is cheap): the access rules, and a deletion, apply at once.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.get("/api/files/<file_id>/<path:_name>")
def download(file_id: str, _name: str):
    """The file: inline for a PNG, JPEG, GIF or WebP image; every other kind as a download."""
    file = _readable(file_id)
    inline = file.get("image") is not None and file["type"] in images.INLINE_TYPES
    mimetype = file["type"] if inline else images.OCTET_STREAM
    path = bodies().path(file["sha256"])
    return _serve(path, mimetype, file["sha256"], "inline" if inline else "attachment", file["name"])


@bp.get("/api/thumbnails/<file_id>")
def thumbnail(file_id: str):
    """The image's thumbnail (made again if it went missing); 404 for a file that is no image."""
    file = _readable(file_id)
    if file.get("image") is None or not _thumbnail(file["sha256"], file["type"]):
        raise NotFound("This file has no thumbnail.")
    path = bodies().thumb_path(file["sha256"])
    return _serve(path, images.thumb_type(file["type"]), file["sha256"] + "-t", "inline", file["name"])
