"""Checking uploaded photo bytes before anything is stored, and the small images we derive.

Every photo arrives from an untrusted client (a browser upload, a zip entry, a server
folder): it must be a real image in a format we accept, within the size and pixel limits of
the settings. The pixel count is read from the header first, so a decompression bomb is
refused before a single pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from PIL import Image

from retrieval.engine.errors import ImageError
from retrieval.engine.images import load_image_bytes

# Pillow format name -> file extension we store it under.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif"}
THUMBNAIL_SIZE = 256
# Smaller than this is an icon, not a photo a sketch could match.
MIN_SIDE = 8


class PhotoRejected(ValueError):
    """The bytes are not a photo we accept; the message is safe to show the uploader."""


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    extension: str
    width: int
    height: int
    sha256: str
    rgb: np.ndarray = field(repr=False)


def _named_reason(reason: str, name: str) -> str:
    """A file whose name says JPEG (or PNG ...) but whose bytes are no image we can read is
    damaged or misnamed: say that, rather than "not an image we accept"."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    formats = {"jpeg": "JPEG", **{ext: fmt for fmt, ext in ACCEPTED_FORMATS.items()}}
    if extension in formats and reason.startswith("The file is not an image we accept"):
        return (
            "The file could not be decoded: it is damaged or not really a "
            f"{formats[extension]} (its name ends in .{extension})."
        )
    return reason


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def check_photo(data: bytes, *, name: str = "") -> CheckedPhoto:
    """Validate untrusted bytes as a photo; raise :class:`PhotoRejected` with the reason.

    The decoding rules (formats, pixel limit read from the header, truncated files,
    EXIF rotation, transparency onto white) are the engine's, so what is accepted here is
    exactly what the indexing task can read later.
    """
    max_bytes = settings.PSBIR_MAX_UPLOAD_BYTES
    if len(data) > max_bytes:
        raise PhotoRejected(f"The file is larger than the {_megabytes(max_bytes)} limit.")
    try:
        rgb = decode_rgb(data)
    except ImageError as exc:
        raise PhotoRejected(_named_reason(str(exc), name)) from None
    height, width = rgb.shape[:2]
    if min(width, height) < MIN_SIDE:
        raise PhotoRejected(f"The image is only {width}x{height} pixels; too small to search.")
    with Image.open(io.BytesIO(data)) as image:  # header only: which format to store it as
        extension = ACCEPTED_FORMATS.get(image.format or "", "img")
    return CheckedPhoto(
        data=data,
        extension=extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        rgb=rgb,
    )


def decode_rgb(data: bytes) -> np.ndarray:
    """Untrusted image bytes -> HxWx3 uint8 (raises ``ImageError``, a ``ValueError``)."""
    return load_image_bytes(data, settings.PSBIR_MAX_IMAGE_PIXELS)


def thumbnail_jpeg(rgb: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    image = Image.fromarray(rgb)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 grayscale or RGB array as PNG (edge maps, sketch maps)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(out, format="PNG", optimize=True)
    return out.getvalue()
