"""The far-match threshold of a general head, measured on the training split.

    python -m retrieval.lab study far-match --data ../shared/data/sketchy-mini \
        [--head PATH] [--seed 0] [--holdout-categories 20] [--flag-rate 0.01]
        [--demo retrieval/demo_library] [--json PATH] [--write]

Queries are the *training* sketches of the seen categories (the seeded 7:3 split of
``retrieval.lab train``; test sketches and the held-out categories are never read), asked as search
asks them: the sketch averaged with its mirror image, expanded with its 3 nearest photos of
the gallery at hand. The galleries are the seen categories' photos:

- ``present``: the whole gallery, the sketch's own category in it (a real match exists);
  the best distance is what a search would report first;
- ``absent``: the same gallery with the sketch's category removed (nothing drawn is there:
  the fish drawn in a library without fish);
- the same two on small libraries, ``--small-categories`` categories drawn at random
  (the demo library holds 12), ``--small-draws`` draws per sketch.

``--demo DIR`` (the bundled ``retrieval/demo_library``) checks the threshold on the demo
library itself, clip art rather than photos: training sketches of the categories that have a
counterpart there (:data:`DEMO_COUNTERPARTS`: a pig among the mammals) and of categories with
nothing like them there (:data:`DEMO_ABSENT`: a fish), against its 299 images, embedded here.

The threshold is the ``1 - flag_rate`` quantile of the best distance of ``present`` queries
(pooled over both gallery sizes): about ``flag_rate`` of searches with a real match get the
note (1 %, as the closeness rule leaves 99 % of unrelated searches alone). Printed: the
distributions, the threshold and the share of each case above it; ``--write`` stores it in
``retrieval/engine/assets/far_match.json`` under the head's model version. numpy on the
cached trunk maps (``var/cache/features``): seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from retrieval.engine.distances import squared_distances
from retrieval.engine.far_match import FarMatchRule
from retrieval.engine.pipeline import Engine
from retrieval.engine.query_expansion import expand_against
from retrieval.lab.asked_split import asked_split_from_args

PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
# Sketchy categories whose object the demo library shows (its category in brackets), and
# ones it holds nothing like; categories with a loose counterpart (a dog among foxes and
# cats, a motorcycle beside bicycles, a pineapple among other fruit) are in neither.
DEMO_COUNTERPARTS = {
    **dict.fromkeys(
        ["ape", "bat", "cat", "cow", "elephant", "giraffe", "kangaroo", "pig", "rabbit"],
        "mammal",
    ),
    **dict.fromkeys(["sheep", "squirrel"], "mammal"),
    **dict.fromkeys(["chicken", "owl", "penguin", "seagull", "wading_bird"], "bird"),
    **dict.fromkeys(["ant", "bee", "beetle", "butterfly"], "bug"),
    **dict.fromkeys(["apple", "banana"], "fruit"),
    **dict.fromkeys(["airplane", "bicycle", "car_(sedan)"], "vehicle"),
    "sailboat": "boat",
    "flower": "flower",
    "cabin": "house",
    **dict.fromkeys(["axe", "hammer"], "tool"),
    "guitar": "music",
    **dict.fromkeys(["cup", "teapot"], "beverage"),
}
# fmt: off
DEMO_ABSENT = (
    "alarm_clock", "armor", "bench", "blimp", "bread", "cannon", "castle", "chair", "church",
    "couch", "dolphin", "door", "eyeglasses", "fish", "frog", "geyser", "hamburger",
    "hermit_crab", "hot-air_balloon", "hotdog", "hourglass", "jack-o-lantern", "jellyfish",
    "knife", "lobster", "pizza", "rifle", "rocket", "scorpion", "sea_turtle", "skyscraper",
    "snail", "snake", "spoon", "starfish", "table", "tank", "turtle", "umbrella", "volcano",
    "window",
)
# fmt: on


def best_distances(queries: np.ndarray, gallery: np.ndarray, neighbours: int) -> np.ndarray:
    """Each query's distance to its nearest gallery vector, asked as search asks (expanded
    with its ``neighbours`` nearest photos of ``gallery``; Euclidean, as the index reports)."""
    asked = expand_against(queries, gallery, neighbours)
    return np.sqrt(squared_distances(asked, gallery).min(axis=1))


def present_and_absent(
    sketches: np.ndarray,
    sketch_cat: np.ndarray,
    gallery: np.ndarray,
    photo_cat: np.ndarray,
    *,
    neighbours: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Best distances of every sketch with its category in the gallery, and without it."""
    present = best_distances(sketches, gallery, neighbours)
    absent = np.empty(len(sketches))
    for category in np.unique(sketch_cat):
        rows = sketch_cat == category
        absent[rows] = best_distances(sketches[rows], gallery[photo_cat != category], neighbours)
    return present, absent


