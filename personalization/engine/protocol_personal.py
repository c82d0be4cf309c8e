"""Stage 2 of the protocol: personalization (V.B last paragraph, Table 3, Fig. 13) and
feedback rounds against relevance-feedback baselines (beyond the paper).

Users (Table 3): for every parent category with more than one sub-category, one simulated
user per sub-category. The user's feedback on each *training* sketch of the parent is the
first photo of their sub-category in the general ranking (the paper: "each type of feedback
map selects the first natural image in the general model"); the eq. 9 set is built from it
with the photos' labels (positives: the chosen sub-category, 100 per sketch, 1:1:1), and a
re-initialised conv6 head is fine-tuned with eq. 14 (:mod:`.finetune`). The user's *test*
sketches of the parent then rank the whole gallery with
``(1 - w) d_general + w d_personal`` (eq. 18); a photo is relevant when it is in the user's
parent and sub-category. Table 3's "general" row is w = 0, its "personal" row w = 1.

Feedback rounds: a round is one training sketch searched with the general model, whose
top ``shown`` results the user looks at and marks those of their sub-category (or, when none
is shown, the first one further down, as above). After r rounds we fine-tune on the r
marked sketches **knowing only the marks** (the photos' sub-category labels are hidden:
eq. 9's positives are the marked photos and their nearest neighbours, :mod:`.grouping`'s
"derived-sub" rule, as for a library without sub-category labels; parent labels are kept)
and compare, on the same test sketches, with Rocchio and 1-NN re-ranking fed the same marks.

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

from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.finetune import FinetuneConfig, finetune_head
from personalization.engine.grouping import PhotoPool
from personalization.engine.protocol_baselines import nn_rerank_distances, rocchio_queries
from personalization.engine.protocol_metrics import (
    distances,
    fine_grained_relevance,
    nanmean,
    query_aps,
    rank,
)
from personalization.engine.scoring import head_vectors
from retrieval.engine.metrics import interpolated_pr_curve

PAPER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
POOL = "gallery"


@dataclass(frozen=True)
class PersonalConfig:
    per_branch: int = 100  # positives per sketch (V.B), 1:1:1
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    weights: tuple[float, ...] = PAPER_WEIGHTS
    feedback_rounds: int = 5
    rounds_users: int = 0  # how many users run the rounds experiment; 0 = all
    shown: int = 20  # results a user looks at per round (PSBIR_DEFAULT_TOP_K)
    candidates: int = 0  # 0: eq. 19 over the whole gallery; C: re-score the general top C
    neighbours: int = 3  # derived sub-category of a marked photo: itself + 3 neighbours
    product_weight: float = 0.5  # PSBIR_DEFAULT_PERSONAL_WEIGHT: the rounds curve's mix
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
    if candidates <= 0:
        return rank((1.0 - w) * d_general + w * d_personal, exclude)
    order = rank(d_general, exclude)
    top = order[:, :candidates]
    rows = np.arange(len(order))[:, None]
    mixed = (1.0 - w) * d_general[rows, top] + w * d_personal[rows, top]
    top = np.take_along_axis(top, np.argsort(mixed, axis=1, kind="stable"), axis=1)
    return np.concatenate([top, order[:, candidates:]], axis=1)


def personal_distances(
    head: torch.nn.Module,
    g: Gallery,
    queries: np.ndarray,
    d_general: np.ndarray,
    *,
    candidates: int,
) -> np.ndarray:
    """(Q, N) eq. 16 distances; with ``candidates``, only the photos some query re-scores
    are embedded (the others are +inf and never read)."""
    q_vec = head_vectors(head, g.query_maps[queries])
    if candidates <= 0:
        return distances(q_vec, head_vectors(head, g.photo_maps))
    top = rank(d_general, g.exclude(queries))[:, :candidates]
    needed = np.unique(top)
    out = np.full(d_general.shape, np.inf)
    out[:, needed] = distances(q_vec, head_vectors(head, g.photo_maps[needed]))
    return out


def _finetune(ts, g: Gallery, config: FinetuneConfig, device: str):
    result = finetune_head(
        ts,
        sketch_maps=g.query_maps[np.asarray(ts.sketch_keys, np.int64)],
        photo_maps=g.photo_maps[_gallery_positions(g, ts.photo_ids)],
        config=config,
        device=device,
    )
    return result


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
    d_train = distances(g.general_queries[task.train], g.general_photos)
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
    evaluation = evaluate_head(result.head, task, g, config, config.weights)
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
        },
        **evaluation,
    }


def evaluate_head(
    head: torch.nn.Module | None,
    task: UserTask,
    g: Gallery,
    config: PersonalConfig,
    weights: tuple[float, ...],
) -> dict:
    """Fine-grained AP of the task's test queries at each w (``relevance`` rows kept)."""
    exclude = g.exclude(task.test)
    d_general = distances(g.general_queries[task.test], g.general_photos)
    d_personal = (
        personal_distances(head, g, task.test, d_general, candidates=config.candidates)
        if head is not None
        else d_general
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


def rounds_user(task: UserTask, g: Gallery, config: PersonalConfig, on_round=None) -> dict:
    """Fine-grained AP after 1..R feedback rounds: fine-tuning vs Rocchio vs 1-NN."""
    target = (g.parents == task.parent) & (g.subs == task.sub)
    rng = np.random.default_rng(user_seed(config.seed, task.parent, task.sub, "rounds"))
    order = rng.permutation(task.train)[: config.feedback_rounds]
    pool = g.pool(hide_subs=True)
    exclude_test = g.exclude(task.test)
    d_test = distances(g.general_queries[task.test], g.general_photos)
    general_ap = nanmean(query_aps(_fine(rank(d_test, exclude_test), task, g)))
    items, marked_all, unmarked_all, rows = [], [], [], []
    for r, q in enumerate(order, start=1):
        ranked = rank(
            distances(g.general_queries[[q]], g.general_photos), g.exclude(np.array([q]))
        )[0]
        shown = ranked[: config.shown]
        marked = [int(p) for p in shown if target[p]]
        if not marked:
            marked = [int(first_of_sub(ranked[None], target)[0])]
        marked_all += marked
        unmarked_all += [int(p) for p in shown if p not in marked]
        items.append(FeedbackItem(int(q), POOL, tuple(int(g.photo_ids[p]) for p in marked)))
        seed = user_seed(config.seed, task.parent, task.sub, f"round{r}")
        ts = build_training_set(
            items,
            {POOL: pool},
            per_branch=config.per_branch,
            neighbours=config.neighbours,
            seed=seed,
        )
        result = _finetune(ts, g, replace(config.finetune, seed=seed), config.device)
        tuned = evaluate_head(result.head, task, g, config, (1.0, config.product_weight))["ap"]
        moved = rocchio_queries(
            g.general_queries[task.test],
            g.general_photos[marked_all],
            g.general_photos[unmarked_all],
        )
        rocchio = _fine(rank(distances(moved, g.general_photos), exclude_test), task, g)
        nn = nn_rerank_distances(
            g.general_queries[task.test], g.general_photos, g.general_photos[marked_all]
        )
        nn_rel = _fine(rank(nn, exclude_test), task, g)
        rows.append(
            {
                "round": r,
                "marked": len(marked_all),
                "general": general_ap,
                "finetune_w1": tuned["1.0"],
                f"finetune_w{config.product_weight:g}": tuned[str(config.product_weight)],
                "rocchio": nanmean(query_aps(rocchio)),
                "nn_rerank": nanmean(query_aps(nn_rel)),
                "finetune_seconds": round(result.seconds, 2),
            }
        )
        if on_round is not None:
            on_round()
    return {"parent": task.parent, "sub": task.sub, "rounds": rows}


def _fine(ranked: np.ndarray, task: UserTask, g: Gallery) -> np.ndarray:
    return fine_grained_relevance(ranked, task.parent, task.sub, g.parents, g.subs)


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
    on_task: Callable[[str], None] | None = None,
) -> dict:
    """Table 3, the w sweep, the fine-grained P-R curves and the feedback-rounds curve."""
    tasks, skipped = user_tasks(g, parents)
    if not tasks:
        return {
            "skipped": "no parent category with more than one sub-category and both "
            "training and test queries",
            "skipped_parents": skipped,
        }
    users = []
    for task in tasks:
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

    round_users = rounds_order(tasks, config.rounds_users) if config.feedback_rounds > 0 else []
    per_user_rounds = [
        rounds_user(
            t,
            g,
            config,
            on_round=(lambda t=t: on_task(f"{t.parent}/{t.sub} rounds")) if on_task else None,
        )
        for t in round_users
    ]
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
        "rounds": summarize_rounds(per_user_rounds),
    }


