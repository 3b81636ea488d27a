"""What a file is, from its own bytes; and an image's size and thumbnail, with Pillow.

The type comes from the magic bytes (the ``filetype`` package: no native dependency, signatures
for the common formats), never from the name the uploader gave. Only PNG, JPEG, GIF and WebP are
ever shown inline, and only when Pillow could read their size and they are no larger than
:data:`MAX_PIXELS`: the size is read from the header, and an image over the limit is never
decoded (it is served as a download with ``"image": null``). Text formats (SVG, HTML) have no
magic bytes, so they are ``application/octet-stream``: always downloads.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import filetype
from PIL import Image, ImageOps

from common.limits import MAX_IMAGE_PIXELS, THUMB_SIDE

log = logging.getLogger(__name__)

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
OCTET_STREAM = "application/octet-stream"
MAX_PIXELS = MAX_IMAGE_PIXELS  # an image with more is kept and served as a download, never decoded
SNIFF_BYTES = 8192  # what filetype needs (its longest signature reaches 262 bytes; some look further)

_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def sniff(path: Path) -> str:
    """The file's MIME type from its first bytes, or ``application/octet-stream``."""
    with open(path, "rb") as body:
        head = body.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    return kind.mime if kind is not None else OCTET_STREAM


def dimensions(path: Path, mime: str) -> tuple[int, int] | None:
    """``(width, height)`` of an inline-type image read from its header, or None.

    None for anything else, for a header Pillow cannot read, and for an image over MAX_PIXELS.
    Pillow's own bomb check would warn (or refuse) on open; we decide by our limit instead.
    """
    if mime not in INLINE_TYPES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=[_PIL_FORMATS[mime]]) as image:  # reads the header only
                width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        log.info("%s: not a readable %s (%s)", path.name, mime, error)
        return None
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        return None
    return width, height


def thumbnail(path: Path, mime: str) -> bytes | None:
    """A thumbnail of at most THUMB_SIDE px on its longer side, EXIF orientation applied and no
    metadata kept: JPEG for a JPEG, else PNG (transparency kept). None if it cannot be decoded.

    Call only for an image :func:`dimensions` accepted (so decoding it is bounded).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=[_PIL_FORMATS[mime]]) as image:
                image.seek(0)  # an animation's first frame
                image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # JPEG: decode at a reduced scale
                small = ImageOps.exif_transpose(image)
                small.thumbnail((THUMB_SIDE, THUMB_SIDE))
                out = io.BytesIO()
                if mime == "image/jpeg":
                    small.convert("RGB").save(out, "JPEG", quality=85)
                else:
                    if small.mode not in ("RGB", "RGBA", "L", "LA"):
                        small = small.convert("RGBA")
                    small.save(out, "PNG", optimize=True)
                return out.getvalue()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        log.info("%s: cannot make a thumbnail (%s)", path.name, error)
        return None


def thumb_type(mime: str) -> str:
    """The MIME type of the thumbnail :func:`thumbnail` makes for an image of type ``mime``."""
    return "image/jpeg" if mime == "image/jpeg" else "image/png"
