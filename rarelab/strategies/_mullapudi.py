"""Mullapudi et al., *Learning rare category classifiers on a tight labeling budget*
(ICCV 2021), Algorithm 1 and Sec. 3, adapted to rarelab's rounds.

One round of :class:`~rarelab.ActiveLoop` is one inner iteration j of Algorithm 1, with
B = ``per_class`` labels per rare class; the learner's per-round training plays the deep
model update, and the cached features it embeds are refreshed every ``Q`` rounds
(line 20). Each rare class is a binary problem: its positives L_p against L_n, the items
labeled *during the search* that belong to another class.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..utils import check_int, check_random_state, derive_seed
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

    Examples
    --------
    >>> adaptive_mode(1, 30), adaptive_mode(30, 30), adaptive_mode(5, 0)
    ('positive', 'margin', 'positive')
    """
    return "positive" if n_neg == 0 or n_pos < n_neg else "margin"


def auxiliary_labels(features, n_aux: int = 16, *, random_state=None, sample: int = 20_000) -> np.ndarray:
    """Background splitting's auxiliary classes A_l (Alg. 1 line 2) by k-means on cached
    features: the backbone rarelab caches has no ImageNet head to take them from."""
    from sklearn.cluster import MiniBatchKMeans

    rng = check_random_state(random_state)
    f = np.asarray(features, dtype=np.float32)
    fit_on = f if len(f) <= sample else f[rng.choice(len(f), sample, replace=False)]
    km = MiniBatchKMeans(
        n_clusters=min(n_aux, len(fit_on)), n_init=1, batch_size=2048, random_state=derive_seed(rng)
    ).fit(fit_on)
    return km.predict(f)


