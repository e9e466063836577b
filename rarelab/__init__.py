"""rarelab: find the rare classes hiding in a large unlabeled image pool, and see why it works.

The subpackages, one concept each (see the documentation's architecture page):

* :mod:`rarelab.data`: datasets, image files, the paper's split.
* :mod:`rarelab.features`: backbones, embedding, the feature store and activation cache.
* :mod:`rarelab.learners`: what each round trains (linear, partial, full fine-tuning).
* :mod:`rarelab.strategies`: how the pool is ranked (the paper's and four related methods).
* :mod:`rarelab.loop`: the steppable active loop and its stores.
* :mod:`rarelab.simulation`: the paper's protocol with an oracle; :mod:`rarelab.comparison`:
  strategies x seeds over simulations; :mod:`rarelab.search`: your own images, a person labels.
* :mod:`rarelab.reporting`: metrics, figures, pages; :mod:`rarelab.toy`: the 2-D toy model;
  :mod:`rarelab.widgets`: notebook views; :mod:`rarelab.cli`: the command line.
"""

from .comparison import build_report, compare
from .data import (
    ArrayDataset,
    Split,
    digits,
    get_dataset,
    gtsrb,
    image_folder,
    rare_class_split,
    rarest_classes,
    synth_signs,
)
from .learners import AdaptedProbe, FineTune, LinearProbe, PartialFineTune, get_learner
from .loop import NOT_RARE, ActiveLoop, LabelStore
from .search import init_search, open_search
from .simulation import SimulatedOracle, SimulationConfig, build_simulation, create_simulation, open_simulation
from .strategies import (
    Candidates,
    MaxEntropy,
    PoolContext,
    RandomSampling,
    RareSoftmax,
    Strategy,
    entropy_scores,
    get_strategy,
    random_scores,
    rare_class_scores,
    select_top,
)

__version__ = "0.1.0"

__all__ = [
    "NOT_RARE",
    "ActiveLoop",
    "AdaptedProbe",
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
    "SimulatedOracle",
    "SimulationConfig",
    "Split",
    "Strategy",
    "build_report",
    "build_simulation",
    "compare",
    "create_simulation",
    "digits",
    "entropy_scores",
    "get_dataset",
    "get_learner",
    "get_strategy",
    "gtsrb",
    "image_folder",
    "init_search",
    "open_search",
    "open_simulation",
    "random_scores",
    "rare_class_scores",
    "rare_class_split",
    "rarest_classes",
    "select_top",
    "synth_signs",
]
