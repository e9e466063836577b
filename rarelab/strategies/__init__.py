"""Acquisition strategies: pure score functions plus one shared selector, ``select_top``.

One module per paper's method; every strategy follows :class:`Strategy`'s contract.
"""

from ..utils import Registry, param_error
from ._balancing import Balanced, balancing_scores, should_balance
from ._base import Candidates, PoolContext, Strategy
from ._basic import MaxEntropy, RandomSampling, RareSoftmax
from ._fewshot import ProtoNet, RelationNet, sample_episode
from ._geometry import (
    CoreSet,
    CosinePrototype,
    cosine_to_centroid,
    k_center_greedy,
    min_sq_distances,
)
from ._mullapudi import Mullapudi, adaptive_mode, pseudo_negatives
from ._scores import entropy_scores, random_scores, rare_class_scores, select_top
from ._singh import LogitAutoencoder, MinorityClassMining, holdout_mask, reconstruction_scores, train_autoencoder
from ._taast import TAAST, rarity_weights, taast_scores
from ._uncertainty import (
    MaxScore,
    Uncertainty,
    WeightedEntropy,
    diversify_by_class,
    least_confidence_scores,
    margin_scores,
    weighted_entropy_scores,
)

_REGISTRY = Registry("strategy", owner="get_strategy")
for _name, _factory in {
    "rare-softmax": RareSoftmax,
    "entropy": MaxEntropy,
    "random": RandomSampling,
    "margin": lambda: Uncertainty("margin"),
    "least-confidence": lambda: Uncertainty("least-confidence"),
    "entropy-inv-div": lambda: Uncertainty("entropy", inverted=True, diversified=True),
    "margin-inv-div": lambda: Uncertainty("margin", inverted=True, diversified=True),
    "least-confidence-inv-div": lambda: Uncertainty("least-confidence", inverted=True, diversified=True),
    "entropy-inv-div+balancing": lambda *, budget: Balanced(
        Uncertainty("entropy", inverted=True, diversified=True), budget=budget
    ),
    "coreset": CoreSet,
    "coreset+balancing": lambda *, budget: Balanced(CoreSet(), budget=budget),
    "cosine": CosinePrototype,
    "mullapudi": Mullapudi,
    "singh-mcm": MinorityClassMining,
    "max-score": MaxScore,
    "weighted-entropy": WeightedEntropy,
    "taast": TAAST,
    "taast-clip": lambda: TAAST(embeddings="clip"),
    "protonet": ProtoNet,
    "relationnet": RelationNet,
}.items():
    _REGISTRY.register(_name, _factory)
NEEDS_BUDGET = tuple(n for n in _REGISTRY.names() if n.endswith("+balancing"))


def get_strategy(name: str, *, budget: int | None = None, **params) -> Strategy:
    """The strategy ``name`` (see :func:`list_strategies`; ``rarelab compare --strategies``).

    ``budget`` (the total labels of the simulation or search) is required by the balancing variants
    (:data:`NEEDS_BUDGET`) and refused by the others; other ``params`` go to the strategy's
    constructor, and ones it does not take raise an error naming them.
    """
    _REGISTRY.check(name)
    if name in NEEDS_BUDGET:
        if budget is None:
            raise param_error("get_strategy", "budget", f"the total labeling budget for {name!r}", None)
        params["budget"] = budget
    elif budget is not None:
        raise param_error("get_strategy", "budget", f"None: {name!r} has no budget", budget)
    return _REGISTRY.get(name, **params)


def list_strategies() -> tuple[str, ...]:
    """Names :func:`get_strategy` knows, in the order of the README's table."""
    return _REGISTRY.names()


__all__ = [
    "NEEDS_BUDGET",
    "TAAST",
    "Balanced",
    "LogitAutoencoder",
    "Candidates",
    "CoreSet",
    "CosinePrototype",
    "MaxEntropy",
    "MaxScore",
    "MinorityClassMining",
    "Mullapudi",
    "PoolContext",
    "ProtoNet",
    "RandomSampling",
    "RareSoftmax",
    "RelationNet",
    "Strategy",
    "Uncertainty",
    "WeightedEntropy",
    "adaptive_mode",
    "balancing_scores",
    "cosine_to_centroid",
    "diversify_by_class",
    "entropy_scores",
    "get_strategy",
    "holdout_mask",
    "list_strategies",
    "k_center_greedy",
    "least_confidence_scores",
    "margin_scores",
    "min_sq_distances",
    "pseudo_negatives",
    "random_scores",
    "rare_class_scores",
    "rarity_weights",
    "reconstruction_scores",
    "sample_episode",
    "select_top",
    "should_balance",
    "taast_scores",
    "train_autoencoder",
    "weighted_entropy_scores",
]
