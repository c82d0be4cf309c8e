"""Feedback rounds of mixed-subject users: what a real user's feedback does to every search.

A simulated user teaches several subjects: two sub-categories of different parents (the
paper's fine-grained case) and one ordinary category (relevance: the category). A round is
one training sketch of *each* subject searched with the general model; the user marks the
shown top ``shown`` photos of that subject (or, when none is shown, the first one further
down). After r rounds a personal head is trained on the 3r marked sketches knowing only the
marks (sub-category labels hidden: the "derived-sub" rule of
:mod:`personalization.engine.grouping`), and the user searches:

- **on topic**: the test sketches of each taught subject's category, scored on the subject
  (fine-grained relevance for a sub-category). Each ranking is scored twice: on the whole
  gallery, and on the **residual collection** (every photo the user has marked so far
  removed before AP, as relevance-feedback evaluation does: Manning et al., IIR 9.1.5);
- **off topic**: test sketches of categories the user never taught, scored by category;
  **retention** = the product's category mAP / the general model's on those queries.

The rankings: ``product`` is what search serves (:func:`product_scores`: the served engine's
closeness rule, :class:`~personalization.engine.scoring.Shares` and
:func:`~personalization.engine.scoring.personalized_score`, at the product's default w),
``general`` (no feedback), ``rocchio`` and ``one_nn`` (fed every mark the user gave, as the
product is), ``rocchio_topic`` and ``one_nn_topic`` (fed only the marks of the query's own
subject: an oracle that knows the topic, which favours them), ``head`` (the head alone),
``product_oracle_gate`` (the product's scoring behind a gate that knows each query's topic,
:func:`oracle_closeness`: an upper bound for any closeness rule, never served),
``product_confirmed`` (the product after the user answered search's question "like one of
these earlier drawings?", :func:`confirmed_rows`: offered the earlier drawings search offers,
the simulated user says yes only to one of the subject they are drawing now).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from personalization.engine.closeness import (
    ClosenessRule,
    confirmed_closeness,
    offered_taught,
    pair_kind,
    taught_subjects,
)
from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.scoring import Shares, personalized_score
from personalization.lab.protocol.baselines import nn_rerank_distances, rocchio_queries
from personalization.lab.protocol.metrics import nanmean, query_aps
from retrieval.engine.distances import euclidean_distances
from retrieval.lab.metrics import rank

RANKINGS = (
    "product",
    "general",
    "rocchio",
    "one_nn",
    "head",
    "rocchio_topic",
    "one_nn_topic",
    "product_oracle_gate",
    "product_confirmed",
)


@dataclass
class Subject:
    parent: str
    sub: str | None  # None: an ordinary category, relevance by category
    order: np.ndarray  # the training queries the user searches, one a round
    test: np.ndarray  # on-topic test queries

    @property
    def name(self) -> str:
        return f"{self.parent}/{self.sub}" if self.sub is not None else self.parent

    def target(self, g) -> np.ndarray:
        """(N,) bool over the gallery: the photos this subject's user means."""
        match = g.parents == self.parent
        return match & (g.subs == self.sub) if self.sub is not None else match


@dataclass
class MixedUser:
    subjects: list[Subject]
    off_topic: np.ndarray  # test queries of categories the user never taught
    seed: int


