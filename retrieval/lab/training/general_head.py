"""Train the general model's head on cached trunk maps and write it atomically.

    python -m retrieval.lab train --data DIR --out PATH
        [--trunk efficientnet_lite2|efficientnet_lite0|vgg16_hed] [--epochs N]
        [--holdout-categories 20] [--val-categories 0] [--per-category K] [--seed 0]
        [--device cuda]

Steps: index DIR; draw the seeded category holdout (never seen by training or model
selection) and the seeded 7:3 sketch split; cache the trunk maps (``--cache-dir``, shared
with ``evaluate``) of the training items only; train the head; with ``--val-categories V``,
measure mAP after every epoch on V further *training* categories kept out of training
(model selection only ever looks at those). The checkpoint's metadata records the trunk,
the recipe, the splits and the wall time; search, indexing, evaluation and personalization
read the trunk from it.

- EfficientNet-Lite trunks (the product): every training image in several cached augmented
  views (:mod:`.augmented_views`), the head trained with the view recipe
  (:mod:`.view_recipe`).
- ``vgg16_hed`` (the paper's Table 1, for the paper protocol): conv6 on cached conv5 maps of
  edge maps with the recipes of :mod:`.conv6_recipes` (``--recipe``, eq. 4 among
  them); after every epoch a resumable state file is written next to ``--out`` (rerun the
  same command to continue).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retrieval.engine.checkpoints import atomic_write
from retrieval.engine.encoder import Conv6Head
from retrieval.engine.heads import new_head, save_head
from retrieval.engine.model import head_vectors
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.trunks import trunk_spec
from retrieval.engine.weights import default_model_dir
from retrieval.lab.cache import balanced_subset
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.evaluation import rank_summary
from retrieval.lab.featurize import dataset_features
from retrieval.lab.splits import holdout_categories, make_splits
from retrieval.lab.training.augmented_views import (
    load_views,
    view_stores,
    warm_views,
)
from retrieval.lab.training.conv6_recipes import (
    RecipeConfig,
    TrainData,
    recipe_head,
    train_head,
)
from retrieval.lab.training.view_recipe import ViewData, ViewRecipe, train_on_views

STATE_SUFFIX = ".train-state.pt"


def state_path(out: Path) -> Path:
    return out.with_name(out.name + STATE_SUFFIX)


def _subset(dataset: SketchPhotoDataset, photos: list[int], sketches: list[int]):
    return SketchPhotoDataset(
        root=dataset.root,
        photos=[dataset.photos[i] for i in photos],
        sketches=[dataset.sketches[i] for i in sketches],
        categories=list(dataset.categories),
    )


def build_train_data(
    dataset: SketchPhotoDataset, photo_feats: np.ndarray, sketch_feats: np.ndarray
) -> TrainData:
    """Labels (over the categories present) and instance pairs of a training subset."""
    cats = sorted({p.category for p in dataset.photos} | {s.category for s in dataset.sketches})
    index = {c: i for i, c in enumerate(cats)}
    photo_of = {(p.category, p.path.stem): i for i, p in enumerate(dataset.photos)}
    return TrainData(
        sketch_feats=sketch_feats,
        photo_feats=photo_feats,
        sketch_labels=np.array([index[s.category] for s in dataset.sketches], np.int64),
        photo_labels=np.array([index[p.category] for p in dataset.photos], np.int64),
        instance_photo=np.array(
            [photo_of.get((s.category, s.photo_stem), -1) for s in dataset.sketches], np.int64
        ),
    )


def _fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def training_split(
    args: argparse.Namespace,
) -> tuple[SketchPhotoDataset, Any, list[str], SketchPhotoDataset]:
    """(dataset, splits, validation categories, training items) for ``args``.

    Held-out categories and test sketches never reach the training items; validation
    categories come from the training categories only (a different seeded draw).
    """
    full = SketchPhotoDataset.scan(args.data)
    dataset = balanced_subset(full, args.per_category, seed=args.seed)
    splits = make_splits(dataset, holdout=args.holdout_categories, seed=args.seed, full=full)
    val = (
        holdout_categories(splits.seen, args.val_categories, seed=args.seed + 1)
        if args.val_categories
        else []
    )
    val_set = set(val)
    train_ds = _subset(
        dataset,
        [i for i in splits.seen_photos if dataset.photos[i].category not in val_set],
        [i for i in splits.train_sketches if dataset.sketches[i].category not in val_set],
    )
    return dataset, splits, val, train_ds


def _trained_on(
    args: argparse.Namespace, train_ds: SketchPhotoDataset, holdout: list[str], val: list[str]
) -> dict[str, Any]:
    """What the checkpoint records about the data it saw (and what it never saw)."""
    return {
        "data": Path(args.data).name,
        "categories": sorted({p.category for p in train_ds.photos}),
        "photos": len(train_ds.photos),
        "sketches": len(train_ds.sketches),
        "holdout_categories": holdout,
        "val_categories": val,
        "per_category": args.per_category,
        "seed": args.seed,
    }


def _write(head: torch.nn.Module, args: argparse.Namespace, metadata: dict[str, Any]) -> None:
    save_head(head, args.out, metadata=metadata)
    if args.metrics_json:
        history = json.dumps(metadata["history"], indent=1).encode()
        atomic_write(args.metrics_json, lambda fh: fh.write(history))


def validation(
    dataset: SketchPhotoDataset,
    val: list[str],
    extractor: FeatureExtractor,
    args: argparse.Namespace,
    progress: bool,
) -> Callable[[torch.nn.Module], dict]:
    """mAP etc. of a head: every sketch of the validation categories (never trained on)
    against their photos; model selection only ever looks at these."""
    val_set = set(val)
    val_ds = _subset(
        dataset,
        [i for i, p in enumerate(dataset.photos) if p.category in val_set],
        [i for i, s in enumerate(dataset.sketches) if s.category in val_set],
    )
    vp, vs = dataset_features(val_ds, extractor, args.cache_dir, progress=progress)
    vp_lab = np.array([p.category for p in val_ds.photos], dtype=object)
    vs_lab = np.array([s.category for s in val_ds.sketches], dtype=object)

    def val_eval(head: torch.nn.Module) -> dict:
        with torch.no_grad():
            return rank_summary(
                head_vectors(head, vs.astype(np.float16)),
                vs_lab,
                head_vectors(head, vp.astype(np.float16)),
                vp_lab,
            )

    return val_eval


def train(args: argparse.Namespace, extractor: FeatureExtractor | None = None) -> dict[str, Any]:
    """Train as ``args`` (the options of ``retrieval.lab train``) say; returns the metadata
    written into the checkpoint."""
    if trunk_spec(args.trunk).head_arch == "conv6_head":
        return run_conv6(args, extractor)
    return run_views(args, extractor)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def run_conv6(args: argparse.Namespace, extractor: FeatureExtractor | None = None) -> dict:
    """The VGG-16 conv6 recipes on cached conv5 maps (the paper's protocol)."""
    started = time.monotonic()
    torch.manual_seed(args.seed)
    progress = not args.no_progress
    defaults = RecipeConfig()
    config = RecipeConfig(
        recipe=args.recipe,
        epochs=_or(args.epochs, defaults.epochs),
        batch_size=_or(args.batch_size, defaults.batch_size),
        lr=_or(args.lr, defaults.lr),
        temperature=_or(args.temperature, defaults.temperature),
        cls_weight=args.cls_weight,
        pp_weight=args.pp_weight,
        instance_rate=args.instance_rate,
        init=args.init,
        seed=args.seed,
    )
    extractor = extractor or FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        trunk="vgg16_hed",
        device=args.device,
        edge_method=args.edge_method,
    )
    dataset, splits, val, train_ds = training_split(args)
    photo_feats, sketch_feats = dataset_features(
        train_ds, extractor, args.cache_dir, progress=progress
    )
    data = build_train_data(train_ds, photo_feats, sketch_feats)

    val_eval = validation(dataset, val, extractor, args, progress) if val else None

    fingerprint = _fingerprint(
        {
            "config": config.as_dict(),
            "holdout": splits.unseen,
            "val": val,
            "per_category": args.per_category,
            "version": extractor.version(),
            "n": [len(train_ds.photos), len(train_ds.sketches)],
        }
    )
    head, start_epoch, extra, history = recipe_head(config), 0, None, []
    spath = state_path(args.out)
    if spath.is_file():
        state = torch.load(spath, map_location="cpu", weights_only=True)
        if state.get("fingerprint") == fingerprint:
            head.load_state_dict(state["head"])
            start_epoch, extra = int(state["epoch"]) + 1, state["extra"]
            history = json.loads(state["history"])
            print(f"resuming after epoch {start_epoch}", file=sys.stderr)
        else:
            print(f"ignoring {spath}: it belongs to another run", file=sys.stderr)

    def on_epoch(epoch: int, trained: Conv6Head, extra_state: dict) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": extra_state.get("loss")}
        if val_eval is not None:
            row.update({f"val_{k}": v for k, v in val_eval(trained).items()})
        history.append(row)
        if progress and val_eval is not None:
            print(json.dumps(row), file=sys.stderr)
        payload = {
            "fingerprint": fingerprint,
            "epoch": epoch,
            "head": {k: v.detach().cpu().clone() for k, v in trained.state_dict().items()},
            "extra": {k: v for k, v in extra_state.items() if k != "loss"},
            "history": json.dumps(history),
        }
        atomic_write(spath, lambda fh: torch.save(payload, fh))

    head = train_head(
        data,
        config,
        head=head,
        start_epoch=start_epoch,
        extra_state=extra,
        device=extractor.device,
        progress=progress,
        on_epoch=on_epoch,
    ).cpu()
    metadata = {
        "kind": "general",
        "recipe": config.as_dict(),
        "edge_method": extractor.edge_method,
        "features_version": extractor.version(),
        "trained_on": _trained_on(args, train_ds, splits.unseen, val),
        "history": history,
        "seconds": round(time.monotonic() - started, 1),
        "command": " ".join(sys.argv),
    }
    _write(head, args, metadata)
    return metadata


