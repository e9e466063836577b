"""The per-round record of a search or simulation: what ``metrics.csv`` and Fig. 4 show."""

from __future__ import annotations

from pathlib import Path

from ..reporting import metrics_csv
from ..utils import write_atomic
from ._label_store import LabelStore


class RoundLog:
    """Per-round records kept in the run's :class:`LabelStore`, mirrored to ``metrics.csv``.

    A record holds ``round``, ``labels_used``, ``n_rare``, ``f1_rare`` (``None`` without
    validation labels), ``hits``, ``hits_per_class``, ``precision``, ``n_candidates``,
    ``train_size`` and the strategy's notes; see :data:`rarelab.reporting.METRIC_COLUMNS`.

    Parameters
    ----------
    store : LabelStore
    csv_path : path or None
        Where ``metrics.csv`` is rewritten (atomically) after every change; ``None`` keeps
        the records in the store only.
    strategy, seed : written in every row of ``metrics.csv``.
    """

    def __init__(self, store: LabelStore, csv_path=None, *, strategy: str, seed):
        self.store = store
        self.csv_path = None if csv_path is None else Path(csv_path)
        self.strategy = strategy
        self.seed = seed
        self.history = store.rounds()

    def current(self, round: int) -> dict:
        """A copy of round ``round``'s record so far (a new one if it has none)."""
        if self.history and self.history[-1]["round"] == round:
            return dict(self.history[-1])
        return {"round": round}

    def save(self, record: dict, state: dict | None = None, *, expect_revision: int | None = None) -> None:
        """Store ``record`` (and the loop's next ``state``) in one transaction."""
        self.store.save_round(record["round"], record, state, expect_revision=expect_revision)
        self.refresh()

    def commit(self, record: dict, next_state: dict, *, expect_revision: int | None = None) -> None:
        """Commit the round's labels with its final record and the next phase, atomically."""
        self.store.commit_round(record["round"], record, next_state, expect_revision=expect_revision)
        self.refresh()

    def refresh(self, *, write: bool = True) -> None:
        """Re-read the records (another process may have written them) and rewrite the CSV."""
        self.history = self.store.rounds()
        if write and self.csv_path is not None:
            write_atomic(self.csv_path, metrics_csv(self.history, strategy=self.strategy, seed=self.seed))


def commit_measures(pending: dict[int, int], candidates, rare_classes) -> dict:
    """Hits of a round's labels: ``hits``, ``hits_per_class``, ``n_candidates``, ``precision``.

    Precision is over the proposed candidates only: labels given to other pool items (a
    lasso in the projection view) count as found, not as the query's hits.
    """
    target_of = dict(zip(candidates.ids.tolist(), candidates.target.tolist()))
    found = [y for y in pending.values() if y in rare_classes]
    on_target = sum(1 for i, y in pending.items() if y in rare_classes and i in target_of and target_of[i] in (y, -1))
    return {
        "hits": len(found),
        "hits_per_class": {str(c): int(sum(1 for y in found if y == c)) for c in rare_classes},
        "n_candidates": int(len(candidates)),
        "precision": on_target / max(1, len(candidates)),
    }
