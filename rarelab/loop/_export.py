"""Every label of a run as CSV, with its file where the pool is files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..utils import printable_path, write_atomic
from ._label_store import NOT_RARE, LabelStore


def export_labels(store: LabelStore, classes, path) -> Path:
    """Write every label in ``store`` to ``path`` (atomically).

    Columns: ``item_id``, ``path`` (empty for in-memory datasets), ``label`` (class id, -1
    for not rare), ``class_name``, ``round``, ``source`` (``person`` or ``oracle``),
    ``timestamp`` (Unix seconds) and ``committed`` (0/1).
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item_id", "path", "label", "class_name", "round", "source", "timestamp", "committed"])
    for item, label, rnd, source, ts, committed, file in store.label_rows():
        name = "not rare" if label == NOT_RARE else classes[label]
        w.writerow([item, printable_path(file) if file else "", label, name, rnd, source, f"{ts:.3f}", committed])
    path = Path(path)
    write_atomic(path, buf.getvalue())
    return path
