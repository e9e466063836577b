"""The active loop as a steppable object: train -> propose -> label -> commit -> next round.

Every phase is a method a notebook cell or a widget can call on its own; ``step`` runs
one round with the oracle and ``simulate`` only calls ``step``. Persistence is the
:class:`LabelStore`, the per-round measures the :class:`RoundLog`; the loop holds the
phase rules.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..exceptions import PhaseError
from ..learners import Learner
from ..reporting import n_rare, rare_f1
from ..strategies import Candidates, PoolContext, Strategy
from ..utils import check_int, describe, param_error
from ._checks import check_labels, check_split
from ._drivers import LoopDrivers
from ._export import export_labels
from ._label_store import LabelStore
from ._resume import open_store, restore_state
from ._round_log import RoundLog, commit_measures
from ._state import LoopState
from ._sync import RevisionSync

PHASES = ("train", "propose", "label")


class ActiveLoop(LoopDrivers, RevisionSync, LoopState):
    """Search an unlabeled pool for rare classes, round by round (the paper's Algorithm 1).

    The same object serves a *search* (a person labels through :meth:`label`) and a
    *simulation* (an ``oracle`` labels, as in the paper's experiments).

    Parameters
    ----------
    dataset : ArrayDataset or FileDataset
        Every item's image (or file). Its ``targets``, if any, are never read: the known
        labels come with the split, the pool's from the oracle or a person.
    split : Split
        Seed (training) items with their labels, validation items (labels optional: F1 is
        reported only with them) and the unlabeled pool.
    learner : Learner
        Built on ``dataset`` (:func:`rarelab.learners.get_learner`).
    strategy : Strategy
    per_class : int
        N, the items proposed per rare class and round (the paper uses 50).
    oracle : callable ``ids -> labels``, optional
        :class:`~rarelab.simulation.SimulatedOracle` to reproduce the paper; ``None`` when a
        person labels through :meth:`label`.
    run_dir : path, optional
        Where the label store, ``model.pt`` and ``metrics.csv`` live. An existing run resumes.
    random_state : int, optional
        Seeds the strategy's choices; round ``t`` uses ``(random_state, t)``.
    name, seed : shown in ``metrics.csv`` (``strategy`` and ``seed`` columns).

    Raises
    ------
    InvalidParameterError
        A split that does not fit ``dataset``, a learner on another dataset, or a run
        directory holding another split.

    Examples
    --------
    >>> with ActiveLoop(dataset=ds, split=split, learner=learner,  # doctest: +SKIP
    ...                 strategy=RareSoftmax(), oracle=SimulatedOracle(ds.targets)) as loop:
    ...     loop.simulate(rounds=5).history_
    """

    def __init__(
        self,
        *,
        dataset,
        split,
        learner: Learner,
        strategy: Strategy,
        per_class: int = 50,
        oracle=None,
        run_dir=None,
        random_state: int = 0,
        name: str | None = None,
        seed=None,
    ):
        self.dataset = dataset
        self.split = split
        self.learner = learner
        self.strategy = strategy
        self.per_class = check_int("ActiveLoop", "per_class", per_class, low=1)
        self.oracle = oracle
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.random_state = check_int("ActiveLoop", "random_state", random_state, low=0)
        self.name = name or getattr(strategy, "name", type(strategy).__name__)
        self.seed = random_state if seed is None else seed
        self.rare_classes = tuple(int(c) for c in split.rare_classes)
        if not isinstance(learner, Learner):
            raise param_error("ActiveLoop", "learner", "a rarelab.learners.Learner", type(learner).__name__)
        if learner.dataset is not dataset:
            raise param_error(
                "ActiveLoop",
                "learner",
                "a learner built on the same dataset object",
                f"{type(learner).__name__}(dataset={getattr(learner.dataset, 'name', '?')!r})",
                "Pass the dataset you give ActiveLoop to the learner as well.",
            )
        check_split(dataset, split, per_class=self.per_class, oracle=oracle)
        self._pool_sorted = np.sort(np.asarray(split.pool, dtype=np.int64))
        self.store = self._open_store()
        csv_path = None if self.run_dir is None else self.run_dir / "metrics.csv"
        self.log = RoundLog(self.store, csv_path, strategy=self.name, seed=self.seed)
        self._observers: list = []
        self._restore()
        self.revision_ = self.store.revision()

    # -- set-up and resumption -----------------------------------------------------------
    def _open_store(self) -> LabelStore:
        return open_store(self.run_dir, self.split, self.rare_classes)

    def _restore(self):
        self.round_, self.phase_, self.candidates_, proba = restore_state(self.store, self.learner, self._model_path())
        if proba is not None:
            self.candidate_proba_ = proba

    def _model_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "model.pt"

    def close(self) -> None:
        """Close the run's store (after a background job has ended); the object is unusable
        afterwards. Idempotent."""
        self._wait_for_job()
        self.store.close()

    def __enter__(self) -> ActiveLoop:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- phases ------------------------------------------------------------------------
    def train(self):
        """Fit the learner on the current training set and score rare-class F1 on validation.

        Allowed again before :meth:`propose` (to retrain with other settings).
        """
        self._guard()
        self._expect("train", "propose")
        t0 = time.perf_counter()
        ids, labels = self._training_set()
        p_ids, p_labels = self.pseudo_
        self.learner.fit(np.concatenate([ids, p_ids]), np.concatenate([labels, p_labels]))
        f1 = None  # absent, not zero, when nobody supplied validation labels
        if self.split.has_val_labels:
            pred = self.learner.predict_proba(self.split.val).argmax(axis=1)
            f1 = rare_f1(self.split.val_labels, pred, self.rare_classes)
        record = {
            "round": self.round_,
            "labels_used": int(len(self.store.labels(committed=True))),
            "n_rare": n_rare(labels, self.rare_classes),
            "f1_rare": f1,
            "hits": None,
            "precision": None,
            "n_candidates": None,
            "hits_per_class": {},
            "train_size": int(len(ids) + len(p_ids)),
            "pseudo_labels": int(len(p_ids)),
            "train_seconds": round(time.perf_counter() - t0, 3),
            "device": describe(self.learner.device_),
        }
        state = {"round": self.round_, "phase": "propose"}
        if self._model_path() is not None:
            self.learner.save(self._model_path())  # atomic; the phase says "propose" only after it is on disk
            state["model_round"] = self.round_
        self.log.save(record, state, expect_revision=self.revision_)
        self.phase_ = "propose"
        self._wrote("train")
        return self

    def _context(self, pool: np.ndarray, proba: np.ndarray) -> PoolContext:
        given_labels = self.store.labels(committed=True)
        train_ids, train_labels = self._training_set()
        return PoolContext(
            pool_ids=pool,
            proba=proba,
            rare_classes=self.rare_classes,
            train_ids=train_ids,
            train_labels=train_labels,
            learner=self.learner,
            n_classes=len(self.dataset.classes),
            extras={
                "round": self.round_,
                "labels_used": len(given_labels),
                "given_labels": given_labels,
                "dataset": self.dataset,
                "proposed_for": self.store.candidate_targets(),
            },
        )

    def propose(self) -> Candidates:
        """Score the pool with the strategy; returns the candidates (best first) and stores them."""
        self._guard()
        self._expect("propose")
        pool = self.pool_ids_
        proba = self.learner.predict_proba(pool)
        per_class = min(self.per_class, len(pool) // len(self.rare_classes))
        if per_class < 1:
            raise param_error(
                "ActiveLoop",
                "per_class",
                "at most pool size / number of rare classes",
                self.per_class,
                f"Only {len(pool)} pool items are left.",
            )
        rng = np.random.default_rng([self.random_state, self.round_])
        cand = self.strategy.query(self._context(pool, proba), per_class=per_class, random_state=rng)
        pos = np.searchsorted(pool, cand.ids)
        self.candidate_proba_ = proba[pos][:, list(self.rare_classes)]
        record = self.log.current(self.round_)
        record["strategy_info"] = {k: str(v) for k, v in cand.info.items()}
        if self.oracle is not None and len(cand.pseudo_ids):
            # A simulation's measure (the oracle is the one reader of pool labels): rare pool
            # items the strategy machine-labeled as another class, lost to the search.
            truth = np.asarray(self.oracle(cand.pseudo_ids))
            record["pseudo_rare_mislabeled"] = int(
                np.sum(np.isin(truth, self.rare_classes) & (truth != cand.pseudo_labels))
            )
        self.store.save_round(self.round_, record, expect_revision=self.revision_)
        self.store.save_candidates(
            self.round_,
            cand.ids,
            cand.target,
            cand.score,
            self.candidate_proba_,
            {"round": self.round_, "phase": "label", "pseudo": [cand.pseudo_ids.tolist(), cand.pseudo_labels.tolist()]},
            expect_revision=self.store.last_revision,
        )
        self.log.refresh()
        self.candidates_ = cand
        self.phase_ = "label"
        self._wrote("propose")
        return cand

    def label(self, ids, labels, *, source: str = "person"):
        """Record labels for pool items; each call is stored at once.

        ``labels`` are class ids, or :data:`rarelab.loop.NOT_RARE` (-1) for an item that
        is in no rare class when its exact class is unknown.
        """
        self._guard(reload_if_same_phase=True)
        self._expect("label")
        ids, labels = check_labels(ids, labels, len(self.dataset.classes))
        # Membership by binary search, not a set difference over the whole pool: a person
        # labeling one item at a time in a million-item pool must not wait for it.
        pos = np.minimum(np.searchsorted(self._pool_sorted, ids), max(0, len(self._pool_sorted) - 1))
        in_pool = (self._pool_sorted[pos] == ids) if len(self._pool_sorted) else np.zeros(len(ids), bool)
        outside = np.union1d(ids[~in_pool], self.store.committed_among(ids[in_pool]))
        if len(outside):
            raise param_error(
                "ActiveLoop.label",
                "ids",
                "ids of items still in the pool",
                outside[:5].tolist(),
                "Only pool items without a committed label can be labeled; change committed ones with correct().",
            )
        paths = getattr(self.dataset, "paths", None)
        self.store.add(
            ids,
            labels,
            round=self.round_,
            source=source,
            paths=None if paths is None else [paths[i] for i in ids],
            expect_revision=self.revision_,
        )
        self._wrote("label")
        return self

    def unlabel(self, ids):
        """Withdraw labels given this round (before commit)."""
        self._guard(reload_if_same_phase=True)
        self._expect("label")
        self.store.remove(np.atleast_1d(ids), round=self.round_, expect_revision=self.revision_)
        self._wrote("unlabel")
        return self

    def correct(self, ids, labels, *, source: str = "person"):
        """Change labels, committed or not; the old ones stay in the store's history.

        An item labeled this round simply gets the new label; a committed item keeps its
        place in training with the new label from the next :meth:`train` on (records of
        past rounds keep the hits they had). Allowed in any phase.
        """
        self._guard(reload_if_same_phase=True)
        ids, labels = check_labels(ids, labels, len(self.dataset.classes))
        committed = self.store.labels(committed=True)
        same = np.array([committed.get(i) == y for i, y in zip(ids.tolist(), labels.tolist())], dtype=bool)
        ids, labels = ids[~same], labels[~same]  # a "correction" to the label it has is no change
        fixed = np.array([i in committed for i in ids.tolist()], dtype=bool)
        if (~fixed).any():
            self.label(ids[~fixed], labels[~fixed], source=source)
        if fixed.any():
            self.store.correct(
                ids[fixed], labels[fixed], round=self.round_, source=source, expect_revision=self.revision_
            )
            self._wrote("correct")
        return self

    def label_with_oracle(self):
        """Let the oracle label every candidate not labeled yet."""
        self._expect("label")
        if self.oracle is None:
            raise PhaseError(
                "This ActiveLoop has no oracle: label the candidates with label(ids, labels) and call commit()."
            )
        todo = np.setdiff1d(self.candidates_.ids, np.fromiter(self.pending_labels_.keys(), dtype=np.int64))
        if len(todo):
            self.label(todo, self.oracle(todo), source="oracle")
        return self

    def commit(self, *, round: int | None = None, allow_empty: bool = False):
        """Move this round's labels into training and start the next round.

        Parameters
        ----------
        round : int, optional
            The round meant. A round that is committed already makes this a no-op, so a
            notebook cell ``commit(round=0)`` run twice (Run All) commits once.
        allow_empty : bool
            Committing a round with no labels ends it without finding anything; it needs
            this explicit ``True``.

        Raises
        ------
        PhaseError
            Not in the ``label`` phase, a later ``round`` than the current one, or no labels.
        StaleStateError
            Another view or process wrote to the run since this object last read it.
        """
        if round is not None and round < max(self.round_, self.store.get("round", 0)):
            if self.store.revision() != self.revision_ and not self.busy_:
                self.refresh()
            return self  # committed already (here or by another process): the cell again changes nothing
        self._guard()
        if round is not None and round > self.round_:
            raise PhaseError(f"Round {round} has not started: the run is in round {self.round_}.")
        self._expect("label")
        pending = self.pending_labels_
        if not pending and not allow_empty:
            raise PhaseError(
                f"No labels to commit in round {self.round_}: label candidates first, or end the round without "
                + self._either("any with commit(allow_empty=True)", "rarelab search commit {run} --allow-empty")
            )
        record = self.log.current(self.round_)
        record.update(commit_measures(pending, self.candidates_, self.rare_classes))
        self.log.commit(record, {"round": self.round_ + 1, "phase": "train"}, expect_revision=self.revision_)
        self.round_ += 1
        self.phase_ = "train"
        self.candidates_ = None
        self._wrote("commit")
        return self

    def export_labels(self, path) -> Path:
        """Write every label given so far as CSV (see :func:`rarelab.loop.export_labels`)."""
        return export_labels(self.store, self.dataset.classes, path)

    def __repr__(self) -> str:
        return (
            f"ActiveLoop(strategy={self.name!r}, rare_classes={len(self.rare_classes)}, "
            f"per_class={self.per_class}, round={self.round_}, phase={self.phase_!r}, "
            f"train={len(self.train_ids_)}, pool={len(self.pool_ids_)})"
        )
