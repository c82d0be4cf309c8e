"""When a user's feedback applies to a new search: the closeness of two queries.

A mark answers the query it was given for (a drawing, or a photo for "more like this"). A
new search uses the user's marks and personal head only as far as it is close to the
queries that feedback answered; far from all of them the ranking is exactly the general one
(issue 20: marks on cars must not take over a later house search).

Closeness of a new query q to a taught query f, from their general-space distance d (the
vectors search asked the index with: a sketch's averaged with its mirror image's, or a
photo's, expanded with its nearest photos; queries of one subject land on the same photos)::

    closeness(d) = 1                                  d <= near
                   (far - d) / (far - near)           near < d < far
                   0                                  d >= far

and a search's closeness is that of the nearest taught query. ``near`` and ``far`` are
measured, never chosen by hand (:mod:`personalization.lab.closeness_calibration`), per kind of pair
(sketch-sketch, sketch-photo, photo-photo), on the training split of sketchy-mini, from
simulated users who taught three subjects ten queries each: ``far`` keeps 99 % of searches on
subjects a user never taught at exactly no influence, both with the served head on the
categories it was trained on and with a same-recipe head on categories it never saw (users'
subjects are new to the head); ``near`` is the median distance of a taught subject's search
on those unseen categories. docs/personalization.md has the figures and the rule's reasons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrieval.engine.distances import euclidean_distances
from retrieval.engine.rule_files import read_entries, write_entry

PAIR_KINDS = ("sketch-sketch", "sketch-photo", "photo-photo")
QUERY_KINDS = ("sketch", "photo")

# Where the calibration of the shipped general heads lives (written by
# ``python -m personalization.lab calibrate-closeness``).
CALIBRATION_PATH = Path(__file__).resolve().parent / "assets" / "closeness.json"


def pair_kind(a: str, b: str) -> str:
    """ "sketch-photo" for a sketch and a photo in either order, etc."""
    if a not in QUERY_KINDS or b not in QUERY_KINDS:
        raise ValueError(f"a query is a sketch or a photo, got {a!r} and {b!r}")
    first, second = sorted((a, b), key=QUERY_KINDS.index)
    return f"{first}-{second}"


@dataclass(frozen=True)
class Band:
    """Distances at which feedback counts fully (``near``) and not at all (``far``)."""

    near: float
    far: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.near) and math.isfinite(self.far)):
            raise ValueError("near and far must be finite")
        if not 0.0 <= self.near < self.far:
            raise ValueError(f"need 0 <= near < far, got near={self.near}, far={self.far}")

    def closeness(self, distances: np.ndarray) -> np.ndarray:
        d = np.asarray(distances, np.float64)
        return np.clip((self.far - d) / (self.far - self.near), 0.0, 1.0)


@dataclass(frozen=True)
class ClosenessRule:
    """One :class:`Band` per pair kind, for the general head named by ``head``."""

    bands: dict[str, Band]
    head: str = ""  # the general head's fingerprint (weights hash) it was measured with
    measured: dict = field(default_factory=dict)  # what it was measured on (for the docs)

    def closeness(self, distances: np.ndarray, kinds: list[str]) -> np.ndarray:
        """Closeness of each distance, the pair kind of each given by ``kinds``."""
        d = np.asarray(distances, np.float64).reshape(-1)
        if len(kinds) != len(d):
            raise ValueError("one pair kind per distance")
        out = np.zeros(len(d))
        for kind in set(kinds):
            rows = np.array([k == kind for k in kinds])
            out[rows] = self.bands[kind].closeness(d[rows])
        return out

    def to_dict(self) -> dict:
        return {
            "head": self.head,
            "bands": {k: asdict(b) for k, b in self.bands.items()},
            "measured": self.measured,
        }

    @classmethod
    def from_dict(cls, values: dict) -> ClosenessRule:
        bands = {k: Band(float(v["near"]), float(v["far"])) for k, v in values["bands"].items()}
        missing = set(PAIR_KINDS) - set(bands)
        if missing:
            raise ValueError(f"closeness calibration lacks {sorted(missing)}")
        return cls(
            bands=bands, head=str(values.get("head", "")), measured=values.get("measured", {})
        )


def load_rules(path: Path = CALIBRATION_PATH) -> dict[str, ClosenessRule]:
    """Every calibrated rule of ``path``, by general-model version ({} when none)."""
    return {e["head"]: ClosenessRule.from_dict(e) for e in read_entries(path)}


def save_rule(rule: ClosenessRule, path: Path = CALIBRATION_PATH) -> None:
    """Add or replace ``rule`` (by head) in ``path``."""
    write_entry(path, rule.to_dict())


def taught_subjects(
    marked_photos: Sequence[tuple[int, ...]], said_alike: Sequence[tuple[int, int]] = ()
) -> np.ndarray:
    """(F,) a subject number for each of F taught queries, from the photos marked on each:
    queries that share a marked photo, directly or through other taught queries, are one
    subject (two car drawings whose marks overlap), numbered by their first query; so are
    the pairs of ``said_alike`` (positions: a search the user said is like an earlier one,
    and that one), whatever they marked."""
    parent = list(range(len(marked_photos)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[int, int] = {}
    links = [
        (i, first_with.setdefault(int(photo), i))
        for i, photos in enumerate(marked_photos)
        for photo in photos
    ]
    for i, j in [*links, *said_alike]:
        a, b = root(int(i)), root(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(len(marked_photos))], np.int64)


def confirmed_closeness(closeness: np.ndarray, subjects: np.ndarray, confirmed: int) -> np.ndarray:
    """(F,) closeness once the user said a search is like taught query ``confirmed``: 1 to
    every taught query of its subject (:func:`taught_subjects`), the measured closeness to
    the others. The user's word stands in for the distance where drawings of one subject
    are not close enough to tell (docs/personalization.md: new subjects)."""
    out = np.asarray(closeness, np.float64).copy()
    out[np.asarray(subjects) == subjects[int(confirmed)]] = 1.0
    return out


def offered_taught(
    distances: np.ndarray, closeness: np.ndarray, subjects: np.ndarray, limit: int
) -> list[int]:
    """The taught queries to offer as "drawing the same thing as one of these earlier
    searches?": the nearest taught query of each of the ``limit`` nearest subjects
    (:func:`taught_subjects`), nearest first, when saying yes would change the closeness.
    Nothing when the nearest subject already counts fully (the distance is sure).

    Several subjects, not only the nearest: on subjects new to the model the nearest earlier
    drawing is of the right subject for 76-86 % of a 3-subject user's new drawings and the
    nearest 3 subjects hold it for all of them (training split, docs/personalization.md)."""
    distances = np.asarray(distances, np.float64).reshape(-1)
    closeness = np.asarray(closeness, np.float64).reshape(-1)
    subjects = np.asarray(subjects).reshape(-1)
    offered: list[int] = []
    for position in np.argsort(distances, kind="stable").tolist():
        subject = subjects[position]
        if any(subjects[o] == subject for o in offered):
            continue
        # Saying yes opens this subject fully: nothing to offer where it already counts.
        changes = bool((closeness[subjects == subject] < 1.0).any())
        if not changes and not offered:
            return []
        if changes:
            offered.append(position)
        if len(offered) >= limit:
            break
    return offered


def query_closeness(
    rule: ClosenessRule,
    query_vector: np.ndarray,
    query_kind: str,
    taught_vectors: np.ndarray,
    taught_kinds: list[str],
) -> np.ndarray:
    """(F,) closeness of a new query to each of the F queries feedback answered."""
    taught_vectors = np.asarray(taught_vectors, np.float64).reshape(len(taught_kinds), -1)
    if not len(taught_kinds):
        return np.zeros(0)
    d = euclidean_distances(np.asarray(query_vector).reshape(1, -1), taught_vectors)[0]
    return rule.closeness(d, [pair_kind(query_kind, k) for k in taught_kinds])
