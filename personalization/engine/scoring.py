"""Personal distances (eq. 16) and the w-mixed ranking (eqs. 18-19).

We re-score the general index's candidates with the user's head from their cached conv5
maps instead of keeping a personal index of the whole library per user: the benchmark
(``python -m personalization.engine.benchmark``, docs/personalization.md) measures the
recall this costs against exact eq. 19 over the whole library, and the latency both add.

The distances are mixed raw, as in the paper: d_general and d_personal come from different
heads and need not share a scale, so w is a knob on raw distances, not on a calibrated
probability.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

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


def mix(general: np.ndarray, personal: np.ndarray, w: float) -> np.ndarray:
    """Eq. 18: (1 - w) * d_general + w * d_personal, on raw distances."""
    w = check_weight(w)
    return (1.0 - w) * np.asarray(general, dtype=np.float64) + w * np.asarray(
        personal, dtype=np.float64
    )


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
