"""Which photos share a parent (shape) category or a sub-category with a user's choice.

Eq. 9 needs, for a sketch S and the photos F the user chose for it, the parent category F_C
and the sub-category S_C of F. Library labels (``category`` / ``subcategory``) are used when
the chosen photos carry them; otherwise the groups are derived, and the rule is:

- parent: k-means over the general (conv6) vectors of the pool the sketch was searched
  against; F_C = the clusters of the chosen photos. Labelled photos keep their label
  semantics only in the labelled rule, the derived rule ignores labels altogether.
- sub-category: the chosen photos plus each one's ``neighbours`` nearest neighbours (general
  space) inside F_C. This is a weak signal (the general model mixes sub-categories, which is
  why personalization exists), so it is deliberately small.

Photos whose membership is unknown (e.g. no label while the rule is "labels") are left out
of every branch rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhotoPool:
    """The photos a sketch was searched against, as aligned arrays.

    ``parents`` / ``subs`` hold label strings ("" = unlabelled); ``general_vectors`` (n, d)
    are only needed when labels are missing.
    """

    ids: np.ndarray
    parents: np.ndarray
    subs: np.ndarray
    general_vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.parents) != n or len(self.subs) != n:
            raise ValueError("ids, parents and subs must have the same length")
        if self.general_vectors is not None and len(self.general_vectors) != n:
            raise ValueError("general_vectors must have one row per id")


@dataclass(frozen=True)
class Groups:
    """Indices into a pool: Y = 0 (positive), 0.5 (general), 1 (negative) of eq. 9."""

    positive: np.ndarray
    general: np.ndarray
    negative: np.ndarray
    rule: str  # "labels", "derived-sub" (labelled parent, derived sub) or "derived"


def default_parent_clusters(n: int) -> int:
    """Heuristic cluster count for derived parents: sqrt(n / 2), within [2, 100]."""
    return int(np.clip(round(np.sqrt(max(n, 1) / 2)), 2, 100))


def kmeans(
    vectors: np.ndarray, k: int, *, seed: int = 0, iters: int = 30, fit_sample: int = 20000
) -> np.ndarray:
    """Cluster labels (n,) from k-means++ / Lloyd on ``vectors`` (n, d); deterministic.

    Fits on at most ``fit_sample`` rows (bounded cost on big libraries), then assigns all.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    fit = x if n <= fit_sample else x[rng.choice(n, fit_sample, replace=False)]
    centres = _kmeans_pp_init(fit, k, rng)
    for _ in range(iters):
        assign = _nearest_centre(fit, centres)
        moved = False
        for c in range(k):
            members = fit[assign == c]
            if len(members) == 0:
                continue  # keep an empty centre where it is rather than inventing one
            new = members.mean(axis=0)
            if not np.allclose(new, centres[c]):
                centres[c] = new
                moved = True
        if not moved:
            break
    return _nearest_centre(x, centres)


def _kmeans_pp_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    closest = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:
            centres.append(x[rng.integers(len(x))])
            continue
        pick = rng.choice(len(x), p=closest / total)
        centres.append(x[pick])
        closest = np.minimum(closest, ((x - x[pick]) ** 2).sum(axis=1))
    return np.stack(centres).astype(np.float32)


def _nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is constant per row, so it is left out.
    scores = (centres**2).sum(axis=1)[None, :] - 2.0 * (x @ centres.T)
    return scores.argmin(axis=1).astype(np.int64)


def groups_for_choice(
    pool: PhotoPool,
    chosen: np.ndarray,
    *,
    derived_parents: np.ndarray | None = None,
    neighbours: int = 3,
) -> Groups:
    """Eq. 9 groups for one sketch whose chosen photos are ``chosen`` (indices into pool).

    ``derived_parents`` (cluster label per pool photo) is required whenever a chosen photo
    has no parent label; ``pool.general_vectors`` whenever a sub-category must be derived.
    """
    chosen = np.unique(np.asarray(chosen, dtype=np.int64))
    if len(chosen) == 0:
        raise ValueError("at least one chosen photo is needed")
    parents = np.asarray(pool.parents).astype(str)
    subs = np.asarray(pool.subs).astype(str)

    labelled_parent = bool(np.all(parents[chosen] != ""))
    if labelled_parent:
        chosen_parents = set(parents[chosen])
        in_parent = np.isin(parents, list(chosen_parents))
        # An unlabelled photo may well belong to the chosen parent: it is no negative.
        other_parent = (parents != "") & ~in_parent
    else:
        if derived_parents is None:
            raise ValueError("a chosen photo has no category label and no derived parents given")
        clusters = set(derived_parents[chosen].tolist())
        in_parent = np.isin(derived_parents, list(clusters))
        other_parent = ~in_parent

    labelled_sub = labelled_parent and bool(np.all(subs[chosen] != ""))
    if labelled_sub:
        chosen_pairs = {(parents[i], subs[i]) for i in chosen}
        positive = np.array(
            [in_parent[i] and (parents[i], subs[i]) in chosen_pairs for i in range(len(parents))],
            dtype=bool,
        )
        general = in_parent & ~positive & (subs != "")
        rule = "labels"
    else:
        positive = _chosen_and_neighbours(pool, chosen, in_parent, neighbours)
        general = in_parent & ~positive
        rule = "derived-sub" if labelled_parent else "derived"

    return Groups(
        positive=np.flatnonzero(positive),
        general=np.flatnonzero(general),
        negative=np.flatnonzero(other_parent),
        rule=rule,
    )


def _chosen_and_neighbours(
    pool: PhotoPool, chosen: np.ndarray, in_parent: np.ndarray, neighbours: int
) -> np.ndarray:
    mask = np.zeros(len(pool.ids), dtype=bool)
    mask[chosen] = True
    if neighbours <= 0:
        return mask
    if pool.general_vectors is None:
        raise ValueError("a chosen photo has no sub-category label and no general vectors given")
    vectors = np.asarray(pool.general_vectors, dtype=np.float32)
    candidates = np.flatnonzero(in_parent & ~mask)
    if len(candidates) == 0:
        return mask
    for i in chosen:
        dist = ((vectors[candidates] - vectors[i]) ** 2).sum(axis=1)
        take = candidates[np.argsort(dist, kind="stable")[:neighbours]]
        mask[take] = True
    return mask
