"""What a photo is called on the pages and in its alt text.

A photo's caption is its label when it has one (set from a labels CSV, a manifest or the
photo page); otherwise its file name, cleaned: "angry_monkey-01.png" reads "Angry monkey".
Its alt text describes it for someone who cannot see it: the caption and the category
("A simple pig, category mammal"), never the raw file name.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

# What cameras and scanners call files: the number is all there is to tell them apart.
_CAMERA_PREFIXES = {"img", "dsc", "dscn", "dscf", "dcim", "pxl", "pict", "photo", "image", "scan"}
_IMAGE_EXTENSIONS = re.compile(r"\.(jpe?g|png|gif|webp|bmp|tiff?|heic)$", re.IGNORECASE)
_NUMBER = re.compile(r"^(\d+|v\d+(\.\d+)*)$", re.IGNORECASE)


def clean_file_name(name: str) -> str:
    """A file name as a caption: no folder or extension, underscores and dashes as spaces,
    no trailing numbers or versions ("_01", "v0.1"), in sentence case when it was all one case.

    "angry_monkey_benji_park_01.png" -> "Angry monkey benji park"; "IMG_0042.JPG" keeps its
    number ("IMG 0042"); a name of numbers only stays as it is.
    """
    stem = _IMAGE_EXTENSIONS.sub("", posixpath.basename(name.replace("\\", "/")).strip())
    words = [w for w in re.split(r"[\s_\-]+", stem) if w]
    if not words:
        return stem
    keep = len(words)
    while keep > 1 and _NUMBER.match(words[keep - 1]):
        keep -= 1
    if keep < len(words) and (
        _NUMBER.match(words[0]) or (keep == 1 and words[0].lower() in _CAMERA_PREFIXES)
    ):
        keep = len(words)  # "IMG 0042": the number is the name
    text = " ".join(words[:keep])
    shouting = text == text.upper() and any(len(re.sub(r"[^A-Za-z]", "", w)) >= 4 for w in words)
    if text == text.lower() or shouting:  # "IMG 0042" and "DSC01234" stay as they are
        text = text.lower()
        text = text[:1].upper() + text[1:]
    return text


def photo_title(image: Any) -> str:
    """The caption a page shows for ``image`` (a ``LibraryImage``)."""
    caption = (getattr(image, "caption", "") or "").strip()
    if caption:
        return caption
    cleaned = clean_file_name(getattr(image, "original_name", "") or "")
    return cleaned or f"Photo {image.pk}"


def photo_alt(image: Any) -> str:
    """Alt text for ``image``: its caption and labels, e.g. "A simple pig, category mammal"."""
    title = photo_title(image)
    category = (getattr(image, "category", "") or "").strip()
    subcategory = (getattr(image, "subcategory", "") or "").strip()
    if not category:
        return title
    labels = f"{category} / {subcategory}" if subcategory else category
    return f"{title}, category {labels}"
