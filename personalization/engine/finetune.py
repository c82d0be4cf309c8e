"""Fine-tuning a user's head on cached trunk maps (section IV.B-C, eqs. 12-15).

The trunk stays frozen by construction: we never run it, the inputs are the maps cached at
search time (sketches) and at indexing time (photos). The head is re-initialised (the paper
retrains "the high-level convolution template ... randomly initialized"; for EfficientNet
heads: the ImageNet layers as they came and a fresh linear layer, see
:func:`retrieval.engine.heads.new_head`) and trained with the three-branch loss of eq. 14,
Adam, lr 1e-4 halved every 5 rounds. The trunk is the one whose maps these are
(:func:`retrieval.engine.trunks.trunk_of_maps`), i.e. the general model's.

Eq. 14's constants scale with the head's distances: Q = 100 for conv6 heads (the paper's),
Q = 2 for heads that output unit vectors (distances in [0, 2]); h1 = Q / 10, h2 = Q / 2 in
both. Eq. 14 is scale-covariant (distances, Q, h1 and h2 all times s multiply the loss by
s), so this is the paper's loss on the head's own scale.

One round is one pass over the eq. 9 set in shuffled mini-batches. Inside a mini-batch each
distinct sketch and photo goes through the head once (a sketch appears in up to 3 x
``per_branch`` quadruples), which gives the same gradient as one forward per quadruple at a
fraction of the cost.

A non-finite loss (NaN / inf) stops training at once: the result says ``diverged`` and the
caller must not publish the head.

Two scopes of what is re-initialised and trained (``FinetuneConfig.scope``):

- ``"full"`` (the paper's): the whole head, from :func:`retrieval.engine.heads.new_head`.
- ``"projection"`` (the product's, EfficientNet heads only): the general head's layers up to
  GeM stay frozen (as the trunk does) and only its final linear layer to 512 is
  re-initialised and trained. Frozen layers mean each training item is embedded up to GeM
  once, and a round is a few matrix products: a 10-sketch user trains in seconds instead of
  minutes (docs/personalization.md), and the personal head is still a full head file that
  search serves like any other.

Both scopes also return the **distance scales** of the general and the personal head
(:func:`.scoring.distance_scale` over the training sketches x training photos), which put the two
distances of eq. 18 on one scale (:func:`personalization.engine.scoring.mix`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from personalization.engine.dataset import TrainingSet
from personalization.engine.scoring import distance_scale
from retrieval.engine.heads import new_head
from retrieval.engine.losses import ThreeBranchLoss
from retrieval.engine.model import pooled_features
from retrieval.engine.trunks import trunk_of_maps, trunk_spec

ProgressCallback = Callable[[int, int, float], None]  # (round done, rounds, mean loss)
SCOPES = ("full", "projection")


@dataclass(frozen=True)
class FinetuneConfig:
    """Paper settings (section V.B) unless noted."""

    rounds: int = 20
    batch_size: int = 64  # ours: the paper gives no batch size for the personalized model
    lr: float = 1e-4
    lr_halve_every: int = 5
    q: float | None = None  # None: the head's own scale (100 for conv6, 2 for unit vectors)
    seed: int = 0
    scope: str = "full"  # "full" (the paper's) or "projection" (needs the general head)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")

    def q_for(self, trunk: str) -> float:
        if self.q is not None:
            return float(self.q)
        return 100.0 if trunk_spec(trunk).head_arch == "conv6_head" else 2.0


@dataclass
class FinetuneResult:
    head: nn.Module
    losses: list[float] = field(default_factory=list)  # mean loss of each finished round
    lrs: list[float] = field(default_factory=list)  # learning rate each round ran with
    diverged: bool = False
    error: str = ""
    seconds: float = 0.0
    steps: int = 0
    trunk: str = ""  # whose maps the head takes
    q: float = 0.0  # eq. 14's Q as used (h1 = Q / 10, h2 = Q / 2)
    scope: str = "full"
    # Median sketch-photo distance over the training set, per head ("general" only when the
    # general head was given): what scoring.mix divides each distance by.
    calibration: dict[str, float] = field(default_factory=dict)


def make_loss(config: FinetuneConfig, trunk: str = "vgg16_hed") -> nn.Module:
    """Eq. 14 with the paper's constants: Q, h1 = Q / 10, h2 = Q / 2."""
    q = config.q_for(trunk)
    return ThreeBranchLoss(q=q, h1=q / 10, h2=q / 2)


