"""The active loop and its stores: what a search and a simulation have in common.

* :class:`ActiveLoop`: the steppable state machine (train -> propose -> label -> commit).
* :class:`LabelStore`: the run's SQLite file; every label is committed the moment it is given.
* :class:`RoundLog`: the per-round measures, mirrored to ``metrics.csv``.
* :func:`export_labels`: every label as CSV.
"""

from ._active_loop import PHASES, ActiveLoop
from ._candidates import candidate_classes, rank_for_class
from ._export import export_labels
from ._label_store import NOT_RARE, LabelStore
from ._round_log import RoundLog, commit_measures

__all__ = [
    "NOT_RARE",
    "PHASES",
    "ActiveLoop",
    "LabelStore",
    "RoundLog",
    "candidate_classes",
    "commit_measures",
    "export_labels",
    "rank_for_class",
]
