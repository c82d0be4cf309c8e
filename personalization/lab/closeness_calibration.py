"""Measure the closeness rule of a general head from data (:mod:`personalization.engine.closeness`).

    python -m personalization.lab calibrate-closeness --data ../shared/data/sketchy-mini \
        [--head PATH] [--unseen-head PATH] [--seed 0] [--holdout-categories 20] [--out FILE]

On the *training* split only: the training sketches of the categories the general head was
trained on (the seeded 7:3 split of ``retrieval.lab train``; test sketches and the held-out
categories are never read) and the photos of those categories (the gallery every query is
expanded against, as search expands it). For each pair kind (taught query, new query) it
simulates users who taught ``SUBJECTS`` categories with ``PER_SUBJECT`` queries each, and
measures the distance from every other query to the nearest taught one:

- ``far`` = the 1st percentile of that distance for queries of categories the user never
  taught: 99 % of unrelated searches get exactly no influence, however many queries
  the user taught (a per-pair rule would leak more the more they teach);
- ``near`` = the median of it for queries of a taught category.

With ``--unseen-head`` (a head of the same recipe trained with ``retrieval.lab
train --val-categories N``) it measures again with that head on the N categories it never saw,
and serves ``near`` from there and the nearer ``far`` (:func:`combine`): users' subjects are
new to the served head. Writes the rule into ``personalization/engine/assets/closeness.json``
under the served head's model version and prints it as JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from personalization.engine.closeness import (
    PAIR_KINDS,
    Band,
    ClosenessRule,
)
from retrieval.engine.distances import euclidean_distances
from retrieval.engine.query_expansion import expand_against
from retrieval.lab.asked_split import asked_split_from_args

NEAR_QUANTILE = 0.5  # of a taught subject's queries: half get full influence
FAR_QUANTILE = 0.01  # of unrelated queries: 99 % get none
SUBJECTS = 3  # categories a simulated user taught
PER_SUBJECT = 10  # queries they taught on each (the protocol's 10 feedback rounds)
USERS = 400  # simulated users per pair kind
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


def nearest_taught(
    taught: np.ndarray,
    taught_cat: np.ndarray,
    asked: np.ndarray,
    asked_cat: np.ndarray,
    *,
    same_set: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated users: (distances from queries of a taught category to the nearest taught
    query, the same for queries of other categories), pooled over :data:`USERS` users.
    ``same_set``: ``asked`` is ``taught``, so a taught query is never asked again."""
    d = euclidean_distances(asked, taught)
    rng = np.random.default_rng(seed)
    names, counts = np.unique(taught_cat, return_counts=True)
    # Small data sets (a smoke run) teach fewer queries per subject; one is left to ask.
    per_subject = min(PER_SUBJECT, max(1, int(np.median(counts)) - 1))
    categories = [c for c, n in zip(names, counts, strict=True) if n > per_subject]
    subjects_per_user = min(SUBJECTS, len(categories) - 1)
    if subjects_per_user < 1:
        return np.zeros(0), np.zeros(0)
    on, off = [], []
    for _ in range(USERS):
        subjects = rng.choice(categories, subjects_per_user, replace=False)
        chosen = np.concatenate(
            [
                rng.choice(np.flatnonzero(taught_cat == c), per_subject, replace=False)
                for c in subjects
            ]
        )
        rest = np.arange(len(asked))
        if same_set:
            rest = np.setdiff1d(rest, chosen)
        nearest = d[np.ix_(rest, chosen)].min(axis=1)
        taught_subject = np.isin(asked_cat[rest], subjects)
        on.append(nearest[taught_subject])
        off.append(nearest[~taught_subject])
    return np.concatenate(on), np.concatenate(off)


def band_of(on: np.ndarray, off: np.ndarray) -> tuple[Band, dict]:
    near = float(np.quantile(on, NEAR_QUANTILE))
    far = float(np.quantile(off, FAR_QUANTILE))
    summary = {
        "on_topic_searches": int(len(on)),
        "off_topic_searches": int(len(off)),
        "on_topic_percentiles": {p: round(float(np.percentile(on, p)), 4) for p in PERCENTILES},
        "off_topic_percentiles": {p: round(float(np.percentile(off, p)), 4) for p in PERCENTILES},
    }
    if near >= far:
        # Heavy overlap: keep the ramp inside [0, far) so unrelated searches stay out.
        near = far / 2.0
        summary["near_clipped"] = True
    band = Band(near=near, far=far)
    summary.update(
        near=round(near, 4),
        far=round(far, 4),
        # How the rule treats the searches it was measured on.
        on_topic_with_any_influence=round(float((on < far).mean()), 4),
        on_topic_mean_closeness=round(float(band.closeness(on).mean()), 4),
        off_topic_with_any_influence=round(float((off < far).mean()), 4),
        off_topic_mean_closeness=round(float(band.closeness(off).mean()), 4),
    )
    return band, summary


