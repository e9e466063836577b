"""Per-round measures of the search (the paper's Fig. 4) and their CSV form."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from sklearn.metrics import f1_score

METRIC_COLUMNS = [
    "strategy",
    "seed",
    "round",
    "labels_used",
    "n_rare",
    "f1_rare",
    "hits",
    "precision",
    "n_candidates",
    "train_size",
    "hits_per_class",
]


def rare_f1(y_true, y_pred, rare_classes) -> float:
    """Macro F1 over the rare classes only (Sec. III-D)."""
    return float(f1_score(y_true, y_pred, labels=list(rare_classes), average="macro", zero_division=0))


def n_rare(train_labels, rare_classes) -> float:
    """Mean number of training samples per rare class (N_rare, Fig. 4a)."""
    labels = np.asarray(train_labels)
    return float(np.mean([np.sum(labels == c) for c in rare_classes]))


def metrics_csv(records: list[dict], *, strategy: str, seed) -> str:
    """Round records as CSV text with :data:`METRIC_COLUMNS`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in records:
        row = {**r, "strategy": strategy, "seed": seed, "hits_per_class": json.dumps(r.get("hits_per_class", {}))}
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def read_metrics(path) -> list[dict]:
    """Read a ``metrics.csv`` back as dicts with numbers parsed."""
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            for k in ("round", "labels_used", "hits", "n_candidates", "train_size"):
                r[k] = int(r[k]) if r.get(k, "") != "" else None
            for k in ("n_rare", "f1_rare", "precision"):
                r[k] = float(r[k]) if r.get(k, "") != "" else None
            rows.append(r)
    return rows
