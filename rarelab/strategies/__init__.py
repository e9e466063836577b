"""Acquisition strategies: pure score functions plus one shared selector, ``select_top``."""

from .._validation import param_error
from ._base import Candidates, PoolContext, Strategy
from ._basic import MaxEntropy, RandomSampling, RareSoftmax
from ._scores import entropy_scores, random_scores, rare_class_scores, select_top

STRATEGIES = {cls.name: cls for cls in (RareSoftmax, MaxEntropy, RandomSampling)}


def get_strategy(name: str, **params) -> Strategy:
    """A strategy by its name (``rarelab run --strategies``)."""
    if name not in STRATEGIES:
        raise param_error("get_strategy", "name", f"one of {sorted(STRATEGIES)}", name)
    return STRATEGIES[name](**params)


__all__ = ["STRATEGIES", "Candidates", "MaxEntropy", "PoolContext", "RandomSampling", "RareSoftmax", "Strategy",
           "entropy_scores", "get_strategy", "random_scores", "rare_class_scores", "select_top"]
