"""Searches: your own unlabeled images, a labeled seed set, and a person who labels.

A run directory holds ``config.json`` (the sources and settings), ``items.sqlite`` (every
file with its size, mtime, part and known label: seed and validation items only),
``labels.sqlite`` (the person's labels, each stored the moment it is given), ``model.pt``
(the trained model of the current round), ``failed_files.csv`` (files that could not be
decoded), ``adapted/`` (the default learner's current tail and the adapted features of
every item, see :class:`~rarelab.learners.AdaptedProbe`) and ``candidates.csv``/
``candidates.html`` after each proposal. Features and trunk activations live in a
:class:`~rarelab.features.FeatureStore`, shared between runs.
"""

from ._answers import candidate_rows, label_from_csv, parse_label_csv, propose_candidates, write_candidates
from ._config import NOT_LABELS, SearchConfig, parse_rare_examples, read_labeled_source
from ._items import ItemTable
from ._open import init_search, open_search, scan_pool
from ._page import labeling_page
from ._predict import predict_files, status, write_predictions

__all__ = [
    "NOT_LABELS",
    "ItemTable",
    "SearchConfig",
    "candidate_rows",
    "init_search",
    "label_from_csv",
    "labeling_page",
    "open_search",
    "parse_label_csv",
    "parse_rare_examples",
    "propose_candidates",
    "read_labeled_source",
    "predict_files",
    "scan_pool",
    "status",
    "write_candidates",
    "write_predictions",
]
