"""Stage 2 of the protocol: personalization (V.B last paragraph, Table 3, Fig. 13) and
feedback rounds against relevance-feedback baselines (beyond the paper).

Users (Table 3): for every parent category with more than one sub-category, one simulated
user per sub-category. The user's feedback on each *training* sketch of the parent is the
first photo of their sub-category in the general ranking (the paper: "each type of feedback
map selects the first natural image in the general model"); the eq. 9 set is built from it
with the photos' labels (positives: the chosen sub-category, 100 per sketch, 1:1:1), and a
re-initialised conv6 head is fine-tuned with eq. 14 (:mod:`personalization.engine.finetune`).
The user's *test* sketches of the parent then rank the whole gallery with
``(1 - w) d_general + w d_personal`` (eq. 18); a photo is relevant when it is in the user's
parent and sub-category. Table 3's "general" row is w = 0, its "personal" row w = 1.

Feedback rounds: users who teach several subjects and search others too, scored on topic
(whole gallery and residual collection) and off topic (retention), the product's ranking
against Rocchio, 1-NN, the head alone and the general model: :mod:`.mixed`.

``candidates`` C > 0 re-scores only the general top C of each query with the personal head
(what the product's search does, :mod:`personalization.ranking`); 0 ranks the whole gallery
by eq. 19, as the paper does.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from personalization.engine.closeness import ClosenessRule
from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.finetune import FinetuneConfig, FinetuneResult, finetune_head
from personalization.engine.grouping import PhotoPool
from personalization.engine.scoring import Calibration, eq16
from personalization.lab.protocol.metrics import fine_grained_relevance, nanmean, query_aps
from personalization.lab.protocol.mixed import mixed_user_rounds, mixed_users, summarize_mixed
from retrieval.engine.distances import euclidean_distances
from retrieval.engine.model import head_vectors, pooled_features
from retrieval.lab.metrics import interpolated_pr_curve, rank

PAPER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
POOL = "gallery"


@dataclass(frozen=True)
class PersonalConfig:
    per_branch: int = 100  # positives per sketch (V.B), 1:1:1
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    weights: tuple[float, ...] = PAPER_WEIGHTS
    feedback_rounds: int = 5
    rounds_users: int = 0  # how many users run the rounds experiment; 0 = all
    table3_users: int = 0  # how many users Table 3 and the w sweep fine-tune for; 0 = all
    shown: int = 20  # results a user looks at per round (PSBIR_DEFAULT_TOP_K)
    candidates: int = 0  # 0: eq. 19 over the whole gallery; C: re-score the general top C
    neighbours: int = 3  # derived sub-category of a marked photo: itself + 3 neighbours
    product_weight: float = 0.75  # PSBIR_DEFAULT_PERSONAL_WEIGHT: the product's w
    offer_subjects: int = 3  # PSBIR_PERSONAL_OFFER_SUBJECTS: earlier searches offered
    off_topic_queries: int = 100  # per mixed-subject user: test sketches of untaught categories
    calibrated: bool = True  # eq. 18 on calibrated distances (the product's); False: raw
    device: str = "cpu"
    seed: int = 0


@dataclass
class Gallery:
    """The personalization gallery and the query set, as aligned arrays."""

    photo_ids: np.ndarray  # indices into the selection's photos
    parents: np.ndarray  # category per gallery photo
    subs: np.ndarray  # sub-category per gallery photo
    photo_maps: np.ndarray  # conv5 maps per gallery photo
    general_photos: np.ndarray  # general vectors per gallery photo
    query_maps: np.ndarray  # conv5 maps per query (all of the selection's queries)
    general_queries: np.ndarray  # general vectors per query
    query_parent: np.ndarray  # category per query
    query_is_test: np.ndarray
    query_self: np.ndarray  # gallery position of a photo query itself, else -1
    general_head: torch.nn.Module | None = None  # the general model (projection heads)
    _pooled: dict = field(default_factory=dict)  # "photos" / "queries": general head to GeM

    def pooled(self, kind: str) -> torch.Tensor:
        """The general head's GeM features of every gallery photo / query, computed once:
        a projection head (finetune scope "projection") only adds its linear layer."""
        if kind not in self._pooled:
            maps = self.photo_maps if kind == "photos" else self.query_maps
            self._pooled[kind] = pooled_features(self.general_head.eval(), maps)
        return self._pooled[kind]

    def exclude(self, queries: np.ndarray) -> np.ndarray | None:
        own = self.query_self[queries]
        return own if (own >= 0).any() else None

    def pool(self, *, hide_subs: bool) -> PhotoPool:
        subs = np.full(len(self.subs), "", dtype=object) if hide_subs else self.subs
        return PhotoPool(
            ids=self.photo_ids,
            parents=self.parents,
            subs=subs,
            general_vectors=self.general_photos if hide_subs else None,
        )


def user_seed(seed: int, parent: str, sub: str, salt: str = "") -> int:
    return int(zlib.crc32(f"{seed}|{parent}|{sub}|{salt}".encode()) & 0x7FFFFFFF)


def first_of_sub(ranked: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row of ``ranked`` (gallery positions), the first position whose ``target`` holds."""
    hits = target[ranked]
    if not hits.any(axis=1).all():
        raise ValueError("a ranking holds no photo of the sub-category")
    return ranked[np.arange(len(ranked)), hits.argmax(axis=1)]


