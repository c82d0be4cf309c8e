"""Decoding untrusted image bytes into RGB uint8 arrays, safely.

Accepted: JPEG, PNG, WebP, BMP, GIF (first frame). The pixel count is checked from the
header *before* decoding (a decompression bomb is a tiny file that claims a huge image), a
truncated file is refused instead of being padded with grey, EXIF rotation is applied, and
transparency is flattened onto white (a transparent background must not turn black).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")


def load_image_bytes(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode ``data`` to an RGB uint8 (H, W, 3) array or raise :class:`ImageError`."""
    if not data:
        raise ImageError("The file is empty.")
    with warnings.catch_warnings():
        # We enforce our own pixel limit below; Pillow's bomb warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
        except UnidentifiedImageError:
            raise ImageError(_unsupported(data)) from None
        except Image.DecompressionBombError:
            raise ImageError(_too_big(None, max_pixels)) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"The file could not be read as an image ({exc}).") from None
        with image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ImageError("The image has no pixels.")
            if width * height > max_pixels:
                raise ImageError(_too_big((width, height), max_pixels))
            try:
                image.seek(0)  # GIF: the first frame only
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
            except Image.DecompressionBombError:
                raise ImageError(_too_big((width, height), max_pixels)) from None
            except Exception as exc:  # decoders raise many kinds on hostile input
                raise ImageError(f"The image is damaged or truncated ({exc}).") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: scale to 8 bits instead of clipping to white.
        array = np.asarray(image, dtype=np.float64)
        peak = max(float(array.max()), 1.0)
        scaled = (array * (255.0 / (65535.0 if peak > 255 else 255.0))).clip(0, 255)
        return np.repeat(scaled.astype(np.uint8)[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _unsupported(data: bytes) -> str:
    return (
        "The file is not an image we accept. Upload a JPEG, PNG, WebP, BMP or GIF "
        f"({len(data)} bytes received)."
    )


def _too_big(size: tuple[int, int] | None, max_pixels: int) -> str:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return f"The image is too large{shown}: at most {max_pixels:,} pixels are accepted."
