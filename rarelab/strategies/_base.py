"""The strategy contract shared by every acquisition method."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..utils import check_int, check_random_state, param_error
from ._scores import select_top


@dataclass
class PoolContext:
    """What a strategy may look at when it queries the pool.

    ``proba`` is computed once per round by the loop; embeddings are computed lazily,
    only when a strategy asks for them. ``learner`` gives strategies that train an
    auxiliary model (recalibration, linear models on cached features) what they need.
    """

    pool_ids: np.ndarray
    proba: np.ndarray
    rare_classes: tuple[int, ...]
    train_ids: np.ndarray
    train_labels: np.ndarray
    learner: Any = None
    n_classes: int | None = None
    extras: dict = field(
        default_factory=dict
    )  # round, labels_used, given_labels (committed, by item), proposed_for, dataset

    @cached_property
    def pool_embeddings(self) -> np.ndarray:
        return self.learner.embed(self.pool_ids)

    @cached_property
    def train_embeddings(self) -> np.ndarray:
        return self.learner.embed(self.train_ids)

    def labelled_counts(self, n_classes: int | None = None) -> np.ndarray:
        """Labeled items per class (the training set, initial and found)."""
        return np.bincount(self.train_labels, minlength=n_classes or self.n_classes or 0)


@dataclass(frozen=True)
class Candidates:
    """Proposed pool items, best first: item ids, the rare class each was proposed for
    (-1 for class-agnostic strategies) and its score."""

    ids: np.ndarray
    target: np.ndarray
    score: np.ndarray
    # Machine labels a strategy adds to the next training round (TAAST's confident pseudo-labels).
    pseudo_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    pseudo_labels: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    info: dict = field(default_factory=dict)  # what the report should say (e.g. which embeddings)

    def __len__(self) -> int:
        return len(self.ids)


class Strategy:
    """Base class. Subclasses implement :meth:`class_scores` (one ranking per rare class,
    ``per_class`` picks each) or :meth:`scores` (one ranking, ``per_class * n_rare`` picks):
    both spend the same labeling budget."""

    name = "strategy"
    per_class_ranking = False

    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        raise NotImplementedError

    def scores(self, ctx: PoolContext, random_state=None) -> np.ndarray:
        raise NotImplementedError

    def query(self, ctx: PoolContext, *, per_class: int, random_state=None) -> Candidates:
        """Pick ``per_class`` items per rare class from the pool (never one item twice)."""
        owner = type(self).__name__
        n_pool = len(ctx.pool_ids)
        if n_pool == 0:
            raise param_error(
                owner,
                "pool",
                "non-empty",
                "an empty pool",
                "Every pool item is labeled already; the search is finished.",
            )
        budget = per_class * len(ctx.rare_classes)
        check_int(owner, "per_class", per_class, low=1, high=max(1, n_pool // len(ctx.rare_classes)))
        rng = check_random_state(random_state)
        if not self.per_class_ranking:
            return self.select(ctx, budget, random_state=rng)
        taken = np.zeros(n_pool, bool)
        ids, target, score = [], [], []
        for c in ctx.rare_classes:
            s = np.asarray(self.class_scores(ctx, c), dtype=np.float64)
            pos = select_top(s, per_class, random_state=rng, exclude=taken)
            taken[pos] = True
            ids.append(ctx.pool_ids[pos])
            target.append(np.full(len(pos), c))
            score.append(s[pos])
        return Candidates(np.concatenate(ids), np.concatenate(target), np.concatenate(score))

    def select(self, ctx: PoolContext, budget: int, *, random_state=None) -> Candidates:
        """Class-agnostic selection: the ``budget`` highest :meth:`scores`. Strategies with a
        selection step of their own (diversification, k-center, clustering) override this."""
        rng = check_random_state(random_state)
        s = np.asarray(self.scores(ctx, random_state=rng), dtype=np.float64)
        pos = select_top(s, budget, random_state=rng)
        return Candidates(ctx.pool_ids[pos], np.full(len(pos), -1), s[pos])

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"
