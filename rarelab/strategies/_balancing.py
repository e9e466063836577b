"""Aggarwal et al.'s balancing step (Sec. 3.3): switch rule (Eq. 8) and next sample (Eq. 9)."""

from __future__ import annotations

import numpy as np

from ..utils import check_int, param_error
from ._base import Candidates, PoolContext, Strategy
from ._geometry import class_prototypes


def representation_groups(counts) -> tuple[np.ndarray, np.ndarray]:
    """Under- and over-represented classes w.r.t. the mean count over every class.

    A class with no labeled item is the most under-represented of all, so it counts.
    Before anything is labeled there is no imbalance: both groups are empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    mean = counts.mean()
    classes = np.arange(len(counts))
    return classes[counts < mean], classes[counts >= mean]


def should_balance(budget: int, labeled: int, counts) -> bool:
    """Eq. 8: switch to balancing once ``b - m <= c_ur * (mu(or) - mu(ur))``.

    The paper writes ``b - m << ...``; rarelab reads it as ``<=``: the labels left are no
    more than what it takes to lift every under-represented class to the over-represented mean.

    Examples
    --------
    >>> should_balance(100, 50, [30, 30, 2, 2])   # 50 left <= 2 * (30 - 2) = 56
    True
    >>> should_balance(100, 40, [30, 30, 2, 2])   # 60 left > 56
    False
    """
    ur, over = representation_groups(counts)
    if len(ur) == 0:
        return False
    c = np.asarray(counts, dtype=np.float64)
    return bool(budget - labeled <= len(ur) * (c[over].mean() - c[ur].mean()))


def _sq_distances_to(features, protos, chunk: int = 8192) -> np.ndarray:
    """(n, k) squared distances to k prototypes, by ||f||^2 - 2 f.m + ||m||^2 in chunks."""
    f = np.asarray(features, dtype=np.float32)
    m = np.asarray(protos, dtype=np.float32).reshape(-1, f.shape[1])
    out = np.empty((len(f), len(m)), dtype=np.float64)
    m_sq = np.einsum("ij,ij->i", m, m)
    for a in range(0, len(f), chunk):
        fc = f[a : a + chunk]
        out[a : a + chunk] = np.einsum("ij,ij->i", fc, fc)[:, None] - 2.0 * fc @ m.T + m_sq[None, :]
    return np.maximum(out, 0.0)


def balancing_scores(features, target_proto, majority_protos) -> np.ndarray:
    """Eq. 9 as a score (higher = pick first): minus the distance to the target class's
    mean over the largest distance to an over-represented class's mean."""
    num = np.sqrt(_sq_distances_to(features, target_proto)[:, 0])
    den = np.sqrt(_sq_distances_to(features, majority_protos).max(axis=1))
    return -num / np.maximum(den, 1e-12)


def search_counts(ctx: PoolContext) -> np.ndarray:
    """Labels the search acquired, per class (class ids only: 'not rare' names no class)."""
    labels = np.array([y for y in ctx.extras.get("given_labels", {}).values() if y >= 0], dtype=np.int64)
    return np.bincount(labels, minlength=ctx.proba.shape[1]).astype(np.float64)


class Balanced(Strategy):
    """A base strategy until Eq. 8 says switch, then Eq. 9 picks for the rarest classes.

    Parameters
    ----------
    base : Strategy
        The discovery-step acquisition function.
    budget : int
        b, the total number of labels the search will spend (``rounds * per_class * K``).
    classes : {"rare", "all"}
        Which under-represented classes balancing may target. The paper balances every
        class; ``"rare"`` (default) restricts targets to the search's rare classes, its goal.
        With ``"all"``, picks aimed at other classes are reported as class-agnostic (-1).

    After each pick, the targeted class's count is raised by one, as the paper updates the
    imbalance profile "after each manual labeling"; within a batch the label is not known
    yet, so the pick is assumed to hit its target.

    Eq. 8 compares the labels left (``b - m``, search labels) with class counts, so the
    counts are taken on the same basis: the labels the search acquired, per class (the
    paper starts from no labels). Counting the initial training set as well would switch
    at once on every split and the base function would never run.
    """

    def __init__(self, base: Strategy, *, budget: int, classes: str = "rare"):
        self.base = base
        self.budget = budget
        self.classes = classes

    @property
    def name(self) -> str:
        return f"{self.base.name}+balancing"

    def query(self, ctx: PoolContext, *, per_class: int, random_state=None) -> Candidates:
        check_int("Balanced", "budget", self.budget, low=1)
        if self.classes not in ("rare", "all"):
            raise param_error("Balanced", "classes", "'rare' or 'all'", self.classes)
        counts = search_counts(ctx)
        m = int(ctx.extras.get("labels_used", 0))
        if not should_balance(self.budget, m, counts):
            cand = self.base.query(ctx, per_class=per_class, random_state=random_state)
            return Candidates(
                cand.ids,
                cand.target,
                cand.score,
                cand.pseudo_ids,
                cand.pseudo_labels,
                {**cand.info, "balancing": f"off (m={m})"},
            )
        n = per_class * len(ctx.rare_classes)
        if n > len(ctx.pool_ids):
            raise param_error("Balanced", "per_class", "at most pool size / number of rare classes", per_class)
        feats, train = ctx.pool_embeddings, ctx.train_embeddings
        # Prototypes from every labeled item of a class (the initial set included): the best mean there is.
        known = np.union1d(np.flatnonzero(counts > 0), np.asarray(ctx.rare_classes))
        protos = {
            int(c): class_prototypes(train, ctx.train_labels, [c])[0] for c in known if np.any(ctx.train_labels == c)
        }
        taken = np.zeros(len(feats), bool)
        ids, target, score = [], [], []
        cache: dict = {}
        allowed = np.array(ctx.rare_classes) if self.classes == "rare" else np.array(sorted(protos))
        for _ in range(n):
            ur, over = representation_groups(counts)
            targets = np.intersect1d(ur, allowed)
            if len(targets) == 0:  # nothing under-represented left among the allowed: the rarest of them
                targets = allowed
            c = int(targets[np.argmin(counts[targets])])
            key = (c, tuple(over))
            majority = [protos[j] for j in over if j in protos] or [protos[c]]
            if key not in cache:  # scores change only when the target or the majority set changes
                cache[key] = balancing_scores(feats, protos[c], majority)
            s = np.where(taken, -np.inf, cache[key])
            i = int(np.argmax(s))
            taken[i] = True
            ids.append(ctx.pool_ids[i])
            target.append(c if c in ctx.rare_classes else -1)
            score.append(s[i])
            counts[c] += 1
        return Candidates(np.array(ids), np.array(target), np.array(score), info={"balancing": f"on (m={m})"})
