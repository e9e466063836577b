"""Mullapudi et al., *Learning rare category classifiers on a tight labeling budget*
(ICCV 2021), Algorithm 1 and Sec. 3, adapted to rarelab's rounds.

One round of :class:`~rarelab.ActiveSearch` is one inner iteration j of Algorithm 1, with
B = ``per_class`` labels per rare class; the learner's per-round training plays the deep
model update, and the cached features it embeds are refreshed every ``Q`` rounds
(line 20). Each rare class is a binary problem: its positives L_p against L_n, the items
labeled *during the search* that belong to another class.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from .._validation import check_int, check_random_state, derive_seed
from ._base import PoolContext, Strategy
from ._geometry import cosine_to_centroid, normalize_rows


def pseudo_negatives(ranking_scores, n_pos: int, n_neg: int, f_a: float, *, random_state=None) -> np.ndarray:
    """Positions of ``f_a * (|L_p| + 0.1 |L_n|)`` items drawn uniformly from the bottom half
    of the ranking (Sec. 3, pseudoNegativeLabels).

    Examples
    --------
    >>> s = np.arange(100.0)
    >>> neg = pseudo_negatives(s, 1, 0, 10, random_state=0)
    >>> len(neg), bool(s[neg].max() < 50)
    (10, True)
    """
    s = np.asarray(ranking_scores)
    bottom = np.argsort(s, kind="stable")[: len(s) // 2]
    k = min(len(bottom), int(round(f_a * (n_pos + 0.1 * n_neg))))
    return check_random_state(random_state).choice(bottom, size=k, replace=False)


def adaptive_mode(n_pos: int, n_neg: int) -> str:
    """Alg. 1 lines 9–12: most-likely-positive while ``|L_p| < |L_n|``, otherwise the margin.

    Before any negative is labeled there is no margin to query, so the positives' ranking is used.
    """
    return "positive" if n_neg == 0 or n_pos < n_neg else "margin"


class Mullapudi(Strategy):
    """Cosine bootstrap, linear models on cached features, pseudo-negatives, adaptive query.

    Parameters
    ----------
    f_a : float
        Pseudo-negatives per labeled example (the paper's default is 100).
    Q : int
        Refresh the cached features from the learner every Q rounds (Alg. 1 line 20).
    C : float
        Inverse regularisation of the linear model (logistic regression on L2-normalised features).
    """

    name = "mullapudi"
    per_class_ranking = True

    def __init__(self, *, f_a: float = 100.0, Q: int = 5, C: float = 1.0):
        self.f_a = f_a
        self.Q = Q
        self.C = C

    def query(self, ctx: PoolContext, *, per_class: int, random_state=None):
        check_int("Mullapudi", "Q", self.Q, low=1)
        rnd = int(ctx.extras.get("round", 0))
        if not hasattr(self, "features_") or rnd % self.Q == 0:
            self.features_ = (np.empty(0, np.int64), None)  # cached features F, refreshed every Q rounds
        self._rng = check_random_state(random_state)
        self.modes_ = {}
        cand = super().query(ctx, per_class=per_class, random_state=self._rng)
        modes = ", ".join(f"{c}:{m}" for c, m in self.modes_.items())
        return type(cand)(cand.ids, cand.target, cand.score, info={"query": modes})

    def _features(self, ctx: PoolContext, ids) -> np.ndarray:
        """L2-normalised features of ``ids``, embedded once per refresh and kept sorted by id."""
        known, table = self.features_
        ids = np.asarray(ids, dtype=np.int64)
        missing = np.setdiff1d(ids, known)
        if len(missing):
            new = normalize_rows(ctx.learner.embed(missing).astype(np.float32, copy=False), copy=False)
            if table is None:  # the first call embeds the whole (sorted) pool: nothing to merge
                known, table = missing, new
            else:
                known = np.concatenate([known, missing])
                order = np.argsort(known, kind="stable")
                known, table = known[order], np.concatenate([table, new])[order]
            self.features_ = (known, table)
        if len(ids) == len(known) and np.array_equal(ids, known):
            return table
        return table[np.searchsorted(known, ids)]

    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        search = ctx.extras.get("search_labels", {})
        pos = ctx.train_ids[ctx.train_labels == cls]  # I_p and the positives found so far
        neg = np.array([i for i, y in search.items() if y != cls], dtype=np.int64)
        pool_f = self._features(ctx, ctx.pool_ids)
        pos_f = self._features(ctx, pos)
        r_pos = cosine_to_centroid(pool_f, pos_f)  # Alg. 1 lines 3-4
        if len(neg) == 0 and int(ctx.extras.get("round", 0)) == 0:
            self.modes_[cls] = "cosine"
            return r_pos
        # Lines 13-18: pseudo-negatives from the bottom half, a linear model, both rankings.
        w_n = pseudo_negatives(r_pos, len(pos), len(neg), self.f_a, random_state=self._rng)
        X = np.concatenate([pos_f, self._features(ctx, neg) if len(neg) else np.empty((0, pool_f.shape[1])),
                            pool_f[w_n]])
        y = np.r_[np.ones(len(pos)), np.zeros(len(X) - len(pos))]
        model = LogisticRegression(C=self.C, max_iter=1000, random_state=derive_seed(self._rng)).fit(X, y)
        f = model.decision_function(pool_f)
        mode = adaptive_mode(len(pos), len(neg))
        self.modes_[cls] = mode
        return f if mode == "positive" else -np.abs(f)

