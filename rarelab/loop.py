"""The active search as a steppable object: train -> propose -> label -> commit -> next round.

Every phase is a method a notebook cell or a widget can call on its own; ``step`` runs
one round with the oracle and ``run`` only calls ``step``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ._validation import PhaseError, check_int, param_error
from .devices import describe
from .labels import NOT_RARE, LabelStore
from .metrics import metrics_csv, n_rare, rare_f1, write_text_atomic
from .strategies import Candidates, PoolContext, Strategy

PHASES = ("train", "propose", "label")


class SimulatedOracle:
    """Reveals the ground truth, as in the paper's experiments.

    With the metrics, the only reader of pool labels: the search itself never sees them.
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
                "ActiveSearch",
                "split",
                "a pool holding every rare class",
                f"no pool items for classes {empty}",
                "Drop those classes from rare_classes.",
            )


class ActiveSearch:
    """Search an unlabeled pool for rare classes, round by round (the paper's Algorithm 1).

    Parameters
    ----------
    dataset : ArrayDataset or FileDataset
        Every item's image (or file). Its ``targets``, if any, are never read: the known
        labels come with the split, the pool's from the oracle or a person.
    split : Split
        Seed (training) items with their labels, validation items (labels optional: F1 is
        reported only with them) and the unlabeled pool.
    learner : LinearProbe or FineTune (anything with ``fit``, ``predict_proba``, ``embed``)
    strategy : Strategy
    per_class : int
        N, the items proposed per rare class and round (the paper uses 50).
    oracle : callable ``ids -> labels``, optional
        ``SimulatedOracle(dataset.targets)`` to reproduce the paper; ``None`` when a
        person labels through :meth:`label`.
    run_dir : path, optional
        Where the label store and ``metrics.csv`` live. An existing run resumes.
    random_state : int, optional
        Seeds the strategy's choices; round ``t`` uses ``(random_state, t)``.
    name, seed : shown in ``metrics.csv`` (``strategy`` and ``seed`` columns).

    Examples
    --------
    >>> search = ActiveSearch(dataset=ds, split=split, learner=learner,  # doctest: +SKIP
    ...                       strategy=RareSoftmax(), oracle=SimulatedOracle(ds.targets))
    >>> search.run(rounds=5).history_  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        dataset,
        split,
        learner,
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
        self.per_class = check_int("ActiveSearch", "per_class", per_class, low=1)
        self.oracle = oracle
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.random_state = check_int("ActiveSearch", "random_state", random_state, low=0)
        self.name = name or getattr(strategy, "name", type(strategy).__name__)
        self.seed = random_state if seed is None else seed
        self.rare_classes = tuple(int(c) for c in split.rare_classes)
        if getattr(learner, "dataset", dataset) is not dataset:
            raise param_error(
                "ActiveSearch",
                "learner",
                "a learner built on the same dataset object",
                f"{type(learner).__name__}(dataset={getattr(learner.dataset, 'name', '?')!r})",
                "Pass the dataset you give ActiveSearch to the learner as well.",
            )
        self._check_split()
        self._pool_sorted = np.sort(np.asarray(split.pool, dtype=np.int64))
        self.store = self._open_store()
        self._restore()

    # -- set-up ------------------------------------------------------------------------
    def _check_split(self):
        n = len(self.dataset)
        parts = [np.asarray(getattr(self.split, p)) for p in ("train", "val", "pool")]
        allids = np.concatenate(parts)
        if len(allids) and (allids.min() < 0 or allids.max() >= n):
            raise param_error(
                "ActiveSearch",
                "split",
                f"item ids in [0, {n - 1}]",
                f"ids up to {allids.max()}",
                "Build the split from this dataset's targets.",
            )
        if len(np.unique(allids)) != len(allids):
            raise param_error("ActiveSearch", "split", "disjoint train/val/pool parts", "overlapping parts")
        if len(parts[2]) == 0:
            raise param_error("ActiveSearch", "split", "a split with a non-empty pool", "an empty pool")
        if hasattr(self.oracle, "check_pool"):
            self.oracle.check_pool(parts[2], self.rare_classes)
        if self.per_class * len(self.rare_classes) > len(parts[2]):
            raise param_error(
                "ActiveSearch",
                "per_class",
                f"an int in [1, {len(parts[2]) // len(self.rare_classes)}] (pool size / number of rare classes)",
                self.per_class,
            )

    def _open_store(self) -> LabelStore:
        path = ":memory:" if self.run_dir is None else self.run_dir / "labels.sqlite"
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        store = LabelStore(path)
        saved = store.load_split_ids()
        if saved is None:
            store.save_split(self.split)
            store.set("rare_classes", list(self.rare_classes))
        elif not all(np.array_equal(saved[p], np.sort(getattr(self.split, p))) for p in saved):
            raise param_error(
                "ActiveSearch",
                "split",
                f"the split stored in {self.run_dir}",
                "a different split",
                "Reopen the run with its own config (ActiveSearch.open / rarelab resume) or choose a new run_dir.",
            )
        return store

    def _restore(self):
        self.round_ = self.store.get("round", 0)
        phase = self.store.get("phase", "train")
        self.history_ = self.store.rounds()
        self.candidates_ = None
        if phase == "label":
            rows = self.store.candidates(self.round_)
            self.candidates_ = Candidates(
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=np.int64),
                np.array([r[2] for r in rows]),
            )
            self.candidate_proba_ = np.array([json.loads(r[3]) for r in rows]).reshape(len(rows), -1)
        # The model of this round is in the run directory: reopening does not retrain.
        model = self._model_path()
        if (
            phase in ("propose", "label")
            and model is not None
            and model.exists()
            and self.store.get("model_round") == self.round_
            and hasattr(self.learner, "load")
        ):
            self.learner.load(model)
        elif phase == "propose":
            phase = "train"
        self.phase_ = phase

    def _model_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "model.pt"

    # -- state -------------------------------------------------------------------------
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

    def _expect(self, *phases):
        if self.phase_ not in phases:
            nxt = {"train": "train()", "propose": "propose()", "label": "label(...) then commit()"}[self.phase_]
            raise PhaseError(
                f"ActiveSearch is in phase {self.phase_!r} of round {self.round_}; "
                f"this call needs phase {' or '.join(map(repr, phases))}. Call {nxt} next."
            )

    # -- phases ------------------------------------------------------------------------
    def train(self):
        """Fit the learner on the current training set and score rare-class F1 on validation.

        Allowed again before :meth:`propose` (to retrain with other settings).
        """
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
            "device": describe(self.learner.device_) if hasattr(self.learner, "device_") else "",
        }
        state = {"round": self.round_, "phase": "propose"}
        if self._model_path() is not None and hasattr(self.learner, "save"):
            self.learner.save(self._model_path())  # atomic; the phase says "propose" only after it is on disk
            state["model_round"] = self.round_
        self._save_record(record, state)
        self.phase_ = "propose"
        return self

    def propose(self) -> Candidates:
        """Score the pool with the strategy; returns the candidates (best first) and stores them."""
        self._expect("propose")
        pool = self.pool_ids_
        proba = self.learner.predict_proba(pool)
        search_labels = self.store.labels(committed=True)
        train_ids, train_labels = self._training_set()
        ctx = PoolContext(
            pool_ids=pool,
            proba=proba,
            rare_classes=self.rare_classes,
            train_ids=train_ids,
            train_labels=train_labels,
            learner=self.learner,
            n_classes=len(self.dataset.classes),
            extras={
                "round": self.round_,
                "labels_used": len(search_labels),
                "search_labels": search_labels,
                "dataset": self.dataset,
                "search_targets": self.store.candidate_targets(),
            },
        )
        per_class = min(self.per_class, len(pool) // len(self.rare_classes))
        if per_class < 1:
            raise param_error(
                "ActiveSearch",
                "per_class",
                "at most pool size / number of rare classes",
                self.per_class,
                f"Only {len(pool)} pool items are left.",
            )
        rng = np.random.default_rng([self.random_state, self.round_])
        cand = self.strategy.query(ctx, per_class=per_class, random_state=rng)
        pos = np.searchsorted(pool, cand.ids)
        self.candidate_proba_ = proba[pos][:, list(self.rare_classes)]
        record = (
            dict(self.history_[-1])
            if self.history_ and self.history_[-1]["round"] == self.round_
            else {"round": self.round_}
        )
        record["strategy_info"] = {k: str(v) for k, v in cand.info.items()}
        if self.oracle is not None and len(cand.pseudo_ids):
            # A simulation's measure (the oracle is the one reader of pool labels): rare pool
            # items the strategy machine-labeled as another class, lost to the search.
            truth = np.asarray(self.oracle(cand.pseudo_ids))
            record["pseudo_rare_mislabeled"] = int(
                np.sum(np.isin(truth, self.rare_classes) & (truth != cand.pseudo_labels))
            )
        self.store.save_round(self.round_, record)
        self.store.save_candidates(
            self.round_,
            cand.ids,
            cand.target,
            cand.score,
            self.candidate_proba_,
            {"round": self.round_, "phase": "label", "pseudo": [cand.pseudo_ids.tolist(), cand.pseudo_labels.tolist()]},
        )
        self._refresh_history()
        self.candidates_ = cand
        self.phase_ = "label"
        return cand

    def label(self, ids, labels, *, source: str = "person"):
        """Record labels for pool items; each call is stored at once.

        ``labels`` are class ids, or :data:`rarelab.labels.NOT_RARE` (-1) for an item that
        is in no rare class when its exact class is unknown.
        """
        self._expect("label")
        ids = np.atleast_1d(np.asarray(ids))
        labels = np.atleast_1d(np.asarray(labels))
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise param_error("ActiveSearch.label", "ids", "a 1-D array of int item ids", f"{ids.dtype} {ids.shape}")
        if labels.shape != ids.shape or not np.issubdtype(labels.dtype, np.integer):
            raise param_error(
                "ActiveSearch.label", "labels", f"int class ids of shape {ids.shape}", f"{labels.dtype} {labels.shape}"
            )
        n_classes = len(self.dataset.classes)
        if len(labels) and (labels.min() < NOT_RARE or labels.max() >= n_classes):
            raise param_error(
                "ActiveSearch.label",
                "labels",
                f"class ids in [0, {n_classes - 1}] or -1 (not rare)",
                sorted(set(labels[(labels < NOT_RARE) | (labels >= n_classes)].tolist()))[:5],
            )
        # Membership by binary search, not a set difference over the whole pool: a person
        # labeling one item at a time in a million-item pool must not wait for it.
        pos = np.minimum(np.searchsorted(self._pool_sorted, ids), max(0, len(self._pool_sorted) - 1))
        in_pool = (self._pool_sorted[pos] == ids) if len(self._pool_sorted) else np.zeros(len(ids), bool)
        outside = np.union1d(ids[~in_pool], self.store.committed_among(ids[in_pool]))
        if len(outside):
            raise param_error(
                "ActiveSearch.label",
                "ids",
                "ids of items still in the pool",
                outside[:5].tolist(),
                "Only unlabeled pool items can be labeled.",
            )
        paths = getattr(self.dataset, "paths", None)
        self.store.add(
            ids, labels, round=self.round_, source=source, paths=None if paths is None else [paths[i] for i in ids]
        )
        return self

    def unlabel(self, ids):
        """Withdraw labels given this round (before commit)."""
        self._expect("label")
        self.store.remove(np.atleast_1d(ids))
        return self

    def label_with_oracle(self):
        """Let the oracle label every candidate not labeled yet."""
        self._expect("label")
        if self.oracle is None:
            raise PhaseError(
                "This ActiveSearch has no oracle: label the candidates with label(ids, labels) and call commit()."
            )
        todo = np.setdiff1d(self.candidates_.ids, np.fromiter(self.pending_labels_.keys(), dtype=np.int64))
        if len(todo):
            self.label(todo, self.oracle(todo), source="oracle")
        return self

    def commit(self):
        """Move this round's labeled items into training and start the next round."""
        self._expect("label")
        pending = self.pending_labels_
        target_of = dict(zip(self.candidates_.ids.tolist(), self.candidates_.target.tolist()))
        found = [y for y in pending.values() if y in self.rare_classes]
        hits = {str(c): int(sum(1 for y in found if y == c)) for c in self.rare_classes}
        # Precision is over the proposed candidates only: labels given to other pool items
        # (a lasso in the projection view) count as found, not as the query's hits.
        on_target = sum(
            1 for i, y in pending.items() if y in self.rare_classes and i in target_of and target_of[i] in (y, -1)
        )
        record = (
            dict(self.history_[-1])
            if self.history_ and self.history_[-1]["round"] == self.round_
            else {"round": self.round_}
        )
        record.update(
            hits=len(found),
            hits_per_class=hits,
            n_candidates=int(len(self.candidates_)),
            precision=on_target / max(1, len(self.candidates_)),
        )
        self.store.commit_round(self.round_, record, {"round": self.round_ + 1, "phase": "train"})
        self._refresh_history()
        self.round_ += 1
        self.phase_ = "train"
        self.candidates_ = None
        return self

    # -- drivers -----------------------------------------------------------------------
    def step(self):
        """One full round with the oracle: train, propose, label, commit."""
        if self.phase_ == "train":
            self.train()
        if self.phase_ == "propose":
            self.propose()
        self.label_with_oracle()
        return self.commit()

    def run(self, rounds: int):
        """Run ``rounds`` query rounds, then train once more to measure the final model."""
        rounds = check_int("ActiveSearch.run", "rounds", rounds, low=0)
        while self.round_ < rounds:
            self.step()
        if self.phase_ == "train":
            self.train()
        return self

    def export_labels(self, path) -> Path:
        """Write every label given so far as CSV: item, file (for image folders), class, round, source."""
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["item_id", "path", "label", "class_name", "round", "source", "timestamp", "committed"])
        for item, label, rnd, source, ts, committed, file in self.store.label_rows():
            name = "not rare" if label == NOT_RARE else self.dataset.classes[label]
            w.writerow([item, file or "", label, name, rnd, source, f"{ts:.3f}", committed])
        path = Path(path)
        write_text_atomic(path, buf.getvalue())
        return path

    # -- persistence -------------------------------------------------------------------
    def _save_record(self, record: dict, state: dict):
        self.store.save_round(record["round"], record, state)
        self._refresh_history()

    def _refresh_history(self):
        self.history_ = self.store.rounds()
        if self.run_dir is not None:
            write_text_atomic(
                self.run_dir / "metrics.csv", metrics_csv(self.history_, strategy=self.name, seed=self.seed)
            )

    def __repr__(self) -> str:
        return (
            f"ActiveSearch(strategy={self.name!r}, rare_classes={len(self.rare_classes)}, "
            f"per_class={self.per_class}, round={self.round_}, phase={self.phase_!r}, "
            f"train={len(self.split.train)}, pool={len(self.split.pool)})"
        )
