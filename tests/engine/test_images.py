"""Decoding untrusted bytes: accepted formats, transparency, bombs, truncation, junk."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from retrieval.engine.errors import ImageError
from retrieval.engine.images import load_image_bytes

MAX = 10_000_000


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _rgb() -> Image.Image:
    array = np.zeros((20, 30, 3), np.uint8)
    array[:, :15] = (200, 30, 40)
    return Image.fromarray(array)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_accepted_formats_decode_to_rgb_uint8(fmt):
    out = load_image_bytes(_encode(_rgb(), fmt), MAX)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    assert out[10, 5, 0] > 150 and out[10, 25].max() < 40


def test_transparency_is_flattened_onto_white():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, 3] = 255  # top half opaque black, bottom half fully transparent
    out = load_image_bytes(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), MAX)
    assert (out[:4] == 0).all() and (out[4:] == 255).all()


def test_gif_first_frame():
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    out = load_image_bytes(buffer.getvalue(), MAX)
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_too_many_pixels_is_refused_before_decoding():
    with pytest.raises(ImageError, match="too large"):
        load_image_bytes(_png_claiming(100_000, 100_000), MAX)
    real = _encode(Image.new("RGB", (200, 100)), "PNG")
    with pytest.raises(ImageError, match="too large"):
        load_image_bytes(real, max_pixels=19_999)
    assert load_image_bytes(real, max_pixels=20_000).shape == (100, 200, 3)


def test_truncated_files_are_refused():
    for fmt in ("JPEG", "PNG"):
        data = _encode(
            Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)), fmt
        )
        with pytest.raises(ImageError):
            load_image_bytes(data[: len(data) // 2], MAX)


@pytest.mark.parametrize(
    "data", [b"", b"hello, I am text", b"%PDF-1.4 not an image", b"\x89PNG\r\n\x1a\n"]
)
def test_junk_is_refused(data):
    with pytest.raises(ImageError):
        load_image_bytes(data, MAX)


def test_unsupported_format_is_refused_with_the_accepted_list():
    with pytest.raises(ImageError, match="JPEG, PNG, WebP, BMP or GIF"):
        load_image_bytes(_encode(_rgb(), "TIFF"), MAX)
