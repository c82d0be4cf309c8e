"""Train the general conv6 head on cached conv5 maps (issue 9) and write it atomically.

    python -m retrieval.engine.train_general --data DIR --out PATH [--recipe nce_cls]
        [--holdout-categories 20] [--val-categories 0] [--epochs 30] [--per-category K]
        [--seed 0] [--device cuda]

Steps: index DIR; draw the seeded category holdout (never seen by training or model
selection) and the seeded 7:3 sketch split; fill the conv5 cache (``--cache-dir``, shared
with ``evaluate``) for the training items only; train conv6 with the recipe (see
:mod:`.general_training.recipe`); after every epoch write a resumable state file next to
``--out`` (rerun the same command to continue) and, with ``--val-categories V``, measure mAP
on V further *training* categories kept out of training (model selection only ever looks
at those). The result is a ``conv6_head`` checkpoint whose metadata records the recipe,
the splits, the edge method and the wall time; ``evaluate`` reads the edge method from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoints import atomic_write
from .data import SketchPhotoDataset
from .encoder import Conv6Head
from .evaluate import rank_summary
from .featurize import dataset_features
from .general_training.cache import DEFAULT_CACHE_DIR, balanced_subset
from .general_training.recipe import RECIPES, RecipeConfig, TrainData, new_head, train_head
from .general_training.splits import holdout_categories, make_splits
from .heads import save_conv6_head
from .pipeline import FeatureExtractor, head_vectors
from .weights import default_model_dir

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m retrieval.engine.train_general",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = RecipeConfig()
    add = parser.add_argument
    add("--data", type=Path, required=True, help="folder with photo/ and sketch/")
    add("--out", type=Path, required=True, help="conv6 head checkpoint to write")
    add("--recipe", choices=RECIPES, default=defaults.recipe)
    add("--epochs", type=int, default=defaults.epochs)
    add("--batch-size", type=int, default=defaults.batch_size)
    add("--lr", type=float, default=defaults.lr)
    add("--temperature", type=float, default=defaults.temperature)
    add("--cls-weight", type=float, default=defaults.cls_weight)
    add("--pp-weight", type=float, default=defaults.pp_weight)
    add("--instance-rate", type=float, default=defaults.instance_rate)
    add("--init", choices=("bootstrap", "random"), default=defaults.init)
    add("--seed", type=int, default=0)
    add("--holdout-categories", type=int, default=20, help="kept out of everything")
    add("--val-categories", type=int, default=0, help="training categories used to select")
    add("--per-category", type=int, default=None, help="first K photos/sketches per category")
    add("--edge-method", choices=("hed", "canny"), default="canny")
    add("--model-dir", type=Path, default=None)
    add("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    add("--device", default="auto")
    add("--threads", type=int, default=2, help="torch CPU threads")
    add("--metrics-json", type=Path, default=None, help="write per-epoch validation here")
    add("--no-progress", action="store_true")
    return parser


def run(args: argparse.Namespace, extractor: FeatureExtractor | None = None) -> dict[str, Any]:
    """Train as ``args`` say; returns the metadata written into the checkpoint."""
    started = time.monotonic()
    torch.manual_seed(args.seed)
    progress = not args.no_progress
    config = RecipeConfig(
        recipe=args.recipe,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        temperature=args.temperature,
        cls_weight=args.cls_weight,
        pp_weight=args.pp_weight,
        instance_rate=args.instance_rate,
        init=args.init,
        seed=args.seed,
    )
    extractor = extractor or FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        device=args.device,
        edge_method=args.edge_method,
    )
    full = SketchPhotoDataset.scan(args.data)
    dataset = balanced_subset(full, args.per_category, seed=args.seed)
    splits = make_splits(dataset, holdout=args.holdout_categories, seed=args.seed, full=full)
    # Validation categories come from the training categories only (a different draw).
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
    photo_feats, sketch_feats = dataset_features(
        train_ds, extractor, args.cache_dir, progress=progress
    )
    data = build_train_data(train_ds, photo_feats, sketch_feats)

    val_eval = None
    if val:
        # Every sketch of a validation category (they are not trained on) vs their photos.
        val_ds = _subset(
            dataset,
            [i for i, p in enumerate(dataset.photos) if p.category in val_set],
            [i for i, s in enumerate(dataset.sketches) if s.category in val_set],
        )
        vp, vs = dataset_features(val_ds, extractor, args.cache_dir, progress=progress)
        vp_lab = np.array([p.category for p in val_ds.photos], dtype=object)
        vs_lab = np.array([s.category for s in val_ds.sketches], dtype=object)

        def val_eval(head: Conv6Head) -> dict:
            with torch.no_grad():
                return rank_summary(
                    head_vectors(vs.astype(np.float16), head),
                    vs_lab,
                    head_vectors(vp.astype(np.float16), head),
                    vp_lab,
                )

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
    head, start_epoch, extra, history = new_head(config), 0, None, []
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
        "trained_on": {
            "data": Path(args.data).name,
            "categories": sorted({p.category for p in train_ds.photos}),
            "photos": len(train_ds.photos),
            "sketches": len(train_ds.sketches),
            "holdout_categories": splits.unseen,
            "val_categories": val,
            "per_category": args.per_category,
            "seed": args.seed,
        },
        "history": history,
        "seconds": round(time.monotonic() - started, 1),
        "command": " ".join(sys.argv),
    }
    save_conv6_head(head, args.out, metadata=metadata)
    if args.metrics_json:
        atomic_write(args.metrics_json, lambda fh: fh.write(json.dumps(history, indent=1).encode()))
    return metadata


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        metadata = run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = metadata["history"][-1] if metadata["history"] else {}
    print(json.dumps({"out": str(args.out), "seconds": metadata["seconds"], **last}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
