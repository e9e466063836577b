"""What a person reads and writes: ``candidates.csv``/``.html`` and an answers CSV."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np

from ..data import PathIndex, class_hint, class_key, find_class, read_table
from ..exceptions import DataUnavailableError, InvalidParameterError, PhaseError
from ..loop import NOT_RARE, ActiveLoop, rank_for_class
from ..utils import check_int, printable_path, write_atomic
from ._config import NOT_LABELS
from ._page import labeling_page


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
                    "path": printable_path(paths[i]) if paths else "",
                    "rare_class": names[c],
                    "score": float(cand.score[k]),
                    "probability": float(search.candidate_proba_[k, col]),
                }
            )
    return rows


def write_candidates(search: ActiveLoop, run_dir=None, *, thumb: int = 96) -> tuple[Path, Path]:
    """Write ``candidates.csv`` and ``candidates.html``, the page to label the current candidates
    on (:func:`~rarelab.search._page.labeling_page`)."""
    run_dir = Path(run_dir or search.run_dir)
    rows = candidate_rows(search)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["item_id", "path", "rare_class", "score", "probability"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "score": f"{r['score']:.6g}", "probability": f"{r['probability']:.6g}"})
    csv_path = write_atomic(run_dir / "candidates.csv", buf.getvalue())
    images = search.dataset.load_images([r["item_id"] for r in rows], thumb) if rows else []
    names = search.dataset.classes
    page = labeling_page(
        rows,
        list(images),
        rare_names=[names[c] for c in search.rare_classes],
        class_names=list(names),
        run_dir=run_dir,
        round_=search.round_,
        thumb=thumb,
    )
    html_path = write_atomic(run_dir / "candidates.html", page)
    return csv_path, html_path


def parse_label_csv(search: ActiveLoop, path) -> tuple[np.ndarray, np.ndarray]:
    """Read a person's answers (``path`` or ``item_id``, and ``label``): every row is checked
    before any is stored, so a bad file changes nothing.

    The file is read by :func:`~rarelab.data.read_table` (spreadsheet CSVs: byte-order mark,
    ``,``/``;``/tab, any line ends, header names in any case). A ``path`` is the file itself
    (relative paths are read from the CSV's folder) or, failing that, the end of exactly one
    file's path: its bare name as ``candidates.html`` shows it, or ``batch2/x.png``. A
    ``label`` is a class name by :func:`~rarelab.data.find_class`'s rule, or one of
    :data:`NOT_LABELS` (``not``, ``no``, ``not rare``, ``-1``; any case) for an item of no
    rare class; an exact class name wins.

    Rows with an empty label (candidates not reviewed yet) are skipped with a warning that
    counts them. An item named twice with the same label counts once; named twice with different labels
    it is an error that names the file and both lines. Items whose label was committed
    already are allowed: storing the answer corrects them (see ``ActiveLoop.correct``).
    """
    try:
        table = read_table(path, required=(("path", "item_id"), "label"), owner="search label")
    except OSError as exc:
        raise DataUnavailableError(f"Cannot read the labels file {str(path)!r}: {exc}") from exc
    paths = getattr(search.dataset, "paths", None) or []
    index = PathIndex(paths)
    classes = list(search.dataset.classes)
    ids, labels, errors, lines, unanswered = [], [], [], [], []
    name = (
        (lambda i: repr(printable_path(paths[i])) if 0 <= i < len(paths) else f"item {i}")
        if paths
        else (lambda i: f"item {i}")
    )
    for n, r in zip(table.lines, table.rows):
        if not r["label"].strip():  # a row of candidates.csv not reviewed yet
            unanswered.append(n)
            continue
        item = None
        if r.get("item_id", "").strip():
            try:
                item = _item_id(r["item_id"])
            except ValueError:
                errors.append(f"line {n}: item_id {r['item_id']!r} is not an int")
                continue
            if r.get("path", "").strip():  # both given (rows re-sorted by hand?): they must agree
                try:
                    named = index.find(r["path"], base=table.path.parent)
                except LookupError:
                    named = item  # a path from another machine: the item_id decides
                if named != item:
                    errors.append(
                        f"line {n}: item_id {item} and path {r['path'].strip()!r} name different files "
                        f"({name(item)} and {name(named)})"
                    )
                    continue
        elif r.get("path", "").strip():
            try:
                item = index.find(r["path"], base=table.path.parent)
            except LookupError as exc:
                errors.append(f"line {n}: {exc}")
                continue
        else:
            errors.append(f"line {n}: neither path nor item_id")
            continue
        label = _answer_label(r["label"], classes)
        if isinstance(label, str):
            errors.append(f"line {n}: {label}")
            continue
        ids.append(item)
        labels.append(label)
        lines.append(n)
    pool = set(np.asarray(search.split.pool).tolist())
    unreadable = getattr(search, "unreadable_", {})
    errors += [
        f"line {n}: {name(i)} "
        + ("cannot be decoded (see failed_files.csv)" if i in unreadable else "is not a pool file of this search")
        for i, n in zip(ids, lines)
        if i not in pool
    ]
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
            f"{str(table.path)!r} has {len(errors)} bad row{'s' * (len(errors) != 1)}; nothing was stored. "
            + "; ".join(errors[:5])
        )
    if unanswered:
        warnings.warn(
            f"{str(table.path)!r}: {len(unanswered)} rows have no label and were skipped (lines "
            f"{', '.join(map(str, unanswered[:5]))}{' ...' if len(unanswered) > 5 else ''}).",
            UserWarning,
            stacklevel=2,
        )
    return np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def _item_id(text: str) -> int:
    """An item id as a spreadsheet may write it: ``12``, `` 12 `` or ``12.0``."""
    value = float(text) if "." in text else int(text)
    if value != int(value):
        raise ValueError(text)
    return int(value)


def _answer_label(text: str, classes: list[str]) -> int | str:
    """The class id (or ``NOT_RARE``) an answer names, or why it names none."""
    if text in classes:  # exact first: a folder called 00014, or a class called "no"
        return classes.index(text)
    if class_key(text) in {class_key(w) for w in NOT_LABELS}:
        return NOT_RARE
    i = find_class(text, classes)
    if i is not None:
        return i
    if not text.strip():
        return "the label is empty (a class name, or 'not' for an item of no rare class)"
    return f"label {text.strip()!r} is not a class, nor 'not'. {class_hint(text, classes)}"


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
        fit = max(1, len(search.pool_ids_) // len(search.rare_classes))
        search.per_class = check_int(
            "propose_candidates", "per_class", per_class, low=1, high=fit, hint=f"Pass --per-class {fit} or fewer."
        )
    if search.phase_ == "train":
        search.train()
    if search.phase_ == "propose":
        search.propose()
    return write_candidates(search)
