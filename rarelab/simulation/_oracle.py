"""The simulated oracle: a simulation's stand-in for the person who labels."""

from __future__ import annotations

import numpy as np

from ..utils import param_error


class SimulatedOracle:
    """Reveals the ground truth, as in the paper's experiments.

    With the metrics, the only reader of pool labels: the loop itself never sees them.

    Parameters
    ----------
    targets : array-like of int, shape (n_items,)
        Every item's class.
    """

    def __init__(self, targets):
        self.targets = np.asarray(targets)

    def __call__(self, ids) -> np.ndarray:
        return self.targets[np.asarray(ids, dtype=np.int64)]

    def check_pool(self, pool_ids, rare_classes) -> None:
        """Refuse a simulation whose pool holds no item of some rare class: nothing to find."""
        present = set(np.unique(self.targets[np.asarray(pool_ids, dtype=np.int64)]).tolist())
        empty = [c for c in rare_classes if c not in present]
        if empty:
            raise param_error(
                "ActiveLoop",
                "split",
                "a pool holding every rare class",
                f"no pool items for classes {empty}",
                "Drop those classes from rare_classes.",
            )