def _labels(ds: SketchPhotoDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cats = sorted({p.category for p in ds.photos} | {s.category for s in ds.sketches})
    index = {c: i for i, c in enumerate(cats)}
    photo_of = {(p.category, p.path.stem): i for i, p in enumerate(ds.photos)}
    return (
        np.array([index[s.category] for s in ds.sketches], np.int64),
        np.array([index[p.category] for p in ds.photos], np.int64),
        np.array([photo_of.get((s.category, s.photo_stem), -1) for s in ds.sketches], np.int64),
    )


def run_views(args: argparse.Namespace, extractor: FeatureExtractor | None = None) -> dict:
    """The product's recipe: a head on cached, augmented trunk maps (see view_recipe)."""
    started = time.monotonic()
    progress = not args.no_progress
    base = ViewRecipe()
    recipe = ViewRecipe(
        epochs=_or(args.epochs, base.epochs),
        batch_size=_or(args.batch_size, base.batch_size),
        lr=_or(args.lr, base.lr),
        pretrained_lr_scale=args.pretrained_lr_scale,
        temperature=_or(args.temperature, base.temperature),
        instance_rate=args.instance_rate,
        joint_weight=args.joint_weight,
        seed=args.seed,
    )
    photo_views = tuple(v for v in args.photo_views.split(",") if v)
    sketch_views = tuple(v for v in args.sketch_views.split(",") if v)
    extractor = extractor or FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        trunk=args.trunk,
        device=args.device,
        batch_size=32,
    )
    dataset, splits, val, train_ds = training_split(args)
    # Only training items are embedded (in every view): nothing else can reach training.
    warm_views(
        train_ds,
        extractor,
        args.cache_dir,
        photo_views=photo_views,
        sketch_views=sketch_views,
        seed=args.seed,
        progress=progress,
    )
    stores = view_stores(extractor, args.cache_dir)
    s_lab, p_lab, instance = _labels(train_ds)
    data = ViewData(
        sketch_views=load_views(
            stores["sketch"], [s.relpath for s in train_ds.sketches], sketch_views
        ),
        photo_views=load_views(stores["photo"], [p.relpath for p in train_ds.photos], photo_views),
        sketch_labels=s_lab,
        photo_labels=p_lab,
        instance_photo=instance,
    )
    history: list[dict[str, Any]] = []
    val_eval = validation(dataset, val, extractor, args, progress) if val else None

    def log(line: str) -> None:
        if progress:
            print(line, file=sys.stderr, flush=True)

    def on_epoch(epoch: int, head: torch.nn.Module, loss: float) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": round(loss, 5)}
        if val_eval is not None:
            row.update({f"val_{k}": v for k, v in val_eval(head).items()})
            log(json.dumps(row))
        history.append(row)

    head = new_head(args.trunk, args.seed)
    if val_eval is not None:
        history.append({"epoch": 0, **{f"val_{k}": v for k, v in val_eval(head).items()}})
        log(json.dumps(history[-1]))
    trained_started = time.monotonic()
    head = train_on_views(
        head, data, recipe, device=extractor.device, on_epoch=on_epoch, log=log
    ).cpu()
    metadata = {
        "kind": "general",
        "recipe": recipe.as_dict(),
        "photo_views": list(photo_views),
        "sketch_views": list(sketch_views),
        "features_version": extractor.version(),
        "trained_on": _trained_on(args, train_ds, splits.unseen, val),
        "history": history,
        "training_seconds": round(time.monotonic() - trained_started, 1),
        "seconds": round(time.monotonic() - started, 1),
        "command": " ".join(sys.argv),
    }
    _write(head, args, metadata)
    return metadata
