"""Write the deterministic untrained general head, so the product works before training.

    python -m retrieval.engine.bootstrap_head --out retrieval/engine/assets/general_head.pt

See :func:`retrieval.engine.heads.bootstrap_conv6_head` for what the head computes; a trained
head (``python -m retrieval.engine.train``) replaces the file later.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .heads import BOOTSTRAP_SEED, DEFAULT_HEAD_PATH, bootstrap_conv6_head, save_conv6_head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.engine.bootstrap_head")
    parser.add_argument("--out", type=Path, default=DEFAULT_HEAD_PATH)
    parser.add_argument("--seed", type=int, default=BOOTSTRAP_SEED)
    args = parser.parse_args(argv)
    head = bootstrap_conv6_head(args.seed)
    save_conv6_head(
        head,
        args.out,
        metadata={
            "kind": "bootstrap",
            "seed": args.seed,
            "trained": False,
            "description": (
                "untrained: conv6 = random orthogonal 64-d projection of conv5, max-pooled"
            ),
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
