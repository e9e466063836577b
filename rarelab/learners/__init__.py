"""Learners: what the active loop trains each round, and how it predicts.

Every learner subclasses :class:`Learner` and trains with one shared epoch loop
(:func:`train_epochs`).

* :class:`LinearProbe` (``"linear"``): a head on frozen, cached ImageNet features; seconds
  per round on a CPU.
* :class:`AdaptedProbe` (``"adapted"``): a head on features adapted by tuning the
  backbone's last blocks, the tail trained again only as the rare classes fill up; seconds
  per round on a CPU, ``rarelab search``'s default.
* :class:`PartialFineTune` (``"partial"``): the backbone's last blocks and the head on
  cached trunk activations with augmented views; minutes per round on a CPU.
* :class:`FineTune` (``"finetune"``): the whole network with random-crop augmentation, as
  the paper does; the GPU path.
"""

from ..utils import Registry
from ._adapted import AdaptedProbe
from ._base import EpochCallback, Learner, train_epochs
from ._finetune import FineTune
from ._linear import LinearProbe
from ._partial import PartialFineTune

_REGISTRY = Registry("learner", owner="get_learner")
_REGISTRY.register("linear", LinearProbe, summary="a head on frozen, cached backbone features (CPU, seconds per round)")
_REGISTRY.register(
    "adapted", AdaptedProbe, summary="a head on adapted features, the last blocks retrained as rare labels grow"
)
_REGISTRY.register("partial", PartialFineTune, summary="the backbone's last blocks and the head on cached activations")
_REGISTRY.register("finetune", FineTune, summary="the whole network, random-crop augmentation (the GPU path)")


def get_learner(name: str, *, dataset, **params) -> Learner:
    """The learner ``name`` (see :func:`list_learners`) on ``dataset``.

    Parameters it does not take raise :class:`~rarelab.exceptions.InvalidParameterError`
    naming them; ``None`` values mean the learner's default.
    """
    return _REGISTRY.get(name, dataset=dataset, **{k: v for k, v in params.items() if v is not None})


def list_learners() -> tuple[str, ...]:
    """Names :func:`get_learner` knows: ``("linear", "adapted", "partial", "finetune")``."""
    return _REGISTRY.names()


def learner_from_settings(name: str, *, dataset, settings: dict) -> Learner:
    """The learner ``name`` on ``dataset``, given the entries of ``settings`` it takes.

    A run's config holds the settings of every learner (``hidden`` for the linear head,
    ``tune_blocks`` for partial fine-tuning); the config checks that no other learner's
    setting was changed, and this picks the chosen learner's own.
    """
    accepted = learner_params(name)
    return get_learner(name, dataset=dataset, **{k: v for k, v in settings.items() if k in accepted})


def learner_params(name: str) -> tuple[str, ...]:
    """The keyword parameters of learner ``name`` (a config keeps settings of every learner)."""
    return _REGISTRY.params(name)


__all__ = [
    "AdaptedProbe",
    "EpochCallback",
    "FineTune",
    "Learner",
    "LinearProbe",
    "PartialFineTune",
    "get_learner",
    "learner_from_settings",
    "learner_params",
    "list_learners",
    "train_epochs",
]
