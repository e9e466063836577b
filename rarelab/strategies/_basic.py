"""The traffic-sign paper's strategy and its two baselines (Sec. III-C and III-E)."""

from __future__ import annotations

from ._base import PoolContext, Strategy
from ._scores import entropy_scores, random_scores, rare_class_scores


class RareSoftmax(Strategy):
    """Rank the pool by the softmax probability of each rare class; take the highest."""

    name = "rare-softmax"
    per_class_ranking = True

    def class_scores(self, ctx: PoolContext, cls: int):
        return rare_class_scores(ctx.proba, cls)


class MaxEntropy(Strategy):
    """Uncertainty sampling: the items with the highest predictive entropy."""

    name = "entropy"

    def scores(self, ctx: PoolContext, random_state=None):
        return entropy_scores(ctx.proba)


class RandomSampling(Strategy):
    """Items drawn uniformly from the pool."""

    name = "random"

    def scores(self, ctx: PoolContext, random_state=None):
        return random_scores(len(ctx.pool_ids), random_state)