def mixed_users(tasks: list, g, config, *, seed: int) -> list[MixedUser]:
    """Pairs of sub-category tasks of different parents (in ``tasks``' order, the
    round-robin over parents), each with one ordinary category, and off-topic queries."""
    rng = np.random.default_rng([seed, 20])
    categories = sorted(set(g.query_parent.tolist()))
    multi = {t.parent for t in tasks}
    ordinary = [
        c
        for c in categories
        if c not in multi
        and ((g.query_parent == c) & ~g.query_is_test).sum() >= 1
        and ((g.query_parent == c) & g.query_is_test).sum() >= 1
    ]
    pending, users = list(tasks), []
    while len(pending) >= 2:
        first = pending.pop(0)
        partner = next((t for t in pending if t.parent != first.parent), None)
        if partner is None:
            break
        pending.remove(partner)
        if 0 < config.rounds_users <= len(users):
            break
        subjects = [
            Subject(t.parent, t.sub, rng.permutation(t.train), t.test) for t in (first, partner)
        ]
        if ordinary:
            c = ordinary[int(rng.integers(len(ordinary)))]
            of_c = g.query_parent == c
            subjects.append(
                Subject(
                    c,
                    None,
                    rng.permutation(np.flatnonzero(of_c & ~g.query_is_test)),
                    np.flatnonzero(of_c & g.query_is_test),
                )
            )
        taught = {s.parent for s in subjects}
        others = np.flatnonzero(g.query_is_test & ~np.isin(g.query_parent, list(taught)))
        off = rng.choice(others, min(config.off_topic_queries, len(others)), replace=False)
        users.append(MixedUser(subjects, np.sort(off), seed=int(rng.integers(2**31))))
    return users


def closeness_of(
    rule: ClosenessRule, asked: np.ndarray, taught: np.ndarray, query_kind: str
) -> np.ndarray:
    """(Q, F) closeness of each asked query to each taught one (all of ``query_kind``)."""
    d = euclidean_distances(asked, taught)
    band = rule.bands[pair_kind(query_kind, query_kind)]
    return band.closeness(d)


def oracle_closeness(on_topic_counts: list[int], off_topic: int, taught: int) -> np.ndarray:
    """(Q, F) closeness of a gate that knows the topic: 1 from each on-topic query to the
    taught queries of its own subject, 0 to every other, 0 off topic. Queries are ordered
    subject by subject (``on_topic_counts``) then off topic; taught queries are one of each
    subject per round, in subject order. What gating could at best give the product."""
    subjects = len(on_topic_counts)
    subject_of_taught = np.arange(taught) % max(subjects, 1)
    subject_of_query = np.concatenate(
        [np.full(n, k) for k, n in enumerate(on_topic_counts)] + [np.full(off_topic, -1)]
    )
    return (subject_of_query[:, None] == subject_of_taught[None, :]).astype(np.float64)