def mixed_ranking(
    d_general: np.ndarray,
    d_personal: np.ndarray,
    w: float,
    *,
    candidates: int,
    exclude: np.ndarray | None,
) -> np.ndarray:
    """Eq. 19 ranking of the gallery; with ``candidates`` C only the general top C move."""
    mixed = (1.0 - w) * d_general + w * d_personal
    return rerank(d_general, mixed, candidates=candidates, exclude=exclude)


def personal_vectors(result: FinetuneResult, g: Gallery, kind: str, rows: np.ndarray):
    """Personal head vectors of gallery photos / queries ``rows``; a projection head (the
    general head's layers with a new ``fc``) reuses the gallery's pooled features."""
    head = result.head
    if result.scope == "projection" and g.general_head is not None:
        with torch.no_grad():
            pooled = g.pooled(kind)[torch.from_numpy(np.asarray(rows, np.int64))]
            return head.project(pooled).numpy()
    maps = g.photo_maps if kind == "photos" else g.query_maps
    return head_vectors(head, maps[rows])


def personal_distance_matrix(
    result: FinetuneResult,
    g: Gallery,
    queries: np.ndarray,
    d_general: np.ndarray,
    *,
    candidates: int,
) -> np.ndarray:
    """(Q, N) eq. 16 distances (the served :func:`~personalization.engine.scoring.eq16`);
    with ``candidates``, only the photos some query re-scores are embedded (the others are
    +inf and never read)."""
    q_vec = personal_vectors(result, g, "queries", queries)
    if candidates <= 0:
        every = np.arange(len(g.photo_ids))
        return eq16(q_vec, personal_vectors(result, g, "photos", every))
    top = rank(d_general, g.exclude(queries))[:, :candidates]
    needed = np.unique(top)
    out = np.full(d_general.shape, np.inf)
    out[:, needed] = eq16(q_vec, personal_vectors(result, g, "photos", needed))
    return out


def _finetune(ts, g: Gallery, config: FinetuneConfig, device: str):
    result = finetune_head(
        ts,
        sketch_maps=g.query_maps[np.asarray(ts.sketch_keys, np.int64)],
        photo_maps=g.photo_maps[_gallery_positions(g, ts.photo_ids)],
        config=config,
        device=device,
        general_head=g.general_head,
    )
    return result


def calibrated(result, d_personal: np.ndarray, config: PersonalConfig) -> np.ndarray:
    """d_personal in the general head's units (scoring.mix's calibration), or raw."""
    calibration = Calibration.from_dict(result.calibration) if config.calibrated else None
    if calibration is None:
        return d_personal
    return d_personal * (calibration.general / calibration.personal)


