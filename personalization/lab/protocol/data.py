"""What the protocol (section V) runs on: the dataset, its split, and the query / gallery sets.

Two folder layouts are read:

- the plain layout (``photo/<category>/``, ``sketch/<category>/``, optional
  ``subcategories.tsv``), via :class:`retrieval.lab.data.SketchPhotoDataset`;
- the library layout of the bundled demo library (``images/`` + ``manifest.csv`` with
  ``file`` and ``category`` columns, optional ``subcategory``). It has no sketches, so the
  queries are photos' own edge maps, each searched against every *other* photo.

Which items: ``per_category`` K keeps the first K photos and K sketches of every category in
the shared conv5 cache's balanced order (:func:`balanced_subset`, the subset a partly filled
cache holds) for the general stage. The personalization stage needs every photo of a parent
category (a sub-category's AP is only meaningful over all its photos), so it adds every
photo and sketch of the parents with more than one sub-category to that subset.

The 7:3 split of query sketches is :func:`sketch_split` of the whole folder: the same test
sketches as ``retrieval.lab evaluate --queries test`` and ``retrieval.lab train`` for one seed.
"""

from __future__ import annotations

import csv
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.lab.cache import balanced_subset
from retrieval.lab.data import PHOTO_SUFFIXES, PhotoItem, SketchPhotoDataset
from retrieval.lab.splits import TEST_FRACTION, sketch_split

LIBRARY_MANIFEST = "manifest.csv"


def load_dataset(root: Path) -> tuple[SketchPhotoDataset, str]:
    """(dataset, layout) where layout is ``"plain"`` or ``"library"``."""
    root = Path(root)
    if (root / "photo").is_dir() or (root / "sketch").is_dir():
        return SketchPhotoDataset.scan(root), "plain"
    if (root / LIBRARY_MANIFEST).is_file() and (root / "images").is_dir():
        return _scan_library(root), "library"
    raise FileNotFoundError(
        f"{root} is neither the plain layout (photo/, sketch/) nor a library (images/ + "
        f"{LIBRARY_MANIFEST})"
    )


