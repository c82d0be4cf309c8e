"""Synthetic conv5 maps where sub-categories are separable but the general head mixes them.

This is the situation section IV describes (Fig. 4): parents are well apart in the general
space while the sub-categories inside a parent are "randomly distributed". We build it on
purpose:

- a photo's map is ``relu(parent pattern + sub-category pattern + noise)``; parent patterns
  live in channels [0, 256), sub-category patterns in channels [256, 512);
- a sketch carries its parent pattern only (a circle is a circle: whether the user means the
  moon or the balloon is not in the drawing) plus noise;
- the *general* head is a random conv6 whose conv6_1 ignores channels [256, 512), so it
  cannot tell sub-categories apart; a re-initialised head trained on feedback can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from retrieval.engine.encoder import Conv6Head

CHANNELS, SIDE = 512, 8
PARENT_CHANNELS = slice(0, 256)
SUB_CHANNELS = slice(256, 512)


@dataclass(frozen=True)
class SyntheticLibrary:
    """``parents`` x ``subs`` groups; photo i is in parent ``parent_of[i]``, sub ``sub_of[i]``
    (sub ids are global: parent * subs + k)."""

    parents: int
    subs: int
    per_sub: int
    seed: int = 0
    # Magnitudes of the order of real pool5 activations (tens), where a freshly initialised
    # conv6 already gives distances of the order of Q / 5 rather than ~0.
    parent_scale: float = 90.0
    sub_scale: float = 60.0
    noise: float = 15.0

    @property
    def size(self) -> int:
        return self.parents * self.subs * self.per_sub

    @property
    def parent_of(self) -> np.ndarray:
        return np.arange(self.size) // (self.subs * self.per_sub)

    @property
    def sub_of(self) -> np.ndarray:
        return np.arange(self.size) // self.per_sub

    def _pattern(self, kind: str, index: int) -> np.ndarray:
        # Sparse non-negative patterns (conv5 maps are post-ReLU): 1 channel in 8 is active.
        rng = np.random.default_rng([self.seed, 0 if kind == "parent" else 1, int(index)])
        active = rng.random((256, 1, 1)) < 0.125
        values = np.abs(rng.normal(size=(256, SIDE, SIDE)))
        return (active * values).astype(np.float32)

    def photo_maps(self, indices: np.ndarray) -> np.ndarray:
        """conv5 maps (len(indices), 512, 8, 8) float32 of the given photos; deterministic."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), CHANNELS, SIDE, SIDE), dtype=np.float32)
        parent_of, sub_of = self.parent_of, self.sub_of
        for row, i in enumerate(indices):
            rng = np.random.default_rng([self.seed, 2, int(i)])
            out[row, PARENT_CHANNELS] = self.parent_scale * self._pattern("parent", parent_of[i])
            out[row, SUB_CHANNELS] = self.sub_scale * self._pattern("sub", sub_of[i])
            out[row] += self.noise * rng.normal(size=(CHANNELS, SIDE, SIDE))
        return np.maximum(out, 0.0)

    def sketch_maps(self, parent: int, count: int, *, salt: int = 0) -> np.ndarray:
        """``count`` sketches of ``parent``: its pattern plus noise, no sub-category signal."""
        out = np.empty((count, CHANNELS, SIDE, SIDE), dtype=np.float32)
        for row in range(count):
            rng = np.random.default_rng([self.seed, 3, int(parent), int(salt), row])
            out[row] = self.noise * rng.normal(size=(CHANNELS, SIDE, SIDE))
            out[row, PARENT_CHANNELS] += self.parent_scale * self._pattern("parent", parent)
        return np.maximum(out, 0.0)


def general_head(seed: int = 0) -> Conv6Head:
    """A random conv6 head that cannot see the sub-category channels."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10_000 + seed)
        head = Conv6Head()
    with torch.no_grad():
        head.conv6_1.weight[:, SUB_CHANNELS] = 0.0
    return head.eval()
