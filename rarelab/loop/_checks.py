"""Input checks of the active loop: a split that fits its dataset, labels a person may give."""

from __future__ import annotations

import numpy as np

from ..utils import param_error
from ._label_store import NOT_RARE


def check_split(dataset, split, *, per_class: int, oracle=None) -> None:
    """Refuse a split whose ids leave the dataset, whose parts overlap, whose pool is empty or
    too small for ``per_class`` items per rare class (and, with an oracle that can tell, a
    pool with nothing to find)."""
    n = len(dataset)
    parts = [np.asarray(getattr(split, p)) for p in ("train", "val", "pool")]
    allids = np.concatenate(parts)
    if len(allids) and (allids.min() < 0 or allids.max() >= n):
        raise param_error(
            "ActiveLoop",
            "split",
            f"item ids in [0, {n - 1}]",
            f"ids up to {allids.max()}",
            "Build the split from this dataset's targets.",
        )
    if len(np.unique(allids)) != len(allids):
        raise param_error("ActiveLoop", "split", "disjoint train/val/pool parts", "overlapping parts")
    if len(parts[2]) == 0:
        raise param_error("ActiveLoop", "split", "a split with a non-empty pool", "an empty pool")
    rare = tuple(split.rare_classes)
    if oracle is not None and hasattr(oracle, "check_pool"):  # any callable may be an oracle
        oracle.check_pool(parts[2], rare)
    if per_class * len(rare) > len(parts[2]):
        raise param_error(
            "ActiveLoop",
            "per_class",
            f"an int in [1, {len(parts[2]) // len(rare)}] (pool size / number of rare classes)",
            per_class,
        )


def check_labels(ids, labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, labels)`` as 1-D int arrays of equal shape; labels are class ids or ``NOT_RARE``."""
    ids = np.atleast_1d(np.asarray(ids))
    labels = np.atleast_1d(np.asarray(labels))
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise param_error("ActiveLoop.label", "ids", "a 1-D array of int item ids", f"{ids.dtype} {ids.shape}")
    if labels.shape != ids.shape or not np.issubdtype(labels.dtype, np.integer):
        raise param_error(
            "ActiveLoop.label", "labels", f"int class ids of shape {ids.shape}", f"{labels.dtype} {labels.shape}"
        )
    if len(labels) and (labels.min() < NOT_RARE or labels.max() >= n_classes):
        raise param_error(
            "ActiveLoop.label",
            "labels",
            f"class ids in [0, {n_classes - 1}] or -1 (not rare)",
            sorted(set(labels[(labels < NOT_RARE) | (labels >= n_classes)].tolist()))[:5],
        )
    return ids, labels