def _gallery_positions(g: Gallery, photo_ids: np.ndarray) -> np.ndarray:
    position = {int(p): i for i, p in enumerate(g.photo_ids.tolist())}
    return np.array([position[int(p)] for p in photo_ids], np.int64)


@dataclass
class UserTask:
    parent: str
    sub: str
    train: np.ndarray  # query indices
    test: np.ndarray


def user_tasks(g: Gallery, parents: dict[str, list[str]]) -> tuple[list[UserTask], dict]:
    """One task per (parent, sub-category); parents without train or test queries skipped."""
    tasks, skipped = [], {}
    for parent, subs in parents.items():
        of_parent = g.query_parent == parent
        train = np.flatnonzero(of_parent & ~g.query_is_test)
        test = np.flatnonzero(of_parent & g.query_is_test)
        if not len(train) or not len(test):
            skipped[parent] = "no training or no test query"
            continue
        tasks += [UserTask(parent, sub, train, test) for sub in subs]
    return tasks, skipped


def table3_user(task: UserTask, g: Gallery, config: PersonalConfig) -> dict:
    """Fine-tune on labelled feedback for every training query; APs at every w."""
    target = (g.parents == task.parent) & (g.subs == task.sub)
    d_train = euclidean_distances(g.general_queries[task.train], g.general_photos)
    chosen = first_of_sub(rank(d_train, g.exclude(task.train)), target)
    items = [
        FeedbackItem(int(q), POOL, (int(g.photo_ids[c]),))
        for q, c in zip(task.train, chosen, strict=True)
    ]
    seed = user_seed(config.seed, task.parent, task.sub)
    ts = build_training_set(
        items, {POOL: g.pool(hide_subs=False)}, per_branch=config.per_branch, seed=seed
    )
    result = _finetune(ts, g, replace(config.finetune, seed=seed), config.device)
    evaluation = evaluate_head(result, task, g, config, config.weights)
    return {
        "parent": task.parent,
        "sub": task.sub,
        "sub_photos": int(target.sum()),
        "train_queries": int(len(task.train)),
        "test_queries": int(len(task.test)),
        "training_set": {str(k): v for k, v in ts.counts().items()},
        "finetune": {
            "seconds": round(result.seconds, 2),
            "steps": result.steps,
            "final_loss": result.losses[-1] if result.losses else None,
            "diverged": result.diverged,
            "scope": result.scope,
            "calibration": result.calibration,
        },
        **evaluation,
    }


def evaluate_head(
    result: FinetuneResult | None,
    task: UserTask,
    g: Gallery,
    config: PersonalConfig,
    weights: tuple[float, ...],
) -> dict:
    """Fine-grained AP of the task's test queries at each w (``relevance`` rows kept)."""
    exclude = g.exclude(task.test)
    d_general = euclidean_distances(g.general_queries[task.test], g.general_photos)
    d_personal = d_general
    if result is not None:
        d_personal = calibrated(
            result,
            personal_distance_matrix(result, g, task.test, d_general, candidates=config.candidates),
            config,
        )
    aps, rel_rows = {}, {}
    for w in weights:
        ranked = mixed_ranking(
            d_general, d_personal, w, candidates=config.candidates, exclude=exclude
        )
        rel = fine_grained_relevance(ranked, task.parent, task.sub, g.parents, g.subs)
        aps[str(w)] = nanmean(query_aps(rel))
        rel_rows[str(w)] = rel
    return {"ap": aps, "_relevance": rel_rows}


