"""Uncertainty scores and their inverted, diversified forms.

Aggarwal et al., *Active learning for imbalanced datasets* (WACV 2020), Sec. 3.2.1–3.2.2,
Eqs. 1–6, and the baselines of Singh et al., *Minority-class mining*, Sec. 4
(MaxScore and weighted Shannon entropy).
"""

from __future__ import annotations

import numpy as np

from ..utils import check_probabilities, check_random_state, param_error
from ._base import Candidates, PoolContext, Strategy
from ._scores import entropy_scores


def margin_scores(proba) -> np.ndarray:
    """Negative gap between the two largest probabilities (Aggarwal Eq. 2): higher = more uncertain."""
    p = check_probabilities(proba, owner="margin_scores")
    if p.shape[1] < 2:
        raise param_error("margin_scores", "proba", "at least 2 columns", p.shape[1])
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return top2[:, 0] - top2[:, 1]


def least_confidence_scores(proba) -> np.ndarray:
    """``1 - max_k p_k`` (Aggarwal Eq. 3; Singh's MaxScore baseline): higher = less confident."""
    p = check_probabilities(proba, owner="least_confidence_scores")
    return 1.0 - p.max(axis=1)


def weighted_entropy_scores(proba, class_fractions, *, form: str = "inverse-proportion") -> np.ndarray:
    """Shannon entropy weighted by inverse class proportions (Singh Sec. 4's baseline).

    ``form="inverse-proportion"`` (default): ``-sum_k (p_k / (b_k C)) log p_k``, the
    paper's description, "Shannon entropy weighted by inverse class proportions". Every
    term is non-negative, and a class with a small share ``b_k`` weighs more, so an item
    leaning towards a rare class ranks above a confident common one.
    ``form="literal"``: ``-sum_k q_k log q_k`` with ``q_k = p_k / (b_k C)``, the formula as
    printed; where ``q_k > 1`` its term is negative, so it ranks rare-leaning items last.

    ``b_k`` is class k's share of the training set, smoothed as ``(n_k + 1) / (n + C)``
    (Laplace) so that a class never labeled does not divide by zero.

    Examples
    --------
    >>> p = np.array([[0.98, 0.01, 0.01], [0.5, 0.1, 0.4]])
    >>> s = weighted_entropy_scores(p, [0.9, 0.09, 0.01])
    >>> bool((s >= 0).all() and s[1] > s[0])
    True
    """
    p = check_probabilities(proba, owner="weighted_entropy_scores")
    b = np.asarray(class_fractions, dtype=np.float64)
    if b.shape != (p.shape[1],) or (b <= 0).any():
        raise param_error("weighted_entropy_scores", "class_fractions", f"{p.shape[1]} positive shares", b.shape)
    if form not in ("inverse-proportion", "literal"):
        raise param_error("weighted_entropy_scores", "form", "'inverse-proportion' or 'literal'", form)
    w = 1.0 / (b * p.shape[1])
    logp = np.log(np.where(p > 0, p, 1.0))
    if form == "inverse-proportion":
        return 0.0 - np.sum(np.where(p > 0, w * p * logp, 0.0), axis=1)
    q = p * w
    return 0.0 - np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=1)


def smoothed_class_fractions(labels, n_classes: int) -> np.ndarray:
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    return (counts + 1) / (counts.sum() + n_classes)


_MEASURES = {"entropy": entropy_scores, "margin": margin_scores, "least-confidence": least_confidence_scores}


class Uncertainty(Strategy):
    """Entropy, margin or least-confidence sampling (Aggarwal Eqs. 1–3), optionally inverted
    (most *certain* first) and diversified by predicted class (Eqs. 4–6).

    Parameters
    ----------
    measure : {"entropy", "margin", "least-confidence"}
    inverted : bool
        Sort by certainty instead of uncertainty (Sec. 3.2.2: "inversion is necessary to
        sort the samples according to certainty").
    diversified : bool
        ``div``: assign every pool item to its predicted class and take one item per class
        in turn until the budget is filled. The paper uses the *source* (ImageNet) model's
        classes before any target label exists; rarelab uses the current model's classes,
        which exist from round 0.
    """

    def __init__(self, measure: str = "entropy", *, inverted: bool = False, diversified: bool = False):
        self.measure = measure
        self.inverted = inverted
        self.diversified = diversified

    @property
    def name(self) -> str:
        return self.measure + ("-inv" if self.inverted else "") + ("-div" if self.diversified else "")

    def scores(self, ctx: PoolContext, random_state=None) -> np.ndarray:
        if self.measure not in _MEASURES:
            raise param_error("Uncertainty", "measure", f"one of {sorted(_MEASURES)}", self.measure)
        s = _MEASURES[self.measure](ctx.proba)
        return -s if self.inverted else s

    def select(self, ctx: PoolContext, budget: int, *, random_state=None) -> Candidates:
        if not self.diversified:
            return super().select(ctx, budget, random_state=random_state)
        rng = check_random_state(random_state)
        s = self.scores(ctx)
        order = np.lexsort((rng.random(len(s)), -s))  # best first, ties at random
        pos = diversify_by_class(ctx.proba.argmax(axis=1)[order], budget)
        picked = order[pos]
        return Candidates(ctx.pool_ids[picked], np.full(len(picked), -1), s[picked])


def diversify_by_class(predicted_sorted, budget: int) -> np.ndarray:
    """Round-robin over predicted classes through a best-first list: positions of the picks.

    Examples
    --------
    >>> diversify_by_class(np.array([0, 0, 1, 0, 2]), 4).tolist()
    [0, 2, 4, 1]
    """
    predicted_sorted = np.asarray(predicted_sorted)
    # Rank of each item within its class: picks go by (rank within class, position).
    within = np.zeros(len(predicted_sorted), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, c in enumerate(predicted_sorted.tolist()):
        within[i] = seen.get(c, 0)
        seen[c] = within[i] + 1
    return np.lexsort((np.arange(len(within)), within))[:budget]


class MaxScore(Uncertainty):
    """Singh et al.'s MaxScore baseline, ``1 - max_k p_k``."""

    def __init__(self):
        super().__init__("least-confidence")

    name = "max-score"


class WeightedEntropy(Strategy):
    """Singh et al.'s weighted Shannon entropy baseline (Sec. 4), class shares from training.

    ``form``: ``"inverse-proportion"`` (default, never negative) or ``"literal"`` (the
    formula as printed); see :func:`weighted_entropy_scores`.
    """

    name = "weighted-entropy"

    def __init__(self, *, form: str = "inverse-proportion"):
        self.form = form

    def scores(self, ctx: PoolContext, random_state=None) -> np.ndarray:
        return weighted_entropy_scores(
            ctx.proba, smoothed_class_fractions(ctx.train_labels, ctx.proba.shape[1]), form=self.form
        )
