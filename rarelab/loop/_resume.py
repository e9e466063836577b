"""Reopening a run directory: the same split, and the round, phase, candidates and model as stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..strategies import Candidates
from ..utils import param_error
from ._label_store import LabelStore


def open_store(run_dir: Path | None, split, rare_classes) -> LabelStore:
    """The run's label store (in memory without ``run_dir``); a new store records ``split``.

    Raises ``InvalidParameterError`` when ``run_dir`` holds another split.
    """
    path = ":memory:" if run_dir is None else run_dir / "labels.sqlite"
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    store = LabelStore(path)
    saved = store.load_split_ids()
    if saved is None:
        store.save_split(split, rare_classes)
    elif not all(np.array_equal(saved[p], np.sort(getattr(split, p))) for p in saved):
        store.close()
        raise param_error(
            "ActiveLoop",
            "split",
            f"the split stored in {run_dir}",
            "a different split",
            "Reopen the run with its own config (open_simulation / open_search) or choose a new run_dir.",
        )
    return store


def restore_state(store: LabelStore, learner, model: Path | None):
    """``(round, phase, candidates, candidate_proba)`` as stored; the round's saved model is
    loaded into ``learner`` so that reopening does not retrain."""
    round_ = store.get("round", 0)
    phase = store.get("phase", "train")
    candidates = proba = None
    if phase == "label":
        rows = store.candidates(round_)
        candidates = Candidates(
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows]),
        )
        proba = np.array([json.loads(r[3]) for r in rows]).reshape(len(rows), -1)
    if phase in ("propose", "label") and model is not None and model.exists() and store.get("model_round") == round_:
        learner.load(model)
    elif phase == "propose":
        phase = "train"  # the model of this round is gone: train it again
    return round_, phase, candidates, proba
