"""Training a conv6 head on cached VGG-16 conv5 maps: the paper's eq. 4 and InfoNCE variants.

Recipes (``RECIPES``):
- ``paper``: eq. 4 (Q = 100) on balanced 1:1 positive/negative pairs, RMSProp lr 1e-4
  halved every 5 epochs (section V.B), via :func:`.pair_loop.train_head_on_features`.
- ``nce``: in-batch InfoNCE over *negative squared Euclidean distances* (the product ranks
  by Euclidean distance on the raw 512-d vectors, so the loss scores exactly what search
  ranks), every same-category photo in the batch a positive, both directions.
- ``nce_cls``: ``nce`` + a cosine-classifier term (category prototypes) on both branches.
- ``nce_cls_pp``: ``nce_cls`` + photo-to-photo InfoNCE (edge map vs edge map of the same
  category; the head learns shape from photos alone, EdgeMAC-like, no sketch needed).

All non-paper recipes use AdamW with a one-cycle schedule, feature-map flips/shifts as
augmentation, and instance pairs (a sketch's own photo is its positive half the time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from retrieval.engine.encoder import Conv6Head
from retrieval.engine.heads import bootstrap_conv6_head
from retrieval.lab.training.pair_loop import augment_features, train_head_on_features

RECIPES = ("paper", "nce", "nce_cls", "nce_cls_pp")


@dataclass(frozen=True)
class RecipeConfig:
    recipe: str = "nce_cls"
    epochs: int = 30
    batch_size: int = 64  # sketches per step (each brings one photo)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1  # of the distance logits, relative to the mean batch distance
    cls_weight: float = 0.5
    cls_scale: float = 16.0
    pp_weight: float = 0.5
    instance_rate: float = 0.5
    init: str = "bootstrap"  # "bootstrap" (random projection, see heads.py) | "random"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {RECIPES}")

    def as_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> RecipeConfig:
        return replace(self, **changes)


@dataclass
class TrainData:
    """Cached conv5 maps and labels of the training items only."""

    sketch_feats: np.ndarray  # (S, 512, 8, 8)
    photo_feats: np.ndarray  # (P, 512, 8, 8)
    sketch_labels: np.ndarray  # (S,) int in [0, C)
    photo_labels: np.ndarray  # (P,)
    instance_photo: np.ndarray  # (S,) index into photos, -1 when the pair is not in the set

    @property
    def num_classes(self) -> int:
        return int(max(self.sketch_labels.max(initial=-1), self.photo_labels.max(initial=-1))) + 1


def recipe_head(config: RecipeConfig) -> Conv6Head:
    """The conv6 head a VGG recipe run starts from. Not :func:`retrieval.engine.heads.new_head`:
    it seeds the global torch RNG for the whole run (batches and augmentation draw from it
    next), which is how the shipped VGG head was trained and what keeps it reproducible."""
    torch.manual_seed(config.seed)
    return bootstrap_conv6_head(config.seed) if config.init == "bootstrap" else Conv6Head()


def distance_logits(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """-||a_i - b_j||^2 / scale for every pair (the ranking the product uses, as logits)."""
    return -torch.cdist(a, b).pow(2) / scale


def multi_positive_nce(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -log(sum_pos softmax); rows without a positive are skipped."""
    log_prob = logits.log_softmax(dim=1)
    has = positive.any(dim=1)
    pos_lp = torch.logsumexp(log_prob.masked_fill(~positive, -math.inf), dim=1)
    return -(pos_lp[has]).mean()


class CosineClassifier(nn.Module):
    """s * cos(v, w_c): a category term that shapes directions, not norms."""

    def __init__(self, dim: int, classes: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.scale = scale

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(v, dim=1) @ F.normalize(self.weight, dim=1).T


class _Sampler:
    """Per step: ``batch_size`` sketches and, for each, a positive photo (own one or same class)."""

    def __init__(self, data: TrainData, config: RecipeConfig) -> None:
        self.data, self.config = data, config
        self.by_class = {
            int(c): np.flatnonzero(data.photo_labels == c) for c in np.unique(data.photo_labels)
        }
        self.sketches = np.flatnonzero(np.isin(data.sketch_labels, list(self.by_class)))
        if not len(self.sketches):
            raise ValueError("no training sketch has a photo of its category")

    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(len(self.sketches) / self.config.batch_size))

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.config.seed, epoch])
        order = rng.permutation(self.sketches)
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            sk = order[start : start + bs]
            if len(sk) < 2:
                continue
            photos = np.empty(len(sk), np.int64)
            for i, s in enumerate(sk):
                own = int(self.data.instance_photo[s])
                if own >= 0 and rng.random() < self.config.instance_rate:
                    photos[i] = own
                else:
                    photos[i] = rng.choice(self.by_class[int(self.data.sketch_labels[s])])
            yield sk, photos