def finetune_head(
    training_set: TrainingSet,
    *,
    sketch_maps: np.ndarray,
    photo_maps: np.ndarray,
    config: FinetuneConfig | None = None,
    progress: ProgressCallback | None = None,
    device: str = "cpu",
    general_head: nn.Module | None = None,
) -> FinetuneResult:
    """Train a re-initialised head (or its projection) on ``training_set``.

    ``sketch_maps`` (S, C, 8, 8) are aligned with ``training_set.sketch_keys`` and
    ``photo_maps`` (P, C, 8, 8) with ``training_set.photo_ids``; float16 or float32. The
    maps' shape names the trunk, and so the kind of head trained. ``general_head`` is the
    general model's head: required by ``scope="projection"``, and used by both scopes to
    measure the general distance scale.
    """
    config = config or FinetuneConfig()
    if len(training_set) == 0:
        raise ValueError("the training set is empty")
    if len(sketch_maps) != len(training_set.sketch_keys):
        raise ValueError("sketch_maps must have one map per training-set sketch")
    if len(photo_maps) != len(training_set.photo_ids):
        raise ValueError("photo_maps must have one map per training-set photo")

    started = time.perf_counter()
    trunk = trunk_of_maps(np.asarray(photo_maps).shape[1:])
    sketches = torch.from_numpy(np.ascontiguousarray(sketch_maps)).float()
    photos = torch.from_numpy(np.ascontiguousarray(photo_maps)).float()
    if config.scope == "projection":
        head, parameters, embed, sketches, photos = _projection_setup(
            general_head, config.seed, sketches, photos, device
        )
    else:
        head = new_head(trunk, config.seed).to(device)
        head.train()
        if hasattr(head, "freeze_batchnorm_statistics"):
            head.freeze_batchnorm_statistics()
        parameters, embed = list(head.parameters()), head
    loss_fn = make_loss(config, trunk)
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    schedule = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=config.lr_halve_every, gamma=0.5
    )
    s_index = torch.from_numpy(training_set.sketch_index)
    p_index = torch.from_numpy(training_set.photo_index)
    labels = torch.from_numpy(training_set.labels.astype(np.float32))
    generator = torch.Generator().manual_seed(config.seed)
    result = FinetuneResult(head=head, trunk=trunk, q=config.q_for(trunk), scope=config.scope)

    for round_no in range(1, config.rounds + 1):
        order = torch.randperm(len(labels), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = _batch_loss(
                embed,
                loss_fn,
                sketches,
                photos,
                s_index[batch],
                p_index[batch],
                labels[batch],
                device,
            )
            if not torch.isfinite(loss):
                result.diverged = True
                result.error = f"loss became {loss.item()} in round {round_no}"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            result.steps += 1
            total += loss.item() * len(batch)
            count += len(batch)
        if result.diverged:
            break
        mean = total / max(count, 1)
        if not math.isfinite(mean):
            result.diverged, result.error = True, f"mean loss {mean} in round {round_no}"
            break
        result.losses.append(mean)
        result.lrs.append(float(optimizer.param_groups[0]["lr"]))
        schedule.step()
        if progress is not None:
            progress(round_no, config.rounds, mean)

    if not result.diverged and not _parameters_finite(head):
        result.diverged, result.error = True, "non-finite weights after training"
    head.eval()
    if not result.diverged:
        general_embed = None
        if general_head is not None:
            general_head = general_head.to(device).eval()
            general_embed = general_head
            if config.scope == "projection":  # inputs are pooled: the general fc on them
                general_embed = general_head.project

        result.calibration = _calibration(
            embed, general_embed, sketches, photos, training_set, device
        )
    result.seconds = time.perf_counter() - started
    return result


def _projection_setup(
    general_head: nn.Module | None,
    seed: int,
    sketches: torch.Tensor,
    photos: torch.Tensor,
    device: str,
) -> tuple[nn.Module, list[nn.Parameter], Callable, torch.Tensor, torch.Tensor]:
    """The general head with a fresh seeded ``fc``; inputs embedded up to GeM once."""
    if general_head is None or not hasattr(general_head, "pooled"):
        raise ValueError("scope 'projection' needs the general model's EfficientNet head")
    head = copy.deepcopy(general_head).to(device).eval()
    for parameter in head.parameters():
        parameter.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head.fc = nn.Linear(head.fc.in_features, head.fc.out_features).to(device)
    pooled_sketches = pooled_features(head, sketches, device)
    pooled_photos = pooled_features(head, photos, device)
    return head, list(head.fc.parameters()), head.project, pooled_sketches, pooled_photos


@torch.no_grad()
def _calibration(
    personal: Callable[[torch.Tensor], torch.Tensor],
    general: Callable[[torch.Tensor], torch.Tensor] | None,
    sketches: torch.Tensor,
    photos: torch.Tensor,
    training_set: TrainingSet,
    device: str,
) -> dict[str, float]:
    """Each head's :func:`.scoring.distance_scale` over the training sketches x (at most
    512 of) the training photos: enough for a median, bounded whatever the set's size.
    ``sketches`` / ``photos`` are what the embedding functions take (maps, or pooled
    features for a projection)."""
    rows = torch.from_numpy(np.unique(training_set.photo_index)[:512])
    out = {}
    for name, embed in (("personal", personal), ("general", general)):
        if embed is None:
            continue
        a = torch.cat(
            [embed(sketches[i : i + 256].to(device)) for i in range(0, len(sketches), 256)]
        )
        b = torch.cat(
            [embed(photos[rows[i : i + 256]].to(device)) for i in range(0, len(rows), 256)]
        )
        out[name] = distance_scale(a.float().cpu().numpy(), b.float().cpu().numpy())
    return out


def _batch_loss(
    embed: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: nn.Module,
    sketches: torch.Tensor,
    photos: torch.Tensor,
    s_idx: torch.Tensor,
    p_idx: torch.Tensor,
    y: torch.Tensor,
    device: str,
) -> torch.Tensor:
    # Run each distinct sketch / photo once, then gather per quadruple.
    s_unique, s_inverse = torch.unique(s_idx, return_inverse=True)
    p_unique, p_inverse = torch.unique(p_idx, return_inverse=True)
    inputs = torch.cat([sketches[s_unique], photos[p_unique]]).to(device, torch.float32)
    vectors = embed(inputs)
    v_sketch = vectors[: len(s_unique)][s_inverse]
    v_photo = vectors[len(s_unique) :][p_inverse]
    return loss_fn(v_sketch, v_photo, y.to(device))


def _parameters_finite(head: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in head.parameters())