def summarize_rounds(per_user: list[dict]) -> dict:
    """Per round count: every method's fine-grained mAP (Table 3 aggregation) + a verdict."""
    if not per_user:
        return {"users": 0, "curve": [], "verdict": "not run"}
    methods = [k for k in per_user[0]["rounds"][0] if k not in ("round", "marked")]
    methods = [m for m in methods if not m.endswith("_seconds")]
    max_round = max(len(u["rounds"]) for u in per_user)
    curve = []
    for r in range(1, max_round + 1):
        rows = [
            {"parent": u["parent"], **u["rounds"][r - 1]} for u in per_user if len(u["rounds"]) >= r
        ]
        point = {"round": r, "users": len(rows)}
        for m in methods:
            point[m] = aggregate(rows, lambda row, m=m: row[m])["map"]
        curve.append(point)
    return {
        "users": len(per_user),
        "per_user": per_user,
        "curve": curve,
        "verdict": rounds_verdict(curve),
    }


def rounds_verdict(curve: list[dict]) -> str:
    """Plain words: does fine-tuning (best of its two mixes) beat the best baseline?"""
    tuned_keys = [k for k in curve[0] if k.startswith("finetune_w")]
    wins, losses = [], []
    for point in curve:
        tuned = max(point[k] for k in tuned_keys)
        baseline = max(point["rocchio"], point["nn_rerank"])
        (wins if tuned > baseline else losses).append(point["round"])
    if not losses:
        return f"fine-tuning beats the best relevance-feedback baseline after every round {wins}"
    if not wins:
        return (
            "fine-tuning does NOT beat the cheap relevance-feedback baselines "
            f"(Rocchio / 1-NN re-ranking) after any round {losses}"
        )
    return (
        f"fine-tuning beats the best baseline after rounds {wins} and does NOT after rounds "
        f"{losses}"
    )
