"""The photo-input study: which categories it measures, and photos as edge maps."""

from __future__ import annotations

import numpy as np

from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.splits import holdout_categories, make_splits
from retrieval.lab.studies import photo_input as study
from tests.lab.general_fakes import FakeExtractor, make_dataset


def test_it_measures_the_held_out_and_the_model_selection_categories(tmp_path):
    root = make_dataset(tmp_path / "shapes", photos=3, sketches_per_photo=1)
    full = SketchPhotoDataset.scan(root)
    # Four shapes: one held out, two of the other three drawn as validation (not 20).
    groups = study._categories(full, 1, 0, validation=2)
    splits = make_splits(full, holdout=1, seed=0)
    assert groups["unseen"] == splits.unseen
    # The same draw as `retrieval.lab train --val-categories` (seed + 1 among the seen categories).
    assert groups["validation"] == holdout_categories(splits.seen, 2, seed=1)
    assert not set(groups["unseen"]) & set(groups["validation"])
    part = study._part(full, groups["unseen"])
    assert {p.category for p in part.photos} == set(groups["unseen"])
    assert len(part.sketches) == sum(s.category in groups["unseen"] for s in full.sketches)


def test_canny_photos_go_in_as_binary_maps_through_the_sketch_path(tmp_path):
    root = make_dataset(tmp_path / "shapes", photos=2, sketches_per_photo=1)
    full = SketchPhotoDataset.scan(root)
    seen: list[np.ndarray] = []
    extractor = FakeExtractor()
    features = extractor.features

    def record(maps):
        seen.extend(maps)
        return features(maps)

    extractor.features = record  # type: ignore[method-assign]
    maps = study.edge_input_maps(full, extractor, hed=None, method="canny")  # type: ignore[arg-type]
    assert len(maps) == len(full.photos)
    assert all(m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255} for m in seen)
    assert all((m == 0).any() for m in seen)  # every shape photo has edges