class Mullapudi(Strategy):
    """Cosine bootstrap, linear models on cached features, pseudo-negatives, adaptive query,
    background splitting (Mullapudi et al., Alg. 1).

    Per rare class c: L_p are its labeled positives (I_p and the ones found), L_n the items
    *queried for c* that were not c (Alg. 1 line 13; the other classes' queries are not
    c's negatives). Round 0 ranks by cosine similarity to c's normalised centroid (lines
    3-4). Later rounds train the linear model M^l on L_p, L_n and pseudo-negatives W_n
    (line 15), drawn from the bottom half of the *current model's* ranking (line 14): a
    first model, trained with W_n from the cosine ranking, ranks the pool, and the final
    one is trained with W_n from that ranking's bottom half. While ``|L_p| < |L_n|`` the query
    takes M^l's most likely positives (line 10), otherwise the items nearest its margin
    (line 12); ``strategy_info`` records the mode of every class each round.

    With ``background_splitting`` (the paper's trainBGSplit, linear version) negatives are
    not one class: each carries an auxiliary label A_l (k-means clusters of the cached
    features, line 2), M^l is a softmax over {c} and those, and P(c) ranks the pool.
    Line 19, the deep update: with ``deep_update`` the round's pseudo-negatives go to the
    learner's next training under their auxiliary classes (labels ``n_classes + k``, extra
    outputs that predictions leave out), beside L_p and L_n, which are already training
    labels. Under :class:`~rarelab.FineTune` that retrains the network with background
    splitting's auxiliary classes (its deep version); under :class:`~rarelab.LinearProbe`
    the head on the frozen features.

    Parameters
    ----------
    f_a : float
        Pseudo-negatives per labeled example (the paper's default is 100).
    Q : int
        Refresh the cached features from the learner every Q rounds (Alg. 1 line 20).
    C : float
        Inverse regularisation of the linear model (logistic regression on L2-normalised features).
    background_splitting : bool
    n_aux : int
        Auxiliary classes for background splitting.
    deep_update : bool
        Send the pseudo-negatives to the learner (Alg. 1 line 19).
    """

    name = "mullapudi"
    per_class_ranking = True

    def __init__(
        self,
        *,
        f_a: float = 100.0,
        Q: int = 5,
        C: float = 1.0,
        background_splitting: bool = True,
        n_aux: int = 16,
        deep_update: bool = True,
    ):
        self.f_a = f_a
        self.Q = Q
        self.C = C
        self.background_splitting = background_splitting
        self.n_aux = n_aux
        self.deep_update = deep_update

    def query(self, ctx: PoolContext, *, per_class: int, random_state=None):
        check_int("Mullapudi", "Q", self.Q, low=1)
        rnd = int(ctx.extras.get("round", 0))
        if not hasattr(self, "features_") or rnd % self.Q == 0:
            self.features_ = (np.empty(0, np.int64), None)  # cached features F, refreshed every Q rounds
            self.aux_ = None
        self._rng = check_random_state(random_state)
        self.modes_ = {}
        self.pseudo_negatives_ = {}
        cand = super().query(ctx, per_class=per_class, random_state=self._rng)
        modes = ", ".join(f"{c}:{m}" for c, m in self.modes_.items())
        info = {"query": modes}
        p_ids = np.empty(0, np.int64)
        p_lab = np.empty(0, np.int64)
        if self.deep_update and self.pseudo_negatives_:
            # Line 19: the learner's next training sees W_n too, each item under its auxiliary
            # (background) class n_classes + k, so the deep update is driven by L_p, L_n and W_n.
            p_ids = np.setdiff1d(np.unique(np.concatenate(list(self.pseudo_negatives_.values()))), cand.ids)
            n_classes = ctx.n_classes or ctx.proba.shape[1]
            aux = self._aux(ctx, p_ids) if self.background_splitting else np.zeros(len(p_ids), np.int64)
            p_lab = n_classes + aux
            info["pseudo_negatives"] = f"{len(p_ids)} to the learner"
        return type(cand)(cand.ids, cand.target, cand.score, p_ids, p_lab, info=info)

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

    def _aux(self, ctx: PoolContext, ids) -> np.ndarray:
        """Auxiliary labels of ``ids`` (clusters fitted once per feature refresh, on the pool)."""
        if self.aux_ is None:
            pool_f = self._features(ctx, ctx.pool_ids)
            labels = auxiliary_labels(pool_f, self.n_aux, random_state=self._rng)
            # The clusters' means label items that have left the pool: computed here, once.
            centers = np.stack(
                [
                    pool_f[labels == k].mean(0) if np.any(labels == k) else np.zeros(pool_f.shape[1])
                    for k in range(labels.max() + 1)
                ]
            )
            self.aux_ = (np.asarray(ctx.pool_ids), labels)
            self.aux_centers_ = centers
        pool_ids, labels = self.aux_
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(pool_ids, ids)
        inside = (pos < len(pool_ids)) & (pool_ids[np.minimum(pos, len(pool_ids) - 1)] == ids)
        out = np.zeros(len(ids), dtype=np.int64)
        out[inside] = labels[pos[inside]]
        if (~inside).any():  # labeled items left the pool: nearest cluster by the pool's cluster means
            out[~inside] = np.argmax(self._features(ctx, ids[~inside]) @ self.aux_centers_.T, axis=1)
        return out

    def _fit_rank(self, ctx, pos_f, neg_ids, neg_f, pool_f, ranking, n_pos, n_neg):
        """Train M^l with pseudo-negatives from ``ranking``'s bottom half; return (P(c)-like
        score, signed margin) over the pool."""
        w_n = pseudo_negatives(ranking, n_pos, n_neg, self.f_a, random_state=self._rng)
        self._last_w_n = ctx.pool_ids[w_n]
        X = np.concatenate([pos_f, neg_f, pool_f[w_n]])
        if self.background_splitting:
            aux = np.r_[self._aux(ctx, neg_ids), self._aux(ctx, ctx.pool_ids[w_n])] + 1
            y = np.r_[np.zeros(len(pos_f), np.int64), aux]
        else:
            y = np.r_[np.zeros(len(pos_f), np.int64), np.ones(len(X) - len(pos_f), np.int64)]
        model = LogisticRegression(C=self.C, max_iter=300, random_state=derive_seed(self._rng)).fit(X, y)
        logp = model.predict_log_proba(pool_f)
        col = int(np.flatnonzero(model.classes_ == 0)[0])
        others = np.delete(logp, col, axis=1)
        margin = logp[:, col] - others.max(axis=1)  # > 0 where c wins
        return logp[:, col], margin

    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        search = ctx.extras.get("given_labels", {})
        queried_for = ctx.extras.get("proposed_for", {})
        pos = ctx.train_ids[ctx.train_labels == cls]  # L_p: I_p and the positives found so far
        neg = np.array([i for i, y in search.items() if y != cls and queried_for.get(i) == cls], dtype=np.int64)
        pool_f = self._features(ctx, ctx.pool_ids)
        pos_f = self._features(ctx, pos)
        r_pos = cosine_to_centroid(pool_f, pos_f)  # Alg. 1 lines 3-4
        if len(neg) == 0 and int(ctx.extras.get("round", 0)) == 0:
            self.modes_[cls] = "cosine"
            return r_pos
        neg_f = self._features(ctx, neg) if len(neg) else np.empty((0, pool_f.shape[1]), np.float32)
        # Lines 14-18: W_n from the bottom half of the current model's ranking (a first
        # model on the cosine ranking's pseudo-negatives gives that ranking), then M^l.
        first, _ = self._fit_rank(ctx, pos_f, neg, neg_f, pool_f, r_pos, len(pos), len(neg))
        score, margin = self._fit_rank(ctx, pos_f, neg, neg_f, pool_f, first, len(pos), len(neg))
        self.pseudo_negatives_[cls] = self._last_w_n
        mode = adaptive_mode(len(pos), len(neg))
        self.modes_[cls] = f"{mode} (|L_p|={len(pos)}, |L_n|={len(neg)})"
        return score if mode == "positive" else -np.abs(margin)
