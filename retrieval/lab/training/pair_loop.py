"""The paper's pair training loop (section V.B) for conv6 heads on cached conv5 maps.

- :class:`BalancedPairSampler`: batches of sketch/photo index pairs, exactly half positive
  (same category, Y = 0) and half negative (Y = 1), as the paper's 1:1 ratio.
- :func:`augment_features`: flip + shift of cached conv5 maps, the closest cheap equivalent
  of image augmentation once conv1-5 are frozen and cached.
- :func:`make_optimizer` / :func:`make_scheduler`: RMSProp, lr 1e-4, halved every 5 epochs.
- :func:`train_head_on_features`: conv6 only, on cached conv5 features (seconds to minutes
  on a CPU); the loop the paper recipe of :mod:`.conv6_recipes` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from retrieval.engine.encoder import Conv6Head
from retrieval.engine.losses import ContrastiveLoss

# The paper's RMSProp (TensorFlow): decay 0.9, momentum 0.9, epsilon 1.0. TF adds epsilon
# inside the square root and torch outside; with epsilon = 1 both damp small gradients.
RMSPROP_ALPHA = 0.9
RMSPROP_MOMENTUM = 0.9
RMSPROP_EPS = 1.0
PAPER_LR = 1e-4
LR_STEP_EPOCHS = 5
LR_GAMMA = 0.5


@dataclass(frozen=True)
class PairBatch:
    sketch: np.ndarray  # (B,) int64 sketch indices
    photo: np.ndarray  # (B,) int64 photo indices
    y: np.ndarray  # (B,) float32: 0 = same category, 1 = different


class BalancedPairSampler:
    """Yields ``pairs_per_epoch // batch_size`` batches of half positive, half negative pairs.

    Positives pair a sketch with a random photo of its category (with ``instance_photo``
    given, with its own photo ``instance_rate`` of the time); negatives with a random photo
    of another category. Seeded: the same seed gives the same batches.
    """

    def __init__(
        self,
        sketch_labels: Sequence[int],
        photo_labels: Sequence[int],
        *,
        batch_size: int = 16,
        pairs_per_epoch: int | None = None,
        seed: int = 0,
        instance_photo: Sequence[int] | None = None,
        instance_rate: float = 0.0,
    ) -> None:
        if batch_size < 2 or batch_size % 2:
            raise ValueError("batch_size must be even (half positives, half negatives)")
        self.sketch_labels = np.asarray(sketch_labels, np.int64)
        self.photo_labels = np.asarray(photo_labels, np.int64)
        self.batch_size = batch_size
        self.pairs_per_epoch = pairs_per_epoch or 2 * len(self.sketch_labels)
        self.rng = np.random.default_rng(seed)
        self.instance_photo = None if instance_photo is None else np.asarray(instance_photo)
        self.instance_rate = instance_rate
        self._by_label = {
            int(c): np.flatnonzero(self.photo_labels == c) for c in np.unique(self.photo_labels)
        }
        # Sketches whose category has photos (a positive exists) and another category exists.
        usable = np.isin(self.sketch_labels, list(self._by_label))
        self._sketches = np.flatnonzero(usable)
        if not len(self._sketches) or len(self._by_label) < 2:
            raise ValueError("need sketches of a category with photos, and at least 2 categories")

    def __len__(self) -> int:
        return max(1, self.pairs_per_epoch // self.batch_size)

    def __iter__(self) -> Iterator[PairBatch]:
        half = self.batch_size // 2
        for _ in range(len(self)):
            sk = self.rng.choice(self._sketches, self.batch_size)
            photo = np.empty(self.batch_size, np.int64)
            for i, s in enumerate(sk[:half]):
                label = int(self.sketch_labels[s])
                own = -1 if self.instance_photo is None else int(self.instance_photo[s])
                if own >= 0 and self.rng.random() < self.instance_rate:
                    photo[i] = own
                else:
                    photo[i] = self.rng.choice(self._by_label[label])
            for i, s in enumerate(sk[half:], start=half):
                # Rejection sampling: categories are many and balanced, so this is quick.
                while True:
                    p = int(self.rng.integers(len(self.photo_labels)))
                    if self.photo_labels[p] != self.sketch_labels[s]:
                        photo[i] = p
                        break
            y = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.float32)
            yield PairBatch(sketch=sk.astype(np.int64), photo=photo, y=y)


def augment_features(
    feats: torch.Tensor, generator: torch.Generator, *, flip: bool = True, max_shift: int = 1
) -> torch.Tensor:
    """Flip and shift (N, C, 8, 8) conv5 maps per sample (edge-replicated).

    With conv1-5 frozen and cached, image-level crops are not available any more; a flip /
    shift of the map approximates the features of a flipped / translated input.
    """
    out = feats.clone()
    n = feats.shape[0]
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out[mask] = out[mask].flip(-1)
    if max_shift:
        shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
        padded = nn.functional.pad(out, [max_shift] * 4, mode="replicate")
        h, w = feats.shape[-2:]
        for i, (dy, dx) in enumerate(shifts.tolist()):
            y0, x0 = max_shift + dy, max_shift + dx
            out[i] = padded[i, :, y0 : y0 + h, x0 : x0 + w]
    return out


def make_optimizer(params, *, lr: float = PAPER_LR) -> torch.optim.Optimizer:
    """RMSProp with the paper's settings (see the module constants)."""
    return torch.optim.RMSprop(
        params, lr=lr, alpha=RMSPROP_ALPHA, momentum=RMSPROP_MOMENTUM, eps=RMSPROP_EPS
    )