def _scan_library(root: Path) -> SketchPhotoDataset:
    with open(root / LIBRARY_MANIFEST, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    photos = []
    for row in sorted(rows, key=lambda r: r.get("file", "")):
        name, category = row.get("file", ""), (row.get("category") or "").strip()
        path = root / "images" / name
        if not name or not category or not path.is_file():
            continue
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            continue
        sub = (row.get("subcategory") or "").strip() or category
        photos.append(PhotoItem(path, f"images/{name}", category, sub))
    categories = sorted({p.category for p in photos})
    return SketchPhotoDataset(root=root, photos=photos, sketches=[], categories=categories)


def multi_sub_parents(dataset: SketchPhotoDataset, *, min_photos: int = 1) -> dict[str, list[str]]:
    """{parent: its sub-categories} for parents with more than one sub-category.

    A sub-category counts when it has at least ``min_photos`` photos (the paper counts all).
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in dataset.photos:
        counts[p.category][p.subcategory] += 1
    out = {}
    for parent in sorted(counts):
        subs = sorted(s for s, n in counts[parent].items() if n >= min_photos)
        if len(subs) > 1:
            out[parent] = subs
    return out


def _photo_split(dataset: SketchPhotoDataset, seed: int) -> set[int]:
    """Test photo indices (30% of each category, seeded) when photos are the queries."""
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(dataset.photos):
        by_cat[p.category].append(i)
    test: set[int] = set()
    for cat, idx in by_cat.items():
        idx = sorted(idx, key=lambda i: dataset.photos[i].relpath)
        rng = np.random.default_rng([seed, zlib.crc32(b"photo-split"), zlib.crc32(cat.encode())])
        perm = rng.permutation(len(idx))
        test.update(idx[j] for j in perm[: int(round(len(idx) * TEST_FRACTION))])
    return test


@dataclass
class Selection:
    """Indices into ``dataset`` (the union of what both stages use) for every role."""

    dataset: SketchPhotoDataset  # photos/sketches whose conv5 maps the run loads
    layout: str
    query_kind: str  # "sketch" or "photo-edge-map"
    general_photos: np.ndarray  # gallery of the general stage
    general_queries: np.ndarray  # query indices (sketches, or photos) of the general stage
    train_queries: np.ndarray  # training sketches of the general stage (--train-general)
    personal_photos: np.ndarray  # gallery of the personalization stage
    query_is_test: np.ndarray  # (n queries,) bool, over all of ``dataset``'s queries
    parents: dict[str, list[str]]

    @property
    def n_queries(self) -> int:
        return len(self.query_is_test)

    def query_category(self, i: int) -> str:
        items = self.dataset.sketches if self.query_kind == "sketch" else self.dataset.photos
        return items[i].category

    def query_relpath(self, i: int) -> str:
        items = self.dataset.sketches if self.query_kind == "sketch" else self.dataset.photos
        return items[i].relpath

    def describe(self) -> dict:
        d = self.dataset
        return {
            "layout": self.layout,
            "query_kind": self.query_kind,
            "loaded": {"photos": len(d.photos), "sketches": len(d.sketches)},
            "general": {
                "gallery_photos": int(len(self.general_photos)),
                "test_queries": int(len(self.general_queries)),
                "train_sketches": int(len(self.train_queries)),
                "categories": len({d.photos[i].category for i in self.general_photos}),
            },
            "personalization": {
                "gallery_photos": int(len(self.personal_photos)),
                "parents": {k: len(v) for k, v in self.parents.items()},
            },
        }


def select(
    full: SketchPhotoDataset,
    layout: str,
    *,
    seed: int,
    per_category: int | None = None,
    min_subcategory_photos: int = 1,
) -> Selection:
    """Choose the items of each stage (see the module docstring)."""
    parents = multi_sub_parents(full, min_photos=min_subcategory_photos)
    base = balanced_subset(full, per_category, seed=seed)
    keep_photos = {p.relpath for p in base.photos}
    keep_photos |= {p.relpath for p in full.photos if p.category in parents}
    keep_sketches = {s.relpath for s in base.sketches}
    keep_sketches |= {s.relpath for s in full.sketches if s.category in parents}
    union = SketchPhotoDataset(
        root=full.root,
        photos=[p for p in full.photos if p.relpath in keep_photos],
        sketches=[s for s in full.sketches if s.relpath in keep_sketches],
        categories=list(full.categories),
    )
    base_photo_paths = {p.relpath for p in base.photos}
    general_photos = np.array(
        [i for i, p in enumerate(union.photos) if p.relpath in base_photo_paths], np.int64
    )
    if union.sketches:
        query_kind = "sketch"
        _, test_idx = sketch_split(full, seed=seed)
        test_paths = {full.sketches[i].relpath for i in test_idx}
        is_test = np.array([s.relpath in test_paths for s in union.sketches], bool)
        base_paths = {s.relpath for s in base.sketches}
        in_base = np.array([s.relpath in base_paths for s in union.sketches], bool)
    else:
        # No sketches (a photo library): 30% of each category's photos query the others.
        query_kind = "photo-edge-map"
        test_full = {full.photos[i].relpath for i in _photo_split(full, seed)}
        is_test = np.array([p.relpath in test_full for p in union.photos], bool)
        in_base = np.isin(np.arange(len(union.photos)), general_photos)
    return Selection(
        dataset=union,
        layout=layout,
        query_kind=query_kind,
        general_photos=general_photos,
        general_queries=np.flatnonzero(is_test & in_base),
        train_queries=np.flatnonzero(~is_test & in_base)
        if query_kind == "sketch"
        else np.array([], np.int64),
        personal_photos=np.arange(len(union.photos), dtype=np.int64),
        query_is_test=is_test,
        parents=parents,
    )
