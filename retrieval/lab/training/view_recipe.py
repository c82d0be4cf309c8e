"""Training the general head on cached, augmented trunk maps (the product's recipe).

Every step draws ``batch_size`` training sketches, each in a random cached view, and for each
a positive photo in a random view: the sketch's own photo with probability
``instance_rate``, else a photo of its category. The loss is a supervised, multi-positive
InfoNCE in both directions (sketch -> photos, photo -> sketches) whose logits are
``-||a - b||^2 / (2 * temperature)``: exactly the Euclidean ranking search serves (for unit
vectors, cosine / temperature up to a constant). Every photo of the batch's category is a
positive; ``joint_weight`` adds a supervised contrastive term over both branches together.
AdamW with a one-cycle schedule; the ImageNet-initialised layers of the head learn
at ``pretrained_lr_scale`` times the rate of the new linear layer, and batch-norm keeps its
ImageNet statistics (see :meth:`..mbconv_head.MBConvGeMHead.freeze_batchnorm_statistics`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from retrieval.lab.training.conv6_recipes import multi_positive_nce


@dataclass(frozen=True)
class ViewRecipe:
    epochs: int = 8
    batch_size: int = 96
    lr: float = 1e-3
    pretrained_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    temperature: float = 0.05
    instance_rate: float = 0.5
    # Weight of a supervised contrastive term over sketches and photos together (every
    # same-category item of the batch, either branch, is a positive; SupCon).
    joint_weight: float = 0.5
    seed: int = 0

    def as_dict(self) -> dict:
        return {"name": "view_infonce", **asdict(self)}


@dataclass
class ViewData:
    """Cached maps of the training items only, every item in every view."""

    sketch_views: np.ndarray  # float16 (Vs, S, C, H, W)
    photo_views: np.ndarray  # float16 (Vp, P, C, H, W)
    sketch_labels: np.ndarray  # (S,) int
    photo_labels: np.ndarray  # (P,) int
    instance_photo: np.ndarray  # (S,) photo index, -1 if the sketch's photo is not in the set


EpochCallback = Callable[[int, nn.Module, float], None]


def _parameter_groups(head: nn.Module, recipe: ViewRecipe) -> list[dict]:
    fresh, pretrained = [], []
    for name, param in head.named_parameters():
        (fresh if name.startswith(("fc.", "pool.")) else pretrained).append(param)
    groups = [{"params": fresh, "lr": recipe.lr}]
    if pretrained:
        groups.append({"params": pretrained, "lr": recipe.lr * recipe.pretrained_lr_scale})
    return groups


def _pair_batches(data: ViewData, recipe: ViewRecipe, rng: np.random.Generator):
    by_class = {
        int(c): np.flatnonzero(data.photo_labels == c) for c in np.unique(data.photo_labels)
    }
    sketches = np.flatnonzero(np.isin(data.sketch_labels, list(by_class)))
    if not len(sketches):
        raise ValueError("no training sketch has a photo of its category")
    order = rng.permutation(sketches)
    for start in range(0, len(order) - 1, recipe.batch_size):
        sk = order[start : start + recipe.batch_size]
        if len(sk) < 2:
            continue
        photos = np.empty(len(sk), np.int64)
        for i, s in enumerate(sk):
            own = int(data.instance_photo[s])
            if own >= 0 and rng.random() < recipe.instance_rate:
                photos[i] = own
            else:
                photos[i] = rng.choice(by_class[int(data.sketch_labels[s])])
        yield sk, photos


def joint_contrastive(
    vectors: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """SupCon over all 2B items: each item's positives are the other same-category items."""
    logits = -torch.cdist(vectors, vectors).pow(2) / (2 * temperature)
    self_mask = torch.eye(len(vectors), dtype=torch.bool, device=vectors.device)
    logits = logits.masked_fill(self_mask, -math.inf)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    return multi_positive_nce(logits, positive)


def steps_per_epoch(data: ViewData, recipe: ViewRecipe) -> int:
    return max(1, math.ceil(len(data.sketch_labels) / recipe.batch_size))


def train_on_views(
    head: nn.Module,
    data: ViewData,
    recipe: ViewRecipe,
    *,
    device: torch.device | str = "cpu",
    on_epoch: EpochCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> nn.Module:
    """Train ``head`` in place on ``data`` and return it (eval mode)."""
    device = torch.device(device)
    head = head.to(device)
    rng = np.random.default_rng(recipe.seed)
    torch.manual_seed(recipe.seed)
    optimizer = torch.optim.AdamW(_parameter_groups(head, recipe), weight_decay=recipe.weight_decay)
    total = steps_per_epoch(data, recipe) * recipe.epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[g["lr"] for g in optimizer.param_groups],
        total_steps=total,
        pct_start=0.15,
    )
    n_sv, n_pv = data.sketch_views.shape[0], data.photo_views.shape[0]
    s_lab = torch.from_numpy(data.sketch_labels)
    p_lab = torch.from_numpy(data.photo_labels)
    steps = 0
    for epoch in range(recipe.epochs):
        started = time.monotonic()
        head.train()
        if hasattr(head, "freeze_batchnorm_statistics"):
            head.freeze_batchnorm_statistics()
        losses = []
        for sk, ph in _pair_batches(data, recipe, rng):
            if steps >= total:
                break
            sv = rng.integers(0, n_sv, len(sk))
            pv = rng.integers(0, n_pv, len(ph))
            x_s = torch.from_numpy(data.sketch_views[sv, sk].astype(np.float32))
            x_p = torch.from_numpy(data.photo_views[pv, ph].astype(np.float32))
            vectors = head(torch.cat([x_s, x_p]).to(device))
            v_s, v_p = vectors[: len(sk)], vectors[len(sk) :]
            logits = -torch.cdist(v_s, v_p).pow(2) / (2 * recipe.temperature)
            positive = (s_lab[sk][:, None] == p_lab[ph][None, :]).to(device)
            loss = 0.5 * (
                multi_positive_nce(logits, positive) + multi_positive_nce(logits.T, positive.T)
            )
            if recipe.joint_weight:
                loss = loss + recipe.joint_weight * joint_contrastive(
                    vectors, torch.cat([s_lab[sk], p_lab[ph]]).to(device), recipe.temperature
                )
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} in epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            steps += 1
            losses.append(loss.item())
        head.eval()
        mean = float(np.mean(losses)) if losses else float("nan")
        if log is not None:
            log(
                f"epoch {epoch + 1}/{recipe.epochs}: loss {mean:.4f}, "
                f"{time.monotonic() - started:.0f} s"
            )
        if on_epoch is not None:
            on_epoch(epoch, head, mean)
    return head.eval()
