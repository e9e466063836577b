"""One ranking of a round's candidates per rare class: the gallery, ``candidates.csv`` and
the report all show a class's candidates in this order."""

from __future__ import annotations

import numpy as np


def candidate_classes(target: np.ndarray, proba: np.ndarray, rare_classes) -> np.ndarray:
    """The rare class each candidate is shown under: the class it was proposed for, or, from
    a class-agnostic strategy (target -1), its likeliest rare class.

    ``proba`` has one column per rare class, shape (n_candidates, len(rare_classes)).
    """
    rare = np.asarray(rare_classes, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    if len(target) == 0:
        return target.copy()
    likeliest = rare[np.argmax(proba, axis=1)]
    return np.where(np.isin(target, rare), target, likeliest)


def rank_for_class(target: np.ndarray, proba: np.ndarray, rare_classes, rare_class: int, k=None) -> np.ndarray:
    """Positions of ``rare_class``'s candidates, by its probability, highest first (at most ``k``).

    Ties keep the strategy's order.
    """
    col = list(rare_classes).index(rare_class)
    pos = np.flatnonzero(candidate_classes(target, proba, rare_classes) == rare_class)
    pos = pos[np.argsort(-proba[pos, col], kind="stable")]
    return pos if k is None else pos[:k]
