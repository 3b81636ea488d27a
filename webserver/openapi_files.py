"""The file operations of the OpenAPI document: upload, download, thumbnail (docs/api.md, "Files").

Split from :mod:`webserver.openapi_paths` (which includes them) because their bodies are not JSON:
a multipart upload and binary answers with their serving headers.
"""

from __future__ import annotations

from common import limits
from common import objects as o
from common import schemas as s
from webserver.openapi_schemas import OpenApi30, answer, error, operation, path_param

FILE_ID = path_param("id", "The file's id (the message's file.id).")
BINARY = {"type": "string", "format": "binary"}
FILE_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in (
        (
            "Content-Disposition",
            "inline (an image shown in place) or attachment, with the name as "
            "filename (ASCII) and filename* (UTF-8, RFC 6266).",
        ),
        ("ETag", "The body's SHA-256, quoted."),
        ("Cache-Control", "private, no-cache: a cache must ask again, so access is checked on every use."),
        ("Content-Security-Policy", "default-src 'none'; sandbox"),
        ("X-Content-Type-Options", "nosniff"),
    )
}


def _binary(description: str, types: tuple[str, ...], status_headers: dict | None = None) -> dict:
    return {
        "description": description,
        "headers": dict(FILE_HEADERS, **(status_headers or {})),
        "content": {mime: {"schema": BINARY} for mime in types},
    }


def _upload_body() -> dict:
    """The multipart request of an upload: the NewFile fields and the file part."""
    fields = s.NewFile.model_json_schema(schema_generator=OpenApi30)
    fields.pop("title", None)
    fields.pop("description", None)
    properties = {
        "file": dict(BINARY, description=f"The file: at most {limits.MAX_UPLOAD_MB} MiB by default.")
    }
    for name, prop in fields["properties"].items():
        # A form field is text whatever was meant: no JSON type to check (a number or null would
        # arrive as its digits or "null"), only the rules on the text itself.
        properties[name] = {key: value for key, value in prop.items() if key != "type"}
    schema = {"type": "object", "required": ["file", "client_id"], "properties": properties}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def file_paths() -> dict:
    """The paths of uploads, downloads and thumbnails."""
    served = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/octet-stream")
    ranges = {
        "Content-Range": {"description": "The part sent, e.g. bytes 0-99/4096.", "schema": {"type": "string"}}
    }
    gone = error(
        404, "not_found", description="No such file, a room the caller may not read, or a deleted message."
    )
    not_modified = answer("The ETag in If-None-Match is still the file's.")
    upload = operation(
        "uploadFile",
        "Post a file (and an optional caption) as a message (idempotent per client_id)",
        {
            200: answer("A repeat of a client_id: the first message; nothing stored.", o.OneMessage),
            201: answer("Stored, with its file object.", o.OneMessage),
            403: error(
                403,
                "not_a_member",
                "forbidden",
                description="A public room the caller has not joined (not_a_member), or an Origin "
                "that is not allowed (forbidden).",
            ),
            404: error(404, "not_found"),
            413: error(413, "payload_too_large", description="The file is over the upload limit."),
            422: error(422, "validation_error", description="No file part, or a bad client_id or caption."),
            429: error(429, "rate_limited"),
        },
        changes=True,
    )
    upload["requestBody"] = _upload_body()
    return {
        "/api/rooms/{id}/files": {"parameters": [path_param("id", "The room's id.")], "post": upload},
        "/api/files/{id}/{name}": {
            "parameters": [
                FILE_ID,
                path_param("name", "The file's name as in its url (any name is served)."),
            ],
            "get": operation(
                "downloadFile",
                "The file: inline for a PNG, JPEG, GIF or WebP image, else a download "
                "(application/octet-stream); Range and If-None-Match are honoured",
                {
                    200: _binary("The file.", served),
                    206: _binary("The part asked for with Range.", served, ranges),
                    304: not_modified,
                    404: gone,
                    416: error(416, "range_not_satisfiable", description="The Range is outside the file."),
                },
            ),
        },
        "/api/thumbnails/{id}": {
            "parameters": [FILE_ID],
            "get": operation(
                "getThumbnail",
                f"An image's thumbnail, at most {limits.THUMB_SIDE} px on its longer side",
                {
                    200: _binary("The thumbnail.", ("image/png", "image/jpeg")),
                    206: _binary("The part asked for with Range.", ("image/png", "image/jpeg"), ranges),
                    304: not_modified,
                    404: gone,
                    416: error(416, "range_not_satisfiable", description="The Range is outside the file."),
                },
            ),
        },
    }
