"""What a person reads and writes: ``candidates.csv``/``.html`` and an answers CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..exceptions import DataUnavailableError, InvalidParameterError, PhaseError
from ..loop import NOT_RARE, ActiveLoop, rank_for_class
from ..reporting import gallery_html
from ..utils import check_int, param_error, write_atomic
from ._config import NOT_LABELS


def candidate_rows(search: ActiveLoop) -> list[dict]:
    """The current candidates as rows of ``candidates.csv``: rare class by rare class, each in
    the loop's one ranking (:meth:`~rarelab.loop.ActiveLoop.ranked_candidates`)."""
    cand = search.candidates_
    if cand is None:
        return []
    rare = list(search.rare_classes)
    names = search.dataset.classes
    paths = getattr(search.dataset, "paths", None)
    rows = []
    for col, c in enumerate(rare):
        for k in rank_for_class(cand.target, search.candidate_proba_, rare, c):
            i = int(cand.ids[k])
            rows.append(
                {
                    "item_id": i,
                    "path": paths[i] if paths else "",
                    "rare_class": names[c],
                    "score": float(cand.score[k]),
                    "probability": float(search.candidate_proba_[k, col]),
                }
            )
    return rows


def write_candidates(search: ActiveLoop, run_dir=None, *, thumb: int = 96) -> tuple[Path, Path]:
    """Write ``candidates.csv`` and a static ``candidates.html`` gallery of the current candidates."""
    run_dir = Path(run_dir or search.run_dir)
    rows = candidate_rows(search)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["item_id", "path", "rare_class", "score", "probability"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "score": f"{r['score']:.6g}", "probability": f"{r['probability']:.6g}"})
    csv_path = write_atomic(run_dir / "candidates.csv", buf.getvalue())
    images = search.dataset.load_images([r["item_id"] for r in rows], thumb) if rows else []
    captions = [[f"{r['probability']:.1e} {r['rare_class']}", f"#{r['item_id']} {Path(r['path']).name}"] for r in rows]
    page = (
        f"<!doctype html><meta charset='utf-8'><title>rarelab candidates, round {search.round_}</title>"
        "<style>body{font-family:sans-serif;margin:1em}</style>"
        f"<h1>Round {search.round_}: {len(rows)} candidates</h1><p>Label them in a CSV with columns "
        "<code>path</code> (or <code>item_id</code>) and <code>label</code> (a class name or <code>not</code>), "
        "then run <code>rarelab search label RUN --csv FILE</code>.</p>"
        + gallery_html(list(images), captions, size=thumb)
    )
    html_path = write_atomic(run_dir / "candidates.html", page)
    return csv_path, html_path


def parse_label_csv(search: ActiveLoop, path) -> tuple[np.ndarray, np.ndarray]:
    """Read a person's answers (``path`` or ``item_id``, and ``label``): every row is checked
    before any is stored, so a bad file changes nothing.

    An item named twice with the same label counts once; named twice with different labels
    it is an error that names the file and both lines. Items whose label was committed
    already are allowed: storing the answer corrects them (see ``ActiveLoop.correct``).
    """
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            cols = reader.fieldnames or []
    except OSError as exc:
        raise DataUnavailableError(f"Cannot read the labels file {str(path)!r}: {exc}") from exc
    if "label" not in cols or not ({"path", "item_id"} & set(cols)):
        raise param_error("search label", "csv", "a CSV with columns 'path' or 'item_id', and 'label'", cols)
    paths = getattr(search.dataset, "paths", [])
    by_path = {p: i for i, p in enumerate(paths)}
    classes = list(search.dataset.classes)
    ids, labels, errors, lines = [], [], [], []
    for n, r in enumerate(rows, start=2):
        item = None
        if r.get("item_id", "").strip():
            try:
                item = int(r["item_id"])
            except ValueError:
                errors.append(f"line {n}: item_id {r['item_id']!r} is not an int")
                continue
        elif r.get("path", "").strip():
            item = by_path.get(str(Path(r["path"]).expanduser().resolve()), by_path.get(r["path"]))
            if item is None:
                errors.append(f"line {n}: {r['path']!r} is not a file of this search")
                continue
        else:
            errors.append(f"line {n}: neither path nor item_id")
            continue
        text = r["label"].strip()
        if text.lower() in NOT_LABELS:
            labels.append(NOT_RARE)
        elif text in classes:  # names first: a folder called 00014 is a name
            labels.append(classes.index(text))
        else:
            errors.append(f"line {n}: label {text!r} is not a class ({', '.join(classes[:6])}...) or 'not'")
            continue
        ids.append(item)
        lines.append(n)
    pool = set(np.asarray(search.split.pool).tolist())
    name = (lambda i: repr(paths[i])) if paths else (lambda i: f"item {i}")
    errors += [f"line {n}: {name(i)} is not a pool file of this search" for i, n in zip(ids, lines) if i not in pool]
    first: dict[int, tuple[int, int]] = {}
    keep = []
    for k, (i, y, n) in enumerate(zip(ids, labels, lines)):
        if i not in first:
            first[i] = (y, n)
            keep.append(k)
        elif first[i][0] != y:
            errors.append(f"lines {first[i][1]} and {n} give {name(i)} different labels")
    ids, labels = [ids[k] for k in keep], [labels[k] for k in keep]
    if errors:
        raise InvalidParameterError(
            f"{str(path)!r} has {len(errors)} bad rows; nothing was stored. " + "; ".join(errors[:5])
        )
    return np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def label_from_csv(search: ActiveLoop, path) -> int:
    """Store a person's answers from a CSV, each row in its own transaction; returns the count.

    Answers for items committed in earlier rounds correct them (the old label stays in the
    store's history); the others are this round's labels.
    """
    ids, labels = parse_label_csv(search, path)
    new = np.setdiff1d(ids, search.store.committed_among(ids))
    if len(new) and search.phase_ != "label":
        raise PhaseError(
            f"{str(path)!r} labels {len(new)} items that have no committed label, but round {search.round_} has no "
            f"candidates yet (phase {search.phase_!r}); nothing was stored. Run `rarelab search propose` first, "
            "or give only corrections of committed labels."
        )
    for i, y in zip(ids, labels):
        search.correct([i], [y], source="person")
    return len(ids)


def propose_candidates(search: ActiveLoop, *, per_class: int | None = None) -> tuple[Path, Path]:
    """Train if the round needs it, propose (unless this round's candidates exist) and write
    ``candidates.csv`` / ``candidates.html``; returns their paths.

    ``per_class`` overrides the search's N for this and later proposals.
    """
    if per_class is not None:
        search.per_class = check_int("propose_candidates", "per_class", per_class, low=1)
    if search.phase_ == "train":
        search.train()
    if search.phase_ == "propose":
        search.propose()
    return write_candidates(search)
