"""The training split of a sketch/photo folder, embedded as search asks: what the studies
that measure a serving rule read (personalization's closeness, the far-match note).

Only the training sketches of the categories a general head is trained on (the seeded 7:3
split and category holdout of ``retrieval.lab train``) and those categories' photos: test
sketches and held-out categories are never read.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.engine.pipeline import Engine, EngineConfig, mirror_mean
from retrieval.engine.weights import default_model_dir
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.featurize import dataset_features, mirrored_sketch_features
from retrieval.lab.splits import Splits, make_splits


@dataclass
class AskedSplit:
    engine: Engine
    dataset: SketchPhotoDataset
    splits: Splits
    train: np.ndarray  # sketch indices of the training split (seen categories)
    photos: np.ndarray  # photo indices of the seen categories
    sketches: np.ndarray  # their vectors: a sketch averaged with its mirror image's
    gallery: np.ndarray  # the photos' vectors
    sketch_cat: np.ndarray
    photo_cat: np.ndarray


def asked_split(
    data: Path,
    *,
    head: Path,
    cache_dir: Path,
    model_dir: Path | None = None,
    holdout: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> AskedSplit:
    """Load the folder, its training split and the vectors (trunk maps from the cache)."""
    dataset = SketchPhotoDataset.scan(data)
    splits = make_splits(dataset, holdout=holdout, seed=seed)
    engine = Engine(EngineConfig(model_dir=Path(model_dir or default_model_dir()), head_path=head))
    photo_maps, sketch_maps = dataset_features(
        dataset, engine.extractor, cache_dir, progress=progress
    )
    mirrored = mirrored_sketch_features(dataset, engine.extractor, cache_dir, progress=progress)
    train = np.asarray(splits.train_sketches, np.int64)
    photos = np.asarray(splits.seen_photos, np.int64)
    return AskedSplit(
        engine=engine,
        dataset=dataset,
        splits=splits,
        train=train,
        photos=photos,
        sketches=mirror_mean(
            engine.head_vectors(sketch_maps[train]), engine.head_vectors(mirrored[train])
        ),
        gallery=engine.head_vectors(photo_maps[photos]),
        sketch_cat=np.array([dataset.sketches[i].category for i in train], dtype=object),
        photo_cat=np.array([dataset.photos[i].category for i in photos], dtype=object),
    )


def asked_split_from_args(args: argparse.Namespace, head: Path | None = None) -> AskedSplit:
    """:func:`asked_split` with the options of
    :func:`retrieval.lab.options.add_asked_split_options`."""
    return asked_split(
        args.data,
        head=head or args.head,
        cache_dir=args.cache_dir,
        model_dir=args.model_dir,
        holdout=args.holdout_categories,
        seed=args.seed,
        progress=not args.no_progress,
    )
