"""Train a general conv6 head on cached conv5 features of a folder dataset (small, seeded).

    python -m retrieval.engine.train --data DIR --out PATH [--epochs 20] [--categories 10]

Steps: index DIR (see :mod:`.data`), split each category's sketches 7:3 (seeded), compute or
reuse the conv5 maps of every photo (edge map first) and sketch, train conv6 with eq. 4 on
balanced pairs of training sketches and photos, report mAP / P@10 of the held-out sketches
against every photo before and after training, and write the head checkpoint atomically.
The fuller recipe of issue 9 (``train_general``) builds on the same pieces.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import SketchPhotoDataset
from .encoder import Conv6Head
from .featurize import dataset_features
from .heads import bootstrap_conv6_head, save_conv6_head
from .metrics import relevance_matrix, summarize
from .pipeline import FeatureExtractor, head_vectors
from .training import PAPER_LR, train_head_on_features
from .weights import default_model_dir, repo_root


def retrieval_summary(
    query_vectors: np.ndarray,
    query_labels: np.ndarray,
    gallery_vectors: np.ndarray,
    gallery_labels: np.ndarray,
) -> dict:
    """mAP, P@10, P@20 of each query against the whole gallery (Euclidean, exact)."""
    d2 = (
        (query_vectors**2).sum(1)[:, None]
        + (gallery_vectors**2).sum(1)[None, :]
        - 2.0 * query_vectors @ gallery_vectors.T
    )
    ranked = np.argsort(d2, axis=1, kind="stable")
    return summarize(relevance_matrix(ranked, query_labels, gallery_labels))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval.engine.train", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (photo/, sketch/)")
    parser.add_argument("--out", type=Path, required=True, help="head checkpoint to write")
    parser.add_argument("--model-dir", type=Path, default=None, help="where vgg16_hed.pt lives")
    parser.add_argument("--cache-dir", type=Path, default=None, help="conv5 feature cache")
    parser.add_argument("--edge-method", choices=("hed", "canny"), default="hed")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=PAPER_LR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", choices=("random", "bootstrap"), default="random")
    parser.add_argument("--categories", type=int, default=None, help="first N categories only")
    parser.add_argument("--per-category", type=int, default=None, help="at most N photos/sketches")
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dataset = SketchPhotoDataset.scan(args.data)
    if args.categories:
        dataset = dataset.restrict(dataset.categories[: args.categories])
    if args.per_category:
        dataset = dataset.limit_per_category(photos=args.per_category, sketches=args.per_category)
    train_idx, test_idx = dataset.split_sketches(test_fraction=args.test_fraction, seed=args.seed)
    extractor = FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        device=args.device,
        edge_method=args.edge_method,
    )
    cache_dir = args.cache_dir or repo_root() / "var" / "cache" / "train-features"
    photo_feats, sketch_feats = dataset_features(
        dataset, extractor, cache_dir, progress=not args.no_progress
    )
    photo_labels, sketch_labels = dataset.photo_labels(), dataset.sketch_labels()
    head = bootstrap_conv6_head(args.seed) if args.init == "bootstrap" else Conv6Head()

    def evaluate(module: torch.nn.Module) -> dict:
        if not test_idx:
            return {}
        return retrieval_summary(
            head_vectors(sketch_feats[test_idx], module),
            sketch_labels[test_idx],
            head_vectors(photo_feats, module),
            photo_labels,
        )

    before = evaluate(head)
    history = train_head_on_features(
        head,
        sketch_feats[train_idx],
        photo_feats,
        sketch_labels[train_idx],
        photo_labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=extractor.device,
        progress=not args.no_progress,
    )
    head = head.cpu()
    after = evaluate(head)
    summary = {
        "data": args.data.name,
        "categories": len(dataset.categories),
        "photos": len(dataset.photos),
        "train_sketches": len(train_idx),
        "test_sketches": len(test_idx),
        "edge_method": args.edge_method,
        "epochs": args.epochs,
        "seed": args.seed,
        "init": args.init,
        "final_loss": history[-1] if history else None,
        "test_before": before,
        "test_after": after,
        "chance_map": float(np.mean(np.bincount(photo_labels) / len(photo_labels))),
        "seconds": round(time.monotonic() - started, 1),
        "extractor": extractor.version(),
    }
    save_conv6_head(head, args.out, metadata={"kind": "trained", "trained": True, **summary})
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
