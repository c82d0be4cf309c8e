"""Model selection for issue 9: several recipes, one process, validation categories only.

    python -m retrieval.engine.general_training.experiments --data DIR --per-category K

Every variant trains on the training categories minus ``--val-categories`` of them and is
scored after every epoch on those validation categories (their sketches against their
photos). The held-out test categories and the test sketches are never loaded. Writes one
JSON line per variant (best epoch, its validation figures, wall time) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .. import train_general

VARIANTS: dict[str, list[str]] = {
    "paper_eq4": ["--recipe", "paper", "--epochs", "20"],
    "nce": ["--recipe", "nce"],
    "nce_cls": ["--recipe", "nce_cls"],
    "nce_cls_pp": ["--recipe", "nce_cls_pp"],
    "nce_cls_no_instance": ["--recipe", "nce_cls", "--instance-rate", "0"],
    "nce_cls_random_init": ["--recipe", "nce_cls", "--init", "random"],
    "nce_cls_lr3e-4": ["--recipe", "nce_cls", "--lr", "3e-4"],
    "nce_cls_pp_cls1": ["--recipe", "nce_cls_pp", "--cls-weight", "1.0"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.engine.general_training.experiments")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--per-category", type=int, default=None)
    parser.add_argument("--val-categories", type=int, default=10)
    parser.add_argument("--holdout-categories", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--workdir", type=Path, default=Path("var/experiments"))
    parser.add_argument("--out", type=Path, default=Path("var/experiments/selection.jsonl"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in args.variants:
        argv_v = [
            "--data", str(args.data),
            "--out", str(args.workdir / f"{name}.pt"),
            "--holdout-categories", str(args.holdout_categories),
            "--val-categories", str(args.val_categories),
            "--epochs", str(args.epochs),
            "--no-progress",
        ]  # fmt: skip
        if args.per_category:
            argv_v += ["--per-category", str(args.per_category)]
        run_args = train_general.build_parser().parse_args(argv_v + VARIANTS[name])
        started = time.monotonic()
        meta = train_general.run(run_args)
        history = meta["history"]
        best = max(history, key=lambda row: row["val_map"])
        row = {
            "variant": name,
            "args": VARIANTS[name],
            "best_epoch": best["epoch"],
            "epochs": len(history),
            "best": {k: v for k, v in best.items() if k.startswith("val_")},
            "last": {k: v for k, v in history[-1].items() if k.startswith("val_")},
            "seconds": round(time.monotonic() - started, 1),
            "train_sketches": meta["trained_on"]["sketches"],
            "train_photos": meta["trained_on"]["photos"],
        }
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