def confirmed_rows(
    closeness: np.ndarray,
    d_taught: np.ndarray,
    subject_of_query: np.ndarray,
    subject_of_taught: np.ndarray,
    subjects: np.ndarray,
    offer: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, F) closeness after each query's user was offered the earlier searches search
    offers (:func:`~personalization.engine.closeness.offered_taught`: the nearest taught query
    of each of the ``offer`` nearest subjects, by ``d_taught`` (Q, F)) and answered
    truthfully: yes to the one of their subject (``subject_of_query``; -1 off topic, never
    yes), which opens every taught query of its subject
    (:func:`~personalization.engine.closeness.confirmed_closeness`); and (Q,) who said yes."""
    out = np.asarray(closeness, np.float64).copy()
    said_yes = np.zeros(len(out), bool)
    if not d_taught.shape[1]:
        return out, said_yes
    for q in range(len(out)):
        offered = offered_taught(d_taught[q], out[q], subjects, offer)
        chosen = [t for t in offered if subject_of_taught[t] == subject_of_query[q]]
        if chosen:
            said_yes[q] = True
            out[q] = confirmed_closeness(out[q], subjects, int(chosen[0]))
    return out, said_yes


def product_scores(
    d_general: np.ndarray,
    d_head: np.ndarray | None,
    closeness: np.ndarray,
    mark_distances: np.ndarray,
    mark_query: np.ndarray,
    w: float,
) -> np.ndarray:
    """(Q, N) what search serves: per query, the marks of close taught queries (closeness
    > 0) and the head, with shares w x its closeness (the served engine's functions).

    ``closeness`` (Q, F) to the F taught queries; ``mark_distances`` (M, N) each marked
    photo's distance to the gallery; ``mark_query`` (M,) the taught query of each mark.
    """
    out = np.empty_like(d_general, dtype=np.float64)
    for q in range(len(d_general)):
        c = closeness[q]
        relevant = c[mark_query] > 0
        marks = mark_distances[relevant].min(axis=0) if relevant.any() else None
        shares = Shares.of(
            w, float(c.max()) if len(c) else 0.0, head=d_head is not None, marks=marks is not None
        )
        out[q] = personalized_score(
            d_general[q], shares, head=None if d_head is None else d_head[q], marks=marks
        )
    return out


def subject_aps(ranked: np.ndarray, target: np.ndarray, removed: np.ndarray | None) -> float:
    """mAP of rows of gallery positions for ``target``; ``removed`` photos taken out first."""
    if removed is None or not removed.any():
        return nanmean(query_aps(target[ranked]))
    # Rows may lose different counts (a photo query never ranks itself): one row at a time.
    return nanmean(query_aps(target[row[~removed[row]]][None])[0] for row in ranked)


def mixed_user_rounds(
    user: MixedUser,
    g,
    config,
    rule: ClosenessRule,
    query_kind: str,
    *,
    finetune: Callable,
    personal: Callable,
    rerank: Callable,
    build_pool: Callable,
    on_round: Callable[[], None] | None = None,
) -> list[dict]:
    """One row per round: on-topic full and residual mAP of every ranking, off-topic
    retention, and how much closeness let in (``personal``: eq. 16 on the general scale)."""
    pool = build_pool()
    on = [s.test for s in user.subjects]
    queries = np.concatenate([*on, user.off_topic])
    d_test = euclidean_distances(g.general_queries[queries], g.general_photos)
    exclude = g.exclude(queries)
    n_on = sum(len(t) for t in on)
    rounds = min(config.feedback_rounds, *(len(s.order) for s in user.subjects))
    items: list[FeedbackItem] = []
    taught: list[int] = []  # query index of each taught query
    marks: list[tuple[int, int]] = []  # (gallery position, taught index)
    shown_unmarked: dict[int, list[int]] = {k: [] for k in range(len(user.subjects))}
    marked_of: dict[int, list[int]] = {k: [] for k in range(len(user.subjects))}
    rows = []
    for r in range(1, rounds + 1):
        for k, subject in enumerate(user.subjects):
            q = int(subject.order[r - 1])
            target = subject.target(g)
            ranked = rank(
                euclidean_distances(g.general_queries[[q]], g.general_photos),
                g.exclude(np.array([q])),
            )[0]
            shown = ranked[: config.shown]
            chosen = [int(p) for p in shown if target[p]]
            if not chosen:
                chosen = [int(ranked[target[ranked].argmax()])]
            shown_unmarked[k] += [int(p) for p in shown if p not in chosen]
            marked_of[k] += chosen
            marks += [(p, len(taught)) for p in chosen]
            taught.append(q)
            items.append(FeedbackItem(q, "gallery", tuple(int(g.photo_ids[p]) for p in chosen)))
        ts = build_training_set(
            items,
            {"gallery": pool},
            per_branch=config.per_branch,
            neighbours=config.neighbours,
            seed=user.seed + r,
        )
        result = finetune(ts, replace(config.finetune, seed=user.seed + r))
        d_head = personal(result, queries, d_test)
        mark_pos = np.array([p for p, _ in marks], np.int64)
        mark_query = np.array([t for _, t in marks], np.int64)
        closeness = closeness_of(
            rule, g.general_queries[queries], g.general_queries[taught], query_kind
        )
        scores = {
            "general": d_test,
            "head": d_head,
            "product": product_scores(
                d_test,
                d_head,
                closeness,
                euclidean_distances(g.general_photos[mark_pos], g.general_photos),
                mark_query,
                config.product_weight,
            ),
        }
        # What gating could at best give: closeness 1 to the query's own subject's taught
        # queries, 0 to every other (an oracle that knows the topic; off topic: general).
        scores["product_oracle_gate"] = product_scores(
            d_test,
            d_head,
            oracle_closeness([len(t) for t in on], len(user.off_topic), len(taught)),
            euclidean_distances(g.general_photos[mark_pos], g.general_photos),
            mark_query,
            config.product_weight,
        )
        # Offered earlier drawings as search offers them ("like one of these?"), the user
        # says yes to the one of the subject they are drawing (search's one-click question).
        subject_of_query = np.concatenate(
            [np.full(len(t), k) for k, t in enumerate(on)] + [np.full(len(user.off_topic), -1)]
        )
        confirmed, said_yes = confirmed_rows(
            closeness,
            euclidean_distances(g.general_queries[queries], g.general_queries[taught]),
            subject_of_query,
            np.arange(len(taught)) % len(user.subjects),
            taught_subjects([tuple(p for p, t in marks if t == i) for i in range(len(taught))]),
            config.offer_subjects,
        )
        scores["product_confirmed"] = product_scores(
            d_test,
            d_head,
            confirmed,
            euclidean_distances(g.general_photos[mark_pos], g.general_photos),
            mark_query,
            config.product_weight,
        )
        removed = np.zeros(len(g.photo_ids), bool)
        removed[mark_pos] = True
        row = {"round": r, "marked": int(len(np.unique(mark_pos))), "taught_queries": len(taught)}
        full = {name: [] for name in RANKINGS}
        residual = {name: [] for name in RANKINGS}
        by_kind: dict[str, dict[str, list[float]]] = {}
        start = 0
        for k, subject in enumerate(user.subjects):
            rows_k = np.arange(start, start + len(subject.test))
            start += len(subject.test)
            target = subject.target(g)
            asked = g.general_queries[queries[rows_k]]
            own = {
                name: scores[name][rows_k]
                for name in (
                    "general",
                    "head",
                    "product",
                    "product_oracle_gate",
                    "product_confirmed",
                )
            }
            every_unmarked = [p for v in shown_unmarked.values() for p in v]
            for suffix, marked_rows, unmarked_rows in (
                ("", mark_pos, every_unmarked),
                ("_topic", marked_of[k], shown_unmarked[k]),
            ):
                marked = g.general_photos[marked_rows]
                unmarked = g.general_photos[unmarked_rows] if len(unmarked_rows) else None
                own["rocchio" + suffix] = euclidean_distances(
                    rocchio_queries(asked, marked, unmarked), g.general_photos
                )
                own["one_nn" + suffix] = nn_rerank_distances(asked, g.general_photos, marked)
            ex = None if exclude is None else exclude[rows_k]
            for name, score in own.items():
                rescored = ("head", "product", "product_oracle_gate", "product_confirmed")
                c = config.candidates if name in rescored else 0
                ranking = rerank(d_test[rows_k], score, candidates=c, exclude=ex)
                full[name].append(subject_aps(ranking, target, None))
                residual[name].append(subject_aps(ranking, target, removed))
            kind = "sub-category" if subject.sub is not None else "category"
            for name in ("product", "general", "product_confirmed"):
                by_kind.setdefault(kind, {}).setdefault(name, []).append(residual[name][-1])
        row.update({name: nanmean(v) for name, v in full.items()})
        row["residual"] = {name: nanmean(v) for name, v in residual.items()}
        row["residual_by_kind"] = {
            kind: {name: nanmean(v) for name, v in values.items()}
            for kind, values in by_kind.items()
        }
        off = np.arange(n_on, len(queries))
        off_aps = {}
        for name in ("product", "general", "product_confirmed"):
            c = config.candidates if name != "general" else 0
            ex = None if exclude is None else exclude[off]
            ranking = rerank(d_test[off], scores[name][off], candidates=c, exclude=ex)
            rel = g.parents[ranking] == g.query_parent[queries[off]][:, None]
            off_aps[name] = nanmean(query_aps(rel))
        row["off_topic"] = off_aps
        row["closeness"] = {
            "on_topic_mean": float(closeness[:n_on].max(axis=1).mean()),
            "off_topic_with_any": float((closeness[n_on:].max(axis=1) > 0).mean()),
            "off_topic_mean": float(closeness[n_on:].max(axis=1).mean()),
            "on_topic_said_yes": float(said_yes[:n_on].mean()),
        }
        row["finetune_seconds"] = round(result.seconds, 2)
        rows.append(row)
        if on_round is not None:
            on_round()
    return rows


def summarize_mixed(per_user: list[list[dict]], *, target_ratio: float = 1.3) -> dict:
    """Per round: mean over users of every figure; retention = product / general off topic."""
    if not per_user:
        return {"users": 0, "curve": [], "verdict": "not run"}
    max_round = max(len(rows) for rows in per_user)
    curve = []
    for r in range(1, max_round + 1):
        rows = [u[r - 1] for u in per_user if len(u) >= r]
        point = {"round": r, "users": len(rows)}
        for name in RANKINGS:
            point[name] = nanmean(row[name] for row in rows)
        point["residual"] = {
            name: nanmean(row["residual"][name] for row in rows) for name in RANKINGS
        }
        kinds = sorted({k for row in rows for k in row["residual_by_kind"]})
        point["residual_by_kind"] = {
            k: {
                name: nanmean(
                    row["residual_by_kind"][k][name] for row in rows if k in row["residual_by_kind"]
                )
                for name in ("product", "general", "product_confirmed")
            }
            for k in kinds
        }
        product = nanmean(row["off_topic"]["product"] for row in rows)
        general = nanmean(row["off_topic"]["general"] for row in rows)
        confirmed = nanmean(row["off_topic"]["product_confirmed"] for row in rows)
        point["off_topic"] = {
            "product": product,
            "general": general,
            "retention": product / general if general > 0 else float("nan"),
            "product_confirmed": confirmed,
            "retention_confirmed": confirmed / general if general > 0 else float("nan"),
        }
        point["closeness"] = {
            key: nanmean(row["closeness"][key] for row in rows) for key in rows[0]["closeness"]
        }
        curve.append(point)
    return {
        "users": len(per_user),
        "per_user": per_user,
        "curve": curve,
        "verdict": mixed_verdict(curve, target_ratio),
    }


def mixed_verdict(curve: list[dict], target_ratio: float) -> str:
    """Plain words on the targets: retention >= 0.99 and on-topic residual product >=
    ``target_ratio`` x the better of Rocchio and 1-NN, every round."""
    ratio_fail, retention_fail, confirmed_fail = [], [], []
    for point in curve:
        res = point["residual"]
        if res["product"] < target_ratio * max(res["rocchio"], res["one_nn"]):
            ratio_fail.append(point["round"])
        if res.get("product_confirmed", 0.0) < target_ratio * max(res["rocchio"], res["one_nn"]):
            confirmed_fail.append(point["round"])
        if point["off_topic"]["retention"] < 0.99:
            retention_fail.append(point["round"])
    parts = [
        f"on-topic residual product >= {target_ratio}x the best baseline "
        + ("after every round" if not ratio_fail else f"NOT after rounds {ratio_fail}"),
        "off-topic retention >= 0.99 "
        + ("after every round" if not retention_fail else f"NOT after rounds {retention_fail}"),
    ]
    if all("product_confirmed" in point["residual"] for point in curve):
        parts.insert(
            1,
            "after the user's yes to 'like one of these earlier drawings?': "
            + ("after every round" if not confirmed_fail else f"NOT after rounds {confirmed_fail}"),
        )
    return "; ".join(parts)