def measure_bands(
    asked: dict[str, np.ndarray], category: dict[str, np.ndarray], *, seed: int
) -> tuple[dict[str, Band], dict]:
    """A :class:`Band` per pair kind whose two query kinds are both in ``asked`` (vectors of
    queries as search asks the index, by kind), with what it was measured on."""
    bands, measured = {}, {}
    for n, kind in enumerate(PAIR_KINDS):
        first, second = kind.split("-")
        if first not in asked or second not in asked:
            continue
        ons, offs = [], []
        # Both directions of a mixed kind: a sketch taught, a photo asked, and the reverse.
        for taught, new in sorted({(first, second), (second, first)}):
            on, off = nearest_taught(
                asked[taught],
                category[taught],
                asked[new],
                category[new],
                same_set=taught == new,
                seed=seed + n,
            )
            ons.append(on)
            offs.append(off)
        on, off = np.concatenate(ons), np.concatenate(offs)
        if len(on) and len(off):
            bands[kind], measured[kind] = band_of(on, off)
    return bands, measured


def measure_with(
    args: argparse.Namespace, head: Path, *, unseen_only: bool
) -> tuple[dict[str, Band], dict, str]:
    """Bands measured with ``head`` on the training split (with ``unseen_only``: only the
    training categories ``head`` was kept from), what they were measured on, and the head's
    model version."""
    split = asked_split_from_args(args, head)
    engine, sketches, gallery = split.engine, split.sketches, split.gallery
    sketch_cat, photo_cat = split.sketch_cat, split.photo_cat
    unseen = _unseen_by_head(engine.head_metadata) if unseen_only else []
    if unseen_only:
        # Only the training categories this head was kept from (its validation categories):
        # distances as such a head makes them on subjects it never saw, as users' are.
        if not unseen:
            raise SystemExit("--unseen-head needs a head trained with --val-categories N")
        on_sketch, on_photo = np.isin(sketch_cat, unseen), np.isin(photo_cat, unseen)
        sketches, sketch_cat = sketches[on_sketch], sketch_cat[on_sketch]
        gallery, photo_cat = gallery[on_photo], photo_cat[on_photo]
    # Every query as search asks the index: (a sketch averaged with its mirror image, or a
    # photo) expanded with its nearest photos of the gallery.
    asked = {
        "sketch": expand_against(sketches, gallery, args.query_expansion),
        "photo": expand_against(gallery, gallery, args.query_expansion),
    }
    bands, measured = measure_bands(
        asked, {"sketch": sketch_cat, "photo": photo_cat}, seed=args.seed
    )
    measured["on"] = {
        "data": Path(args.data).name,
        "split": f"train sketches of the seen categories (seed {args.seed}, "
        f"{args.holdout_categories} held-out categories never read) and their photos"
        + (f"; only the {len(unseen)} of them this head was never trained on" if unseen else ""),
        "sketches": int(len(sketches)),
        "photos": int(len(gallery)),
        "categories": int(len(np.unique(sketch_cat))),
        "users": f"{USERS} simulated users per pair kind, {SUBJECTS} subjects x "
        f"{PER_SUBJECT} taught queries each",
        "query_expansion": args.query_expansion,
        "near_quantile": NEAR_QUANTILE,
        "far_quantile": FAR_QUANTILE,
        "head_path": Path(engine.head_path).name,
    }
    return bands, measured, engine.model_version


def combine(seen: dict[str, Band], unseen: dict[str, Band]) -> dict[str, Band]:
    """The served rule from both measurements: full influence as far out as on subjects the
    head never saw (``near`` of the unseen measurement: users' subjects are new to it), no
    influence from the nearer of the two ``far`` edges (leaks bounded by both)."""
    out = {}
    for kind, band in seen.items():
        other = unseen.get(kind, band)
        far = min(band.far, other.far)
        near = other.near if other.near < far else far / 2.0
        out[kind] = Band(near=near, far=far)
    return out


def calibrate(args: argparse.Namespace) -> ClosenessRule:
    """The rule of ``args.head`` (the options of ``calibrate-closeness``)."""
    bands, measured, version = measure_with(args, args.head, unseen_only=False)
    if args.unseen_head is not None:
        unseen_bands, unseen_measured, _ = measure_with(args, args.unseen_head, unseen_only=True)
        measured = {
            "trained_categories": measured,
            "unseen_categories": unseen_measured,
            "rule": "near from the unseen categories, far the nearer of the two",
        }
        bands = combine(bands, unseen_bands)
    return ClosenessRule(bands=bands, head=version, measured=measured)


def _unseen_by_head(metadata: dict) -> list[str]:
    return list((metadata.get("trained_on") or {}).get("val_categories") or [])
