"""Rebuild retrieval/demo_library/ from Debian's openclipart-png package (public domain).

Run once by a maintainer (``apt-get install openclipart-png`` first); the result is committed,
so nothing at run time needs the package. Picks up to PER_CATEGORY object images per folder,
skips tiny/icon-like images, flattens transparency onto white and resizes to MAX_SIDE, and
leaves out what :func:`image_problem` flags (blank images, a drawing of a few pixels, and the
"Linked Image Not Found" placeholder some package files are). ``--check`` runs that detector
over the bundled set instead and lists what it flags.

Captions come from the title and author the package's PNGs carry (their Inkscape ``Title``
and ``Author`` text chunks; the package has no other metadata): :func:`caption_from_metadata`.
``--captions`` rewrites only the manifest's ``caption`` and ``author`` columns from the
package, leaving the bundled images as they are.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path("/usr/share/openclipart/png")
TARGET = Path(__file__).resolve().parent.parent / "retrieval" / "demo_library"
MAX_SIDE = 320
PER_CATEGORY = 25
MIN_SIDE = 120
# image_problem() thresholds, measured on the bundled set (299 images): its drawings cover
# 0.9 % to 97 % of the picture and their box is at least 30 px a side; the one placeholder
# found ("Linked Image Not Found", an Inkscape stand-in for a missing linked file) is a
# closed frame around a box 26 % inked, 15 % of the picture. The closest real drawings to
# it are framed boxes filled >= 40 % (a phone, a house) or boxes >= 34 % of the picture.
MIN_THIN_SIDE = 48  # px: resized, a wide boat is 320x92; thinner than this is a strip
INK_DELTA = 40  # a pixel differs this much (0-255, any channel) from the background: ink
MIN_INK_FRACTION = 0.004  # less ink than this: blank
MIN_INK_BOX_SIDE = 24  # px: a drawing smaller than this is a speck, not a photo's subject
MIN_GRAY_STD = 3.0  # near-uniform
FRAME_COVERAGE = 0.95  # each side of the ink's box inked along this much of its length
FRAME_MAX_FILL = 0.35  # ... with this little ink inside the frame
FRAME_MAX_AREA = 0.5  # ... and a box smaller than this part of the picture
# How authors sign their file names when it is not their name ("blacksmith_anvil_ganson").
AUTHOR_ALIASES = {"Gerald G.": {"ganson"}}
MANIFEST_COLUMNS = ["file", "caption", "category", "source", "author"]
CATEGORIES = {
    "animals/mammals": "mammal",
    "animals/birds": "bird",
    "animals/bugs": "bug",
    "food/fruit": "fruit",
    "transportation/vehicles": "vehicle",
    "transportation/boating": "boat",
    "plants/flowers": "flower",
    "buildings/homes": "house",
    "tools": "tool",
    "recreation/music": "music",
    "food/beverages": "beverage",
    "recreation/toys": "toy",
}


def png_metadata(path: Path) -> tuple[str, str]:
    """(title, author) of a package PNG, from its ``Title`` / ``Author`` text chunks ("" when
    absent). Inkscape wrote them as UTF-8, Pillow reads them as Latin-1: decoded back."""
    with Image.open(path) as im:
        text = getattr(im, "text", {}) or {}
    return tuple(_utf8(str(text.get(key, "")).strip()) for key in ("Title", "Author"))  # type: ignore[return-value]


def _utf8(text: str) -> str:
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) >= 2]


def _related(a: str, b: str) -> bool:
    """Two words of three letters or more that share their first four (or all): "applf" and
    "apple" (the file names are cut and misspelt), not "ant" and "etiquette"."""
    if len(a) < 3 or len(b) < 3:
        return False
    n = min(4, len(a), len(b))
    return a[:n] == b[:n]


def caption_from_metadata(title: str, author: str, stem: str, category: str) -> str:
    """The caption of a package image: its title, when it names this picture; else its file
    name; else its category. Both without the author's name.

    A title is left out when it is a collection's name shared by unrelated pictures
    ("Clipart by Nicu Buculei - pear" on a banana, "Etiquette Icons" on an ant, "SVG Road
    Signs", "Homes Clipart"), i.e. it says "clipart" or shares no word with the file name,
    or when it is only the author's name ("Mirjam Meijer").
    """
    author_words = set(_words(author)) | AUTHOR_ALIASES.get(author, set())
    name_words = [w for w in _words(stem) if w not in author_words and w != "md"]
    title = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", title.replace("_", " "))  # AfricanDrum2
    kept = [w for w in title.split() if not set(_words(w)) <= author_words or not _words(w)]
    title = " ".join(kept).strip(" -,")
    title_words = _words(title)
    usable = (
        "clipart" not in title_words
        and sum(len(w) for w in title_words) >= 3
        and any(_related(t, n) for t in title_words for n in name_words)
    )
    if not usable:
        # The file name as the caption, cut where the author's name starts ("_jean_victor_b").
        words = [w for w in re.split(r"[_\s-]+", stem) if w]
        while words and (
            re.fullmatch(r"\d+|v\d+(\.\d+)*", words[-1])
            or words[-1].lower() in author_words | {"md"}
            or any(a.startswith(words[-1].lower()) for a in author_words)
        ):
            words.pop()
        words = [w for w in words if w.lower() not in author_words]
        title = " ".join(words)
        if sum(c.isalnum() for c in title) < 3:
            title = category
    # "Bee1", "Aircraft2", "home0": the package's variant numbers tell a person nothing.
    title = re.sub(r"(?<=[A-Za-z]{3})\d+\b", "", title)
    title = re.sub(r"\s+(bw|BW)$", " (black and white)", title).strip()
    return title[:1].upper() + title[1:]


def image_problem(image: Image.Image) -> str | None:
    """Why ``image`` must not go into the demo library, or None when it may.

    Flags: tiny images (under MIN_SIDE px, or a strip under MIN_THIN_SIDE), blank or
    near-uniform ones (almost no ink, or hardly any grey-level variation), a drawing that is
    a speck, and the placeholder look
    ("Linked Image Not Found", "image not available"): a small closed frame, mostly empty
    inside, on an otherwise flat background.
    """
    if max(image.size) < MIN_SIDE or min(image.size) < MIN_THIN_SIDE:
        return f"tiny ({image.width}x{image.height} px)"
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    gray = rgb.mean(axis=2)
    if gray.std() < MIN_GRAY_STD:
        return f"blank (near-uniform: grey-level spread {gray.std():.1f})"
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    ink = np.abs(rgb - background).max(axis=2) > INK_DELTA
    fraction = float(ink.mean())
    if fraction < MIN_INK_FRACTION:
        return f"blank ({fraction:.2%} of the picture differs from the background)"
    rows, cols = np.nonzero(ink)
    box = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    if min(box.shape) < MIN_INK_BOX_SIDE:
        return f"the drawing is a speck ({box.shape[1]}x{box.shape[0]} px)"
    band = 3
    if min(box.shape) > 4 * band:
        sides = (
            box[:band].any(axis=0).mean(),
            box[-band:].any(axis=0).mean(),
            box[:, :band].any(axis=1).mean(),
            box[:, -band:].any(axis=1).mean(),
        )
        inside = float(box[band:-band, band:-band].mean())
        area = box.size / ink.size
        if min(sides) >= FRAME_COVERAGE and inside <= FRAME_MAX_FILL and area <= FRAME_MAX_AREA:
            return (
                f"placeholder look (a closed frame {box.shape[1]}x{box.shape[0]} px, "
                f"{inside:.0%} inked inside, on a flat background)"
            )
    return None


def check_bundled(images_dir: Path) -> list[tuple[str, str]]:
    """(file, problem) for every bundled image :func:`image_problem` flags."""
    flagged = []
    for path in sorted(images_dir.glob("*.jpg")):
        with Image.open(path) as im:
            problem = image_problem(im)
        if problem:
            flagged.append((path.name, problem))
    return flagged


def flatten(path: Path) -> Image.Image | None:
    with Image.open(path) as im:
        im.load()
        if min(im.size) < MIN_SIDE:
            return None
        rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    flat.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return flat


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        flagged = check_bundled(TARGET / "images")
        for name, problem in flagged:
            print(f"{name}: {problem}")
        print(f"{len(flagged)} bundled image(s) flagged")
        return 1 if flagged else 0
    if not SOURCE.is_dir():
        print("openclipart-png is not installed: apt-get install openclipart-png", file=sys.stderr)
        return 1
    if args == ["--captions"]:
        return recaption()
    images_dir = TARGET / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    seen: set[str] = set()  # the package holds some images twice under different names
    for folder, category in CATEGORIES.items():
        taken = 0
        for path in sorted((SOURCE / folder).glob("*.png")):
            if taken >= PER_CATEGORY:
                break
            flat = flatten(path)
            if flat is None:
                continue
            problem = image_problem(flat)
            if problem:
                print(f"skipped {folder}/{path.name}: {problem}")
                continue
            encoded = io.BytesIO()
            flat.save(encoded, "JPEG", quality=85, optimize=True)
            digest = hashlib.sha256(encoded.getvalue()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            name = f"{category}-{taken + 1:02d}.jpg"
            (images_dir / name).write_bytes(encoded.getvalue())
            title, author = png_metadata(path)
            rows.append(
                {
                    "file": name,
                    "caption": caption_from_metadata(title, author, path.stem, category),
                    "category": category,
                    "source": f"openclipart-png:{folder}/{path.name}",
                    "author": author,
                }
            )
            taken += 1
    write_manifest(rows)
    print(f"{len(rows)} images written to {images_dir}")
    return 0


def write_manifest(rows: list[dict[str, str]]) -> None:
    with open(TARGET / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def recaption() -> int:
    """Rewrite the manifest's captions and authors from the package; images untouched."""
    with open(TARGET / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        path = SOURCE / row["source"].removeprefix("openclipart-png:")
        title, author = png_metadata(path)
        row["caption"] = caption_from_metadata(title, author, path.stem, row["category"])
        row["author"] = author
    write_manifest(rows)
    print(f"{len(rows)} captions written to {TARGET / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