def small_libraries(
    sketches: np.ndarray,
    sketch_cat: np.ndarray,
    gallery: np.ndarray,
    photo_cat: np.ndarray,
    *,
    categories: int,
    draws: int,
    neighbours: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`present_and_absent` on libraries of ``categories`` categories: per sketch and
    draw, its own category and ``categories - 1`` random others (present), or ``categories``
    random others (absent)."""
    rng = np.random.default_rng(seed)
    names = np.unique(photo_cat)
    present, absent = [], []
    for i in range(len(sketches)):
        others = names[names != sketch_cat[i]]
        for _ in range(draws):
            picked = rng.choice(others, categories, replace=False)
            with_own = np.isin(photo_cat, [sketch_cat[i], *picked[: categories - 1]])
            without = np.isin(photo_cat, picked)
            query = sketches[i : i + 1]
            present.append(best_distances(query, gallery[with_own], neighbours)[0])
            absent.append(best_distances(query, gallery[without], neighbours)[0])
    return np.asarray(present), np.asarray(absent)


def demo_check(
    engine: Engine,
    demo_dir: Path,
    sketches: np.ndarray,
    sketch_cat: np.ndarray,
    *,
    neighbours: int,
) -> dict[str, np.ndarray]:
    """Best distances of training sketches against the demo library's images: of
    categories with a counterpart there (``present``) and of ones it lacks (``absent``)."""
    import csv

    from retrieval.lab.data import read_rgb

    with open(Path(demo_dir) / "manifest.csv", newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    images = [read_rgb(Path(demo_dir) / "images" / name) for name in files]
    gallery = np.stack(
        [
            e.vector
            for start in range(0, len(images), 32)
            for e in engine.embed_photos(images[start : start + 32])
        ]
    )
    present = np.isin(sketch_cat, list(DEMO_COUNTERPARTS))
    absent = np.isin(sketch_cat, DEMO_ABSENT)
    return {
        f"demo_present_{len(files)}_images": best_distances(sketches[present], gallery, neighbours),
        f"demo_absent_{len(files)}_images": best_distances(sketches[absent], gallery, neighbours),
    }


def summary(values: np.ndarray) -> dict:
    return {
        "n": int(len(values)),
        "percentiles": {p: round(float(np.percentile(values, p)), 4) for p in PERCENTILES},
    }


def measure(args: argparse.Namespace) -> tuple[FarMatchRule, dict]:
    """The threshold and the report (the options of ``study far-match``)."""
    split = asked_split_from_args(args)
    engine, sketches, gallery = split.engine, split.sketches, split.gallery
    sketch_cat, photo_cat = split.sketch_cat, split.photo_cat
    k = args.query_expansion
    present, absent = present_and_absent(sketches, sketch_cat, gallery, photo_cat, neighbours=k)
    small_present, small_absent = small_libraries(
        sketches,
        sketch_cat,
        gallery,
        photo_cat,
        categories=args.small_categories,
        draws=args.small_draws,
        neighbours=k,
        seed=args.seed,
    )
    threshold = float(np.quantile(np.concatenate([present, small_present]), 1 - args.flag_rate))
    cases = {
        f"present_{len(np.unique(photo_cat))}_categories": present,
        f"absent_{len(np.unique(photo_cat)) - 1}_categories": absent,
        f"present_{args.small_categories}_categories": small_present,
        f"absent_{args.small_categories}_categories": small_absent,
    }
    if args.demo is not None:
        # A check only: the threshold is chosen on the sketchy-mini cases above.
        cases.update(demo_check(engine, args.demo, sketches, sketch_cat, neighbours=k))
    report = {
        "model_version": engine.model_version,
        "head_path": Path(engine.head_path).name,
        "data": Path(args.data).name,
        "split": f"train sketches of the seen categories (seed {args.seed}, "
        f"{args.holdout_categories} held-out categories never read) and their photos",
        "sketches": int(len(split.train)),
        "photos": int(len(split.photos)),
        "query_expansion": k,
        "flag_rate": args.flag_rate,
        "threshold": round(threshold, 4),
        "above_threshold": {
            name: round(float((v > threshold).mean()), 4) for name, v in cases.items()
        },
        "best_distance": {name: summary(v) for name, v in cases.items()},
    }
    return FarMatchRule(head=engine.model_version, threshold=threshold, measured=report), report