def make_scheduler(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
    """Halve the learning rate every 5 epochs (call ``step()`` once per epoch)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=LR_STEP_EPOCHS, gamma=LR_GAMMA)


def train_head_on_features(
    head: Conv6Head,
    sketch_features: np.ndarray,
    photo_features: np.ndarray,
    sketch_labels: Sequence[int],
    photo_labels: Sequence[int],
    *,
    epochs: int = 20,
    batch_size: int = 16,
    lr: float = PAPER_LR,
    seed: int = 0,
    pairs_per_epoch: int | None = None,
    augment: bool = True,
    loss_fn: nn.Module | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``head`` (in place) on cached conv5 maps; returns the mean loss per epoch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = loss_fn or ContrastiveLoss()
    head.to(device).train()
    sketches = torch.from_numpy(np.asarray(sketch_features, np.float32))
    photos = torch.from_numpy(np.asarray(photo_features, np.float32))
    sampler = BalancedPairSampler(
        sketch_labels,
        photo_labels,
        batch_size=batch_size,
        pairs_per_epoch=pairs_per_epoch,
        seed=seed,
    )

    def embed_pair(batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        xs, xp = sketches[batch.sketch], photos[batch.photo]
        if augment:
            xs, xp = augment_features(xs, gen), augment_features(xp, gen)
        return head(xs.to(device)), head(xp.to(device))

    history = _fit_pairs(
        sampler,
        embed_pair,
        loss_fn,
        make_optimizer(head.parameters(), lr=lr),
        epochs=epochs,
        device=device,
        progress=progress,
        on_epoch=on_epoch,
    )
    head.eval()
    return history


def _fit_pairs(
    sampler: BalancedPairSampler,
    embed_pair: Callable[[PairBatch], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    device: torch.device | str,
    progress: bool,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """The epoch loop: pair loss, step, lr schedule; mean loss per epoch."""
    scheduler = make_scheduler(optimizer)
    history: list[float] = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        batches = tqdm(sampler, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress)
        for batch in batches:
            vs, vp = embed_pair(batch)
            loss = loss_fn(vs, vp, torch.from_numpy(batch.y).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch.y)
            count += len(batch.y)
            batches.set_postfix(loss=f"{total / count:.3f}")
        scheduler.step()
        history.append(total / max(count, 1))
        if on_epoch:
            on_epoch(epoch, history[-1])
    return history