def train_head(
    data: TrainData,
    config: RecipeConfig,
    *,
    head: Conv6Head | None = None,
    start_epoch: int = 0,
    extra_state: dict | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    on_epoch: Callable[[int, Conv6Head, dict], None] | None = None,
) -> Conv6Head:
    """Train a head with ``config``; ``on_epoch(epoch, head, state)`` after every epoch.

    ``state`` holds what resuming needs (optimizer, scheduler, classifier); pass it back as
    ``extra_state`` with ``start_epoch`` to continue a run exactly where it stopped.
    """
    head = head if head is not None else recipe_head(config)
    if config.recipe == "paper":
        return _train_paper(data, config, head, start_epoch, device, progress, on_epoch)
    head.to(device).train()
    classifier = CosineClassifier(512, data.num_classes, config.cls_scale).to(device)
    sampler = _Sampler(data, config)
    params = list(head.parameters()) + list(classifier.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    total_steps = sampler.steps_per_epoch() * config.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.15
    )
    if extra_state:
        optimizer.load_state_dict(extra_state["optimizer"])
        scheduler.load_state_dict(extra_state["scheduler"])
        classifier.load_state_dict(extra_state["classifier"])
    sk_all = torch.from_numpy(np.asarray(data.sketch_feats, np.float32))
    ph_all = torch.from_numpy(np.asarray(data.photo_feats, np.float32))
    sk_lab = torch.from_numpy(data.sketch_labels)
    ph_lab = torch.from_numpy(data.photo_labels)
    use_cls = config.recipe in ("nce_cls", "nce_cls_pp")
    use_pp = config.recipe == "nce_cls_pp"
    bar = tqdm(
        total=total_steps,
        initial=start_epoch * sampler.steps_per_epoch(),
        desc=f"train {config.recipe}",
        disable=not progress,
        mininterval=5,
    )
    for epoch in range(start_epoch, config.epochs):
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        losses = []
        for sk, ph in sampler.batches(epoch):
            xs = augment_features(sk_all[sk], gen).to(device)
            xp = augment_features(ph_all[ph], gen).to(device)
            ys, yp = sk_lab[sk].to(device), ph_lab[ph].to(device)
            vs, vp = head(xs), head(xp)
            # Temperature relative to the batch's mean distance: the loss cannot be lowered
            # by inflating every vector, only by ordering distances.
            scale = torch.cdist(vs, vp).pow(2).mean().detach().clamp_min(1e-6) * config.temperature
            logits = distance_logits(vs, vp, scale)
            positive = ys[:, None] == yp[None, :]
            loss = 0.5 * (
                multi_positive_nce(logits, positive) + multi_positive_nce(logits.T, positive.T)
            )
            if use_cls:
                cls = F.cross_entropy(classifier(vs), ys) + F.cross_entropy(classifier(vp), yp)
                loss = loss + config.cls_weight * 0.5 * cls
            if use_pp:
                # A second, independently augmented view of the same photos is the anchor.
                vp2 = head(augment_features(ph_all[ph], gen).to(device))
                pp_logits = distance_logits(vp2, vp, scale)
                loss = loss + config.pp_weight * multi_positive_nce(pp_logits, yp[:, None] == yp)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses):.3f}")
        if on_epoch:
            state = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "classifier": classifier.state_dict(),
                "loss": float(np.mean(losses)),
            }
            head.eval()
            on_epoch(epoch, head, state)
            head.train()
    bar.close()
    return head.eval()


def _train_paper(data, config, head, start_epoch, device, progress, on_epoch):
    # The paper's recipe has no state worth resuming beyond the head: its RMSProp/StepLR run
    # is short, so a resumed run restarts the schedule at ``start_epoch`` (documented).
    remaining = config.epochs - start_epoch
    if remaining <= 0:
        return head.eval()
    history = train_head_on_features(
        head,
        data.sketch_feats,
        data.photo_feats,
        data.sketch_labels,
        data.photo_labels,
        epochs=remaining,
        batch_size=16,
        seed=config.seed + start_epoch,
        device=device,
        progress=progress,
        on_epoch=(
            (lambda e, loss: on_epoch(start_epoch + e, head, {"loss": loss})) if on_epoch else None
        ),
    )
    del history
    return head.eval()
