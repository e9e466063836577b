"""What an :class:`ActiveLoop` knows at any moment, read from its store."""

from __future__ import annotations

import numpy as np

from ..exceptions import PhaseError
from ._candidates import rank_for_class
from ._label_store import NOT_RARE

# What to do next, in Python and (for a search: a run directory and no oracle) on the
# command line, which drives the same loop.
_NEXT_CALL = {"train": "train()", "propose": "propose()", "label": "label(...) then commit()"}
_NEXT_COMMAND = {
    "train": "rarelab search propose {run}",
    "propose": "rarelab search propose {run}",
    "label": "rarelab search label {run} --csv answers.csv, then rarelab search commit {run}",
}


class LoopState:
    """The read-only views of :class:`ActiveLoop`'s state: the training set, the pool, the
    labels waiting for commit, the calls the phase allows, a class's ranked candidates."""

    # -- state -------------------------------------------------------------------------
    @property
    def history_(self) -> list[dict]:
        """Every round's record so far (see :class:`RoundLog`)."""
        return self.log.history

    def _training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """Initial training items plus committed labels (NOT_RARE ones train nothing): one store read."""
        committed = {i: y for i, y in self.store.labels(committed=True).items() if y != NOT_RARE}
        train = np.asarray(self.split.train, dtype=np.int64)
        ids = np.concatenate([train, np.fromiter(committed.keys(), dtype=np.int64, count=len(committed))])
        labels = np.concatenate(
            [self.split.train_labels, np.fromiter(committed.values(), dtype=np.int64, count=len(committed))]
        )
        return ids, labels

    @property
    def train_ids_(self) -> np.ndarray:
        return self._training_set()[0]

    @property
    def train_labels_(self) -> np.ndarray:
        return self._training_set()[1]

    @property
    def pseudo_(self) -> tuple[np.ndarray, np.ndarray]:
        """Machine labels the strategy proposed for the next training (items still in the pool)."""
        ids, labels = self.store.get("pseudo", [[], []])
        ids, labels = np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)
        keep = ~np.isin(ids, np.fromiter(self.store.labels(committed=True).keys(), dtype=np.int64))
        return ids[keep], labels[keep]

    @property
    def pool_ids_(self) -> np.ndarray:
        """Pool items not yet committed (labels waiting for commit keep their item in the pool)."""
        done = np.fromiter(self.store.labels(committed=True).keys(), dtype=np.int64)
        return np.setdiff1d(self.split.pool, done)

    @property
    def pending_labels_(self) -> dict[int, int]:
        """Labels given this round and not yet committed, by item id."""
        return self.store.labels(committed=False)

    def allowed(self) -> dict[str, bool]:
        """Which calls the current phase allows: ``train``, ``propose``, ``label``, ``commit``,
        ``label_with_oracle``, ``step`` and ``simulate``. Views enable their buttons from this."""
        p, oracle = self.phase_, self.oracle is not None
        return {
            "train": p in ("train", "propose"),
            "propose": p == "propose",
            "label": p == "label",
            "commit": p == "label",
            "label_with_oracle": p == "label" and oracle,
            "step": oracle,
            "simulate": oracle,
        }

    def _expect(self, *phases):
        if self.phase_ not in phases:
            raise PhaseError(
                f"ActiveLoop is in phase {self.phase_!r} of round {self.round_}; "
                f"this call needs phase {' or '.join(map(repr, phases))}. "
                + self._either(f"Call {_NEXT_CALL[self.phase_]} next", _NEXT_COMMAND[self.phase_])
            )

    def _either(self, python: str, command: str) -> str:
        """``python`` advice, with the command line's way to do the same where a person may
        be driving this run from a shell (a search with a run directory)."""
        if self.run_dir is None or self.oracle is not None:
            return python + "."
        run = str(self.run_dir)
        run = f"'{run}'" if any(c.isspace() for c in run) else run
        return f"{python} (on the command line: `{command.format(run=run)}`)."

    def ranked_candidates(self, rare_class: int, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Item ids and P(``rare_class``) of that class's current candidates, highest first.

        The one ranking every view shows (gallery, ``candidates.csv``); empty outside the
        ``label`` phase.
        """
        if self.candidates_ is None:
            return np.empty(0, np.int64), np.empty(0)
        pos = rank_for_class(self.candidates_.target, self.candidate_proba_, self.rare_classes, rare_class, k)
        col = self.rare_classes.index(rare_class)
        return self.candidates_.ids[pos], self.candidate_proba_[pos, col]
