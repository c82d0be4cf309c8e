"""Folder datasets: any category names, instance pairing, sub-categories, seeded 7:3 split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.lab.data import SketchPhotoDataset, read_rgb


def _image(path: Path, colour=(255, 255, 255)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), colour).save(path)


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    for cat, n in (("zebra crossing", 3), ("Ünïcode", 2)):
        for i in range(n):
            _image(tmp_path / "photo" / cat / f"syn{i}_{i}.jpg")
            for k in (1, 2):
                _image(tmp_path / "sketch" / cat / f"syn{i}_{i}-{k}.png")
    _image(tmp_path / "sketch" / "Ünïcode" / "freehand.png")  # no photo pair
    (tmp_path / "photo" / "zebra crossing" / "notes.txt").write_text("ignored")
    (tmp_path / "subcategories.tsv").write_text(
        "path\tclass\tsubcategory\nphoto/zebra crossing/syn0_0.jpg\tzebra crossing\tstriped\n"
    )
    return tmp_path


def test_scan_reads_the_plain_folder_layout(dataset_dir):
    ds = SketchPhotoDataset.scan(dataset_dir)
    assert ds.categories == sorted(["zebra crossing", "Ünïcode"])
    assert len(ds.photos) == 5 and len(ds.sketches) == 11
    assert ds.photos[0].relpath.startswith("photo/")
    subcats = {p.relpath: p.subcategory for p in ds.photos}
    assert subcats["photo/zebra crossing/syn0_0.jpg"] == "striped"
    assert subcats["photo/zebra crossing/syn1_1.jpg"] == "zebra crossing"  # default: the class


def test_instance_pairing(dataset_dir):
    ds = SketchPhotoDataset.scan(dataset_dir)
    pairs = ds.instance_photo_index()
    for sketch, photo in zip(ds.sketches, pairs, strict=True):
        if sketch.path.stem == "freehand":
            assert photo == -1
        else:
            assert ds.photos[photo].path.stem == sketch.path.stem.rsplit("-", 1)[0]
            assert ds.photos[photo].category == sketch.category


def test_split_is_seeded_per_category_and_complete(dataset_dir):
    ds = SketchPhotoDataset.scan(dataset_dir)
    train, test = ds.split_sketches(test_fraction=0.3, seed=4)
    assert sorted(train + test) == list(range(len(ds.sketches)))
    assert not set(train) & set(test)
    assert (train, test) == ds.split_sketches(test_fraction=0.3, seed=4)
    labels = ds.sketch_labels()
    for c in range(len(ds.categories)):
        n = int((labels == c).sum())
        assert int((labels[test] == c).sum()) == round(n * 0.3)


def test_restrict_limit_and_errors(dataset_dir, tmp_path_factory):
    ds = SketchPhotoDataset.scan(dataset_dir)
    small = ds.restrict(["Ünïcode"]).limit_per_category(photos=1, sketches=2)
    assert len(small.photos) == 1 and len(small.sketches) == 2
    assert np.array_equal(small.photo_labels(), [0])
    assert read_rgb(ds.photos[0].path).shape == (12, 16, 3)
    with pytest.raises(FileNotFoundError):
        SketchPhotoDataset.scan(tmp_path_factory.mktemp("empty"))
