"""Pure acquisition scores (one per pool item, higher = pick first) and the shared selector."""

from __future__ import annotations

import numpy as np

from ..utils import check_class, check_int, check_probabilities, check_random_state, param_error


def rare_class_scores(proba, cls: int) -> np.ndarray:
    """The softmax probability of class ``cls``: the traffic-sign paper's score (Sec. III-C).

    The probability is tiny everywhere, but its ranking puts the rare class on top.

    Examples
    --------
    >>> p = np.array([[0.98, 0.02], [0.999, 0.001], [0.95, 0.05]])
    >>> np.argsort(-rare_class_scores(p, 1)).tolist()
    [2, 0, 1]
    """
    proba = check_probabilities(proba, owner="rare_class_scores")
    cls = check_class("rare_class_scores", "cls", cls, proba.shape[1])
    return proba[:, cls].astype(np.float64, copy=True)


def entropy_scores(proba) -> np.ndarray:
    """Shannon entropy of each row (max-entropy uncertainty sampling).

    Examples
    --------
    >>> entropy_scores(np.array([[0.5, 0.5], [1.0, 0.0]])).round(3).tolist()
    [0.693, 0.0]
    """
    proba = check_probabilities(proba, owner="entropy_scores")
    p = np.clip(proba, 1e-300, 1.0)
    return 0.0 - np.sum(np.where(proba > 0, proba * np.log(p), 0.0), axis=1)  # 0.0 - x: no -0.0


def random_scores(n: int, random_state=None) -> np.ndarray:
    """Uniform random scores: random sampling expressed in the same contract."""
    n = check_int("random_scores", "n", n, low=0)
    return check_random_state(random_state).random(n)


def select_top(scores, k: int, *, random_state=None, exclude=None) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first; ties are broken at random.

    Parameters
    ----------
    scores : array-like of float, shape (n,)
    k : int
        How many to pick; at most the number of eligible items.
    exclude : boolean mask of shape (n,), optional
        Items that may not be picked (already proposed for another class).

    Examples
    --------
    >>> select_top([0.1, 0.7, 0.3], 2).tolist()
    [1, 2]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise param_error("select_top", "scores", "a 1-D array", f"shape {scores.shape}")
    if np.isnan(scores).any():
        raise param_error("select_top", "scores", "free of NaN", f"{int(np.isnan(scores).sum())} NaN values")
    eligible = np.ones(len(scores), bool) if exclude is None else ~np.asarray(exclude, bool)
    k = check_int("select_top", "k", k, low=0, high=int(eligible.sum()))
    rng = check_random_state(random_state)
    # Sort by score, then by a random key, so equal scores come out in random order.
    tiebreak = rng.random(len(scores))
    masked = np.where(eligible, scores, -np.inf)
    if k < len(scores) // 4:  # partial sort first: pool scoring must stay fast on 100k items
        cut = np.argpartition(-masked, k)[:k] if k else np.empty(0, int)
        kth = masked[cut].min() if k else np.inf
        cand = np.flatnonzero(eligible & (masked >= kth))
    else:
        cand = np.flatnonzero(eligible)
    order = np.lexsort((tiebreak[cand], -masked[cand]))
    return cand[order[:k]]
