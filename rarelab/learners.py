"""The learners by name, as ``rarelab run --learner`` and the configs know them."""

from __future__ import annotations

import inspect

from ._validation import param_error
from .partial_tuning import PartialFineTune
from .training import FineTune, LinearProbe

LEARNERS = {"linear": LinearProbe, "partial": PartialFineTune, "finetune": FineTune}


def make_learner(name: str, *, dataset, **params):
    """The learner ``name`` on ``dataset``; ``params`` it does not take are left out.

    Configs hold the settings of every learner (``hidden`` for the linear head,
    ``tune_blocks`` and ``views`` for partial fine-tuning); each learner takes its own.
    ``None`` means the learner's default.
    """
    if name not in LEARNERS:
        raise param_error("make_learner", "name", f"one of {sorted(LEARNERS)}", name)
    cls = LEARNERS[name]
    accepted = inspect.signature(cls).parameters
    return cls(dataset=dataset, **{k: v for k, v in params.items() if k in accepted and v is not None})
