"""The saved model on new files, and where a search stands."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..data import (
    load_images,
)
from ..exceptions import InvalidParameterError
from ..loop import ActiveLoop
from ..utils import printable_path


def predict_files(search: ActiveLoop, files) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """Apply the run's trained model to image files: ``(readable paths, proba, failures)``."""
    learner = search.learner
    model = None if search.run_dir is None else search.run_dir / "model.pt"
    if not learner.is_fitted and model is not None and model.exists():
        learner.load(model)  # the last trained round's model (a committed round retrains only on demand)
    if not learner.is_fitted:
        raise InvalidParameterError(
            f"The run in {str(search.run_dir)!r} has no trained model yet: run "
            "`rarelab search propose` (or search.train()) first."
        )
    size = learner.input_side()
    paths = [os.path.abspath(os.path.expanduser(f)) for f in files]  # as given: links kept
    images, failed = load_images(paths, size)
    bad = {i for i, _ in failed}
    keep = [i for i in range(len(paths)) if i not in bad]
    proba = learner.predict_proba_images(images[keep]) if keep else np.empty((0, len(search.dataset.classes)))
    return [paths[i] for i in keep], proba, [(paths[i], e) for i, e in failed]


_NEXT_STEP = {"train": "propose", "propose": "propose", "label": "label the candidates, then commit"}


def status(search: ActiveLoop) -> str:
    """A few lines on where the search stands."""
    ds, s = search.dataset, search.split
    names = ds.classes
    committed = search.store.labels(committed=True)
    pending = search.pending_labels_
    found = {names[c]: sum(1 for y in committed.values() if y == c) for c in search.rare_classes}
    failed = _failed_files(search.run_dir)
    lines = [
        f"round {search.round_}, phase {search.phase_!r} (next: {_NEXT_STEP[search.phase_]})",
        f"items: {len(s.train)} seed, {len(s.val)} validation, {len(search.pool_ids_)} unlabeled in the pool, "
        f"{failed[0]} unreadable; {failed[1]} other files listed but not read (failed_files.csv)",
        f"rare classes: {', '.join(names[c] for c in search.rare_classes)}",
        f"labels: {len(committed)} committed ({', '.join(f'{k}: {v}' for k, v in found.items())} rare found), "
        f"{len(pending)} waiting for commit",
        f"candidates: {0 if search.candidates_ is None else len(search.candidates_)}",
    ]
    if search.history_:
        last = search.history_[-1]
        f1 = last.get("f1_rare")
        lines.append(
            f"last trained round {last['round']}: train size {last.get('train_size')}, "
            + (f"rare F1 on validation {f1:.3f}" if f1 is not None else "no validation labels (no F1)")
        )
    return "\n".join(lines)


def _failed_files(run_dir) -> tuple[int, int]:
    """Rows of ``failed_files.csv`` (written each time the search is opened): files that are
    items but cannot be decoded, and files listed in a source but not read (not images)."""
    path = None if run_dir is None else Path(run_dir) / "failed_files.csv"
    if path is None or not path.is_file():
        return 0, 0
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items = sum(1 for r in rows if r.get("item_id"))
    return items, len(rows) - items


def write_predictions(search: ActiveLoop, files, out) -> list[tuple[str, str]]:
    """:func:`predict_files` as CSV on the text stream ``out``: path, predicted class, its
    probability and each rare class's probability. Returns the unreadable files with their error."""
    paths, proba, failed = predict_files(search, files)
    names = search.dataset.classes
    rare = list(search.rare_classes)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["path", "predicted", "probability", *[f"p_{names[c]}" for c in rare]])
    for p, row in zip(paths, proba):
        k = int(np.argmax(row))
        w.writerow([printable_path(p), names[k], f"{row[k]:.4g}", *[f"{row[c]:.3e}" for c in rare]])
    return failed
