"""Reading a sketch/photo dataset in the plain folder layout.

    DIR/photo/<category>/<name>.jpg|jpeg|png|webp|bmp
    DIR/sketch/<category>/<name>.png|jpg          "X-k.png" was drawn from photo "X.*"
    DIR/subcategories.tsv                          optional: path, class, subcategory

Nothing here knows a category name or an absolute path; any folder of that shape works.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.engine.images import load_image_bytes

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
SKETCH_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_DATASET_PIXELS = 40_000_000


@dataclass(frozen=True)
class PhotoItem:
    path: Path
    relpath: str  # relative to the dataset root, POSIX separators
    category: str
    subcategory: str


@dataclass(frozen=True)
class SketchItem:
    path: Path
    relpath: str
    category: str
    photo_stem: str | None  # instance pairing: the photo this sketch was drawn from


@dataclass
class SketchPhotoDataset:
    root: Path
    photos: list[PhotoItem]
    sketches: list[SketchItem]
    categories: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path) -> SketchPhotoDataset:
        """Index ``root``; raises ``FileNotFoundError`` if it has no photo/ or sketch/ folder."""
        root = Path(root)
        photo_dir, sketch_dir = root / "photo", root / "sketch"
        if not photo_dir.is_dir() and not sketch_dir.is_dir():
            raise FileNotFoundError(f"{root} has neither a photo/ nor a sketch/ folder")
        subcats = _read_subcategories(root / "subcategories.tsv")
        photos = [
            PhotoItem(p, rel, cat, subcats.get(rel, cat))
            for p, rel, cat in _files(root, photo_dir, PHOTO_SUFFIXES)
        ]
        sketches = [
            SketchItem(p, rel, cat, _photo_stem(p.stem))
            for p, rel, cat in _files(root, sketch_dir, SKETCH_SUFFIXES)
        ]
        categories = sorted({p.category for p in photos} | {s.category for s in sketches})
        return cls(root=root, photos=photos, sketches=sketches, categories=categories)

    def restrict(self, categories: list[str]) -> SketchPhotoDataset:
        """The same dataset limited to ``categories``."""
        keep = set(categories)
        return SketchPhotoDataset(
            root=self.root,
            photos=[p for p in self.photos if p.category in keep],
            sketches=[s for s in self.sketches if s.category in keep],
            categories=[c for c in self.categories if c in keep],
        )

    def limit_per_category(
        self, *, photos: int | None = None, sketches: int | None = None
    ) -> SketchPhotoDataset:
        """At most the first N photos / sketches of each category (sorted by path)."""
        return SketchPhotoDataset(
            root=self.root,
            photos=_first_per_category(self.photos, photos),
            sketches=_first_per_category(self.sketches, sketches),
            categories=list(self.categories),
        )

    def split_sketches(
        self, *, test_fraction: float = 0.3, seed: int = 0
    ) -> tuple[list[int], list[int]]:
        """Seeded per-category train/test split of sketch indices (the paper's 7:3)."""
        rng = np.random.default_rng(seed)
        by_cat: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.sketches):
            by_cat[s.category].append(i)
        train, test = [], []
        for cat in sorted(by_cat):
            idx = np.array(by_cat[cat])
            rng.shuffle(idx)
            n_test = int(round(len(idx) * test_fraction))
            test += idx[:n_test].tolist()
            train += idx[n_test:].tolist()
        return sorted(train), sorted(test)

    def photo_labels(self) -> np.ndarray:
        return np.array([self.categories.index(p.category) for p in self.photos], np.int64)

    def sketch_labels(self) -> np.ndarray:
        return np.array([self.categories.index(s.category) for s in self.sketches], np.int64)

    def instance_photo_index(self) -> np.ndarray:
        """For each sketch, the index of the photo it was drawn from, or -1."""
        by_key = {(p.category, p.path.stem): i for i, p in enumerate(self.photos)}
        return np.array(
            [by_key.get((s.category, s.photo_stem), -1) for s in self.sketches], np.int64
        )


def _files(root: Path, directory: Path, suffixes: tuple[str, ...]):
    if not directory.is_dir():
        return []
    out = []
    for category_dir in sorted(d for d in directory.iterdir() if d.is_dir()):
        if category_dir.name.startswith("."):
            continue
        for path in sorted(category_dir.iterdir()):
            if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
                out.append((path, path.relative_to(root).as_posix(), category_dir.name))
    return out


def _photo_stem(sketch_stem: str) -> str | None:
    # "n02691156_10151-3" -> "n02691156_10151"; a name without "-<number>" has no pair.
    head, sep, tail = sketch_stem.rpartition("-")
    return head if sep and tail.isdigit() else None


def _read_subcategories(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return {
            row["path"]: row.get("subcategory") or row.get("class") or ""
            for row in reader
            if row.get("path")
        }


def _first_per_category(items, limit):
    if limit is None:
        return list(items)
    counts: dict[str, int] = defaultdict(int)
    out = []
    for item in items:
        if counts[item.category] < limit:
            counts[item.category] += 1
            out.append(item)
    return out


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (through the same safe decoder as uploads)."""
    return load_image_bytes(Path(path).read_bytes(), MAX_DATASET_PIXELS)
