"""Personal distances (eq. 16), the w-mixed ranking (eqs. 18-19) and the memory term.

We re-score the general index's candidates with the user's head from their cached trunk
maps instead of keeping a personal index of the whole library per user: the benchmark
(``python -m personalization.lab benchmark``, docs/personalization.md) measures the
recall this costs against exact eq. 19 over the whole library, and the latency both add.

**Calibrated mix.** d_general and d_personal come from different heads and need not share a
scale (a conv6 head's distances are in the hundreds, a unit-vector head's in [0, 2]), so a
raw mix gives w a different meaning for every head. :func:`mix` divides each distance by its
head's :func:`distance_scale` (measured when the personal head is trained, stored with it),
then multiplies by the general scale so that w = 0 is exactly the general distance. The
paper's raw eq. 18 is ``calibration=None``.

**Marks and closeness.** :func:`memory_distances` is each photo's distance to the nearest
photo the user marked (general vectors): what 1-NN relevance feedback ranks by. A search's
score is :func:`personalized_score`: the general distance, the calibrated eq. 16 distance
and the marks' distance, each with its :class:`Shares`, whose personal part is w x the
query's closeness to the queries the feedback answered (:mod:`.closeness`): far from all of
them, or at w = 0, the score is the general distance itself.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from retrieval.engine.distances import euclidean_distances
from retrieval.engine.model import head_vectors


def check_weight(w: float) -> float:
    """w of eq. 18 as a float in [0, 1]; anything else is a ``ValueError``."""
    try:
        value = float(w)
    except (TypeError, ValueError) as exc:
        raise ValueError("the personal weight must be a number between 0 and 1") from exc
    if not np.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError("the personal weight must be a number between 0 and 1")
    return value


def eq16(query_vectors: np.ndarray, candidate_vectors: np.ndarray) -> np.ndarray:
    """Eq. 16: ||V^PS - V_i^PC||, (Q, N) float32, from the personal head's vectors of the
    queries and the candidates (however they were computed: the protocol reuses pooled
    features for projection heads, search embeds the cached maps)."""
    return euclidean_distances(query_vectors, candidate_vectors).astype(np.float32)


def personal_distances(
    head: nn.Module, query_map: np.ndarray, candidate_maps: np.ndarray
) -> np.ndarray:
    """Eq. 16 for one query's trunk map and the candidates' maps, float32 (N,)."""
    vectors = head_vectors(head, np.concatenate([np.asarray(query_map)[None], candidate_maps]))
    return eq16(vectors[:1], vectors[1:])[0]


def personal_distances_pooled(
    head: nn.Module, query_map: np.ndarray, candidate_pooled: np.ndarray
) -> np.ndarray:
    """Eq. 16 as :func:`personal_distances`, for a head that retrained only the general
    head's projection (scope "projection"): the candidates come as the general head's pooled
    features, which such a head shares, so only its ``fc`` runs on them (a (N, 1280) x
    (1280, 512) product: 500 candidates in a few ms, where their maps took the whole head)."""
    with torch.no_grad():
        query = head.pooled(torch.as_tensor(np.asarray(query_map, np.float32)[None]))
        pooled = torch.as_tensor(np.asarray(candidate_pooled, dtype=np.float32))
        vectors = head.project(torch.cat([query, pooled])).numpy()
    return eq16(vectors[:1], vectors[1:])[0]


@dataclass(frozen=True)
class Calibration:
    """The distance unit of each head of eq. 18 (:func:`distance_scale`)."""

    general: float = 1.0
    personal: float = 1.0

    @classmethod
    def from_dict(cls, values: dict | None) -> Calibration | None:
        """From a head's stored ``{"general": g, "personal": p}``; None when incomplete."""
        try:
            general, personal = float(values["general"]), float(values["personal"])
        except (TypeError, KeyError, ValueError):
            return None
        if not all(math.isfinite(v) and v > 0 for v in (general, personal)):
            return None
        return cls(general=general, personal=personal)


