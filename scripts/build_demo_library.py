"""Rebuild retrieval/demo_library/ from Debian's openclipart-png package (public domain).

Run once by a maintainer (``apt-get install openclipart-png`` first); the result is committed,
so nothing at run time needs the package. Picks up to PER_CATEGORY object images per folder,
skips tiny/icon-like images, flattens transparency onto white and resizes to MAX_SIDE.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from pathlib import Path

from PIL import Image

SOURCE = Path("/usr/share/openclipart/png")
TARGET = Path(__file__).resolve().parent.parent / "retrieval" / "demo_library"
MAX_SIDE = 320
PER_CATEGORY = 25
MIN_SIDE = 120
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


def caption_from_name(stem: str) -> str:
    # openclipart-png ships no .txt metadata: its file names ("<title>_<author>_<n>", cut at
    # 24 characters) are the only title and author record, so the caption keeps them whole.
    parts = [p for p in re.split(r"[_\s]+", stem) if p and not p.isdigit()]
    return " ".join(parts).replace("-", " ") or stem


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


def main() -> int:
    if not SOURCE.is_dir():
        print("openclipart-png is not installed: apt-get install openclipart-png", file=sys.stderr)
        return 1
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
            encoded = io.BytesIO()
            flat.save(encoded, "JPEG", quality=85, optimize=True)
            digest = hashlib.sha256(encoded.getvalue()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            name = f"{category}-{taken + 1:02d}.jpg"
            (images_dir / name).write_bytes(encoded.getvalue())
            rows.append(
                {
                    "file": name,
                    "caption": caption_from_name(path.stem),
                    "category": category,
                    "source": f"openclipart-png:{folder}/{path.name}",
                }
            )
            taken += 1
    with open(TARGET / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "caption", "category", "source"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} images written to {images_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
