"""Personal distances (eq. 16), the w-mixed ranking (eqs. 18-19) and the memory term.

We re-score the general index's candidates with the user's head from their cached trunk
maps instead of keeping a personal index of the whole library per user: the benchmark
(``python -m personalization.engine.benchmark``, docs/personalization.md) measures the
recall this costs against exact eq. 19 over the whole library, and the latency both add.

**Calibrated mix.** d_general and d_personal come from different heads and need not share a
scale (a conv6 head's distances are in the hundreds, a unit-vector head's in [0, 2]), so a
raw mix gives w a different meaning for every head. :func:`mix` divides each distance by its
head's :func:`distance_scale` (measured when the personal head is trained, stored with it),
then multiplies by the general scale so that w = 0 is exactly the general distance. The
paper's raw eq. 18 is ``calibration=None``.

**Memory.** :func:`memory_distances` is each photo's distance to the nearest photo the user
marked (general vectors): what 1-NN relevance feedback ranks by. :func:`with_memory` adds it
to the mixed distance, so a mark changes the next search before any training.
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


def check_weight(w: float) -> float:
    """w of eq. 18 as a float in [0, 1]; anything else is a ``ValueError``."""
    try:
        value = float(w)
    except (TypeError, ValueError) as exc:
        raise ValueError("the personal weight must be a number between 0 and 1") from exc
    if not np.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError("the personal weight must be a number between 0 and 1")
    return value


@torch.no_grad()
def head_vectors(head: nn.Module, maps: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """conv5 maps (N, 512, 8, 8), float16 or float32 -> head vectors (N, 512) float32."""
    maps = np.asarray(maps)
    if maps.ndim == 3:
        maps = maps[None]
    device = next(head.parameters()).device
    out = []
    for start in range(0, len(maps), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(maps[start : start + batch_size]))
        out.append(head(chunk.to(device, torch.float32)).float().cpu().numpy())
    if not out:
        return np.zeros((0, 512), dtype=np.float32)
    return np.concatenate(out)


def personal_distances(
    head: nn.Module, query_map: np.ndarray, candidate_maps: np.ndarray
) -> np.ndarray:
    """Eq. 16: ||V^PS - V_i^PC|| for every candidate, float32 (N,)."""
    vectors = head_vectors(head, np.concatenate([np.asarray(query_map)[None], candidate_maps]))
    return np.linalg.norm(vectors[1:] - vectors[0], axis=1).astype(np.float32)


# How much of the ranking the memory term takes once a user has marks: the share 1-NN
# relevance feedback gives it (protocol_baselines.nn_rerank_distances).
MEMORY_WEIGHT = 0.5


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
    a = np.asarray(sketch_vectors, np.float64)
    b = np.asarray(photo_vectors, np.float64)
    if not len(a) or not len(b):
        return 1.0
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    scale = float(np.median(np.sqrt(np.maximum(d2, 0.0))))
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


def memory_distances(candidate_vectors: np.ndarray, marked_vectors: np.ndarray) -> np.ndarray:
    """(N,) each candidate's Euclidean distance to the nearest marked photo (general space)."""
    c = np.asarray(candidate_vectors, np.float64)
    m = np.asarray(marked_vectors, np.float64)
    if not len(m):
        return np.zeros(len(c))
    d2 = (c**2).sum(1)[:, None] + (m**2).sum(1)[None, :] - 2.0 * c @ m.T
    return np.sqrt(np.maximum(d2, 0.0)).min(axis=1)


def with_memory(
    distances: np.ndarray, memory: np.ndarray | None, weight: float = MEMORY_WEIGHT
) -> np.ndarray:
    """(1 - weight) * distances + weight * memory; the distances unchanged without memory."""
    distances = np.asarray(distances, dtype=np.float64)
    if memory is None:
        return distances
    return (1.0 - weight) * distances + weight * np.asarray(memory, dtype=np.float64)


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