def distance_scale(sketch_vectors: np.ndarray, photo_vectors: np.ndarray) -> float:
    """Median Euclidean distance over every (sketch, photo) pair: a head's distance unit.

    A robust typical distance between a query and a library photo; dividing by it puts two
    heads whose distances differ by a constant factor on the same scale.
    """
    if not len(sketch_vectors) or not len(photo_vectors):
        return 1.0
    scale = float(np.median(euclidean_distances(sketch_vectors, photo_vectors)))
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def mix(
    general: np.ndarray,
    personal: np.ndarray,
    w: float,
    calibration: Calibration | None = None,
) -> np.ndarray:
    """Eq. 18: (1 - w) * d_general + w * d_personal.

    With ``calibration``: (1 - w) * d_general + w * d_personal * (s_general / s_personal),
    i.e. both distances in units of their head's scale, expressed in the general one's.
    """
    w = check_weight(w)
    general = np.asarray(general, dtype=np.float64)
    personal = np.asarray(personal, dtype=np.float64)
    if calibration is not None:
        personal = personal * (calibration.general / calibration.personal)
    return (1.0 - w) * general + w * personal


def memory_distances(
    candidate_vectors: np.ndarray, marked_vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) each candidate's Euclidean distance to the nearest marked photo (general space),
    and (N,) which marked photo that is (row of ``marked_vectors``)."""
    n = len(candidate_vectors)
    if not len(marked_vectors):
        return np.zeros(n), np.full(n, -1, np.int64)
    d = euclidean_distances(candidate_vectors, marked_vectors)
    nearest = d.argmin(axis=1)
    return d[np.arange(n), nearest], nearest


# The personal side of the ranking, when a user has both a trained head and marks: the head
# counts twice as much as the marks. Chosen on a validation split of the training sketches
# (mixed-subject users, residual on-topic mAP after 4 rounds: marks 2/3 0.368, 1/3 0.399,
# 0 0.400; docs/personalization.md): in a search close to what a user taught, the head finds
# the photos they meant that they have not marked yet; the marks keep a share so that marks
# count before any training and so that a marked photo comes back near the top.
MARKS_SHARE = 1.0 / 3.0


@dataclass(frozen=True)
class Shares:
    """How much each distance counts in a search's score; they add up to 1.

    ``strength`` = w x closeness: w from the slider, closeness how near this query is to the
    queries the user's feedback answered (:mod:`.closeness`). At strength 0 the score is the
    general distance itself.
    """

    strength: float
    general: float
    head: float
    marks: float

    @classmethod
    def of(cls, w: float, closeness: float, *, head: bool, marks: bool) -> Shares:
        c = float(closeness)
        if not (np.isfinite(c) and 0.0 <= c <= 1.0):
            raise ValueError("closeness must be in [0, 1]")
        s = check_weight(w) * c if (head or marks) else 0.0
        if head and marks:
            return cls(s, 1.0 - s, s * (1.0 - MARKS_SHARE), s * MARKS_SHARE)
        return cls(s, 1.0 - s, s if head else 0.0, s if marks else 0.0)


def personalized_score(
    general: np.ndarray,
    shares: Shares,
    *,
    head: np.ndarray | None = None,
    marks: np.ndarray | None = None,
) -> np.ndarray:
    """general x share + head x share + marks x share (eqs. 18-19 with the marks as a second
    personal distance). ``head`` is eq. 16 already on the general scale (:func:`mix`'s
    calibration); a term whose share is 0 is not read. Strength 0: the general distances."""
    score = shares.general * np.asarray(general, dtype=np.float64)
    if shares.head > 0:
        if head is None:
            raise ValueError("the head has a share but no distances")
        score = score + shares.head * np.asarray(head, dtype=np.float64)
    if shares.marks > 0:
        if marks is None:
            raise ValueError("the marks have a share but no distances")
        score = score + shares.marks * np.asarray(marks, dtype=np.float64)
    return score


def calibrated(personal: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """d_personal in the general head's unit (``s_general / s_personal``), or raw."""
    personal = np.asarray(personal, dtype=np.float64)
    if calibration is None:
        return personal
    return personal * (calibration.general / calibration.personal)


def top_k_order(distances: np.ndarray, top_k: int) -> np.ndarray:
    """Eq. 19: indices of the ``top_k`` smallest distances, ascending, ties by input order."""
    return np.argsort(distances, kind="stable")[: max(int(top_k), 0)]


class HeadCache:
    """A small thread-safe LRU of loaded heads keyed by (user id, head version).

    A version is immutable once published, so a key never goes stale; rolling back changes
    which key the caller asks for.
    """

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, nn.Module] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], nn.Module]) -> nn.Module:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        head = load()  # outside the lock: loading reads a file
        head.eval()
        with self._lock:
            self._items[key] = head
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return head

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items
