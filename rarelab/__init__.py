"""rarelab: find the rare classes hiding in a large unlabeled image pool, and see why it works."""

from .datasets import ArrayDataset, digits, gtsrb, image_folder, load_dataset, synth_signs
from .experiment import RunConfig, build_search, create_run, open_run
from .labels import NOT_RARE, LabelStore
from .learners import make_learner
from .loop import ActiveSearch, SimulatedOracle
from .partial_tuning import PartialFineTune
from .splits import Split, rare_class_split, rarest_classes
from .strategies import (
    Candidates,
    MaxEntropy,
    PoolContext,
    RandomSampling,
    RareSoftmax,
    Strategy,
    entropy_scores,
    random_scores,
    rare_class_scores,
    select_top,
)
from .training import FineTune, LinearProbe

__version__ = "0.1.0"

__all__ = [
    "NOT_RARE",
    "ActiveSearch",
    "ArrayDataset",
    "Candidates",
    "FineTune",
    "LabelStore",
    "LinearProbe",
    "MaxEntropy",
    "PartialFineTune",
    "PoolContext",
    "RandomSampling",
    "RareSoftmax",
    "RunConfig",
    "SimulatedOracle",
    "Split",
    "Strategy",
    "build_search",
    "create_run",
    "digits",
    "entropy_scores",
    "gtsrb",
    "image_folder",
    "load_dataset",
    "make_learner",
    "open_run",
    "random_scores",
    "rare_class_scores",
    "rare_class_split",
    "rarest_classes",
    "select_top",
    "synth_signs",
]