def rerank(
    d_general: np.ndarray, score: np.ndarray, *, candidates: int, exclude: np.ndarray | None
) -> np.ndarray:
    """Rank the gallery by ``score``; with ``candidates`` C only the general top C move
    (what the product's search does)."""
    if candidates <= 0:
        return rank(score, exclude)
    order = rank(d_general, exclude)
    top = order[:, :candidates]
    rows = np.arange(len(order))[:, None]
    top = np.take_along_axis(top, np.argsort(score[rows, top], axis=1, kind="stable"), axis=1)
    return np.concatenate([top, order[:, candidates:]], axis=1)


def rounds_order(tasks: list[UserTask], limit: int) -> list[UserTask]:
    """Round-robin over parents (first sub of every parent, then the second ...), cut."""
    by_parent: dict[str, list[UserTask]] = defaultdict(list)
    for t in tasks:
        by_parent[t.parent].append(t)
    ordered = []
    depth = max((len(v) for v in by_parent.values()), default=0)
    for k in range(depth):
        ordered += [v[k] for v in by_parent.values() if k < len(v)]
    return ordered[:limit] if limit > 0 else ordered


def aggregate(rows: list[dict], key: Callable[[dict], float]) -> dict:
    """Table 3's aggregation: mean over a parent's users, then over parents; and over users."""
    per_parent: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        per_parent[row["parent"]].append(key(row))
    by_parent = {p: nanmean(v) for p, v in sorted(per_parent.items())}
    return {
        "per_category": by_parent,
        "map": nanmean(by_parent.values()),
        "map_by_user": nanmean(key(r) for r in rows),
    }


def personalization_stage(
    g: Gallery,
    parents: dict[str, list[str]],
    config: PersonalConfig,
    *,
    rule: ClosenessRule | None = None,
    query_kind: str = "sketch",
    on_task: Callable[[str], None] | None = None,
) -> dict:
    """Table 3, the w sweep, the fine-grained P-R curves and the feedback rounds of
    mixed-subject users (:mod:`.mixed`; they need the closeness ``rule``)."""
    tasks, skipped = user_tasks(g, parents)
    if not tasks:
        return {
            "skipped": "no parent category with more than one sub-category and both "
            "training and test queries",
            "skipped_parents": skipped,
        }
    users = []
    for task in rounds_order(tasks, config.table3_users):
        users.append(table3_user(task, g, config))
        if on_task:
            on_task(f"{task.parent}/{task.sub}")
    weights = [str(w) for w in config.weights]
    sweep = {w: aggregate(users, lambda r, w=w: r["ap"][w]) for w in weights}
    pr = {}
    for w in weights:
        rows = [row for u in users for row in u["_relevance"][w]]
        recall, precision = interpolated_pr_curve(rows)
        pr[w] = {"recall": recall.tolist(), "precision": precision.tolist()}
    for u in users:
        del u["_relevance"]

    per_user_rounds = []
    if config.feedback_rounds > 0 and rule is not None:
        for user in mixed_users(rounds_order(tasks, 0), g, config, seed=config.seed):
            label = " + ".join(s.name for s in user.subjects)
            per_user_rounds.append(
                mixed_user_rounds(
                    user,
                    g,
                    config,
                    rule,
                    query_kind,
                    finetune=lambda ts, cfg: _finetune(ts, g, cfg, config.device),
                    personal=lambda result, queries, d: calibrated(
                        result,
                        personal_distance_matrix(
                            result, g, queries, d, candidates=config.candidates
                        ),
                        config,
                    ),
                    rerank=rerank,
                    build_pool=lambda: g.pool(hide_subs=True),
                    on_round=(lambda label=label: on_task(f"{label} rounds")) if on_task else None,
                )
            )
    return {
        "users": users,
        "skipped_parents": skipped,
        "table3": {
            "general": sweep[str(config.weights[0])] if 0.0 in config.weights else None,
            "personal": sweep[str(config.weights[-1])] if 1.0 in config.weights else None,
        },
        "w_sweep": {
            w: {"map": s["map"], "map_by_user": s["map_by_user"]} for w, s in sweep.items()
        },
        "pr_curves": pr,
        "rounds": summarize_mixed(per_user_rounds),
    }
