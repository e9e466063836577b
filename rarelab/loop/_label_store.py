"""The run's SQLite store: every label is committed the moment it is given.

A person's labels are work that must survive a kernel restart or a crash, so each
``add`` is its own transaction (WAL journal, ``synchronous=FULL``). The store also keeps
the split, the candidates of each round, the loop's phase and the per-round metrics, so
reopening a run resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np

from ..utils import param_error

NOT_RARE = -1  # "reviewed, belongs to no rare class, exact class unknown": leaves the pool, not trained on

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS split (item_id INTEGER PRIMARY KEY, part TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    item_id INTEGER PRIMARY KEY, label INTEGER NOT NULL, round INTEGER NOT NULL,
    source TEXT NOT NULL, ts REAL NOT NULL, committed INTEGER NOT NULL DEFAULT 0, path TEXT);
CREATE TABLE IF NOT EXISTS candidates (
    round INTEGER NOT NULL, rank INTEGER NOT NULL, item_id INTEGER NOT NULL, target INTEGER NOT NULL,
    score REAL NOT NULL, proba TEXT NOT NULL, PRIMARY KEY (round, rank));
CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, record TEXT NOT NULL);
"""


class LabelStore:
    """SQLite file holding labels, split, candidates, phase and metrics of one run.

    Parameters
    ----------
    path : str or Path
        The database file (``<run dir>/labels.sqlite``); created if missing.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(labels)")}
        if "path" not in columns:  # stores written before labels carried their file
            self._db.execute("ALTER TABLE labels ADD COLUMN path TEXT")

    def close(self) -> None:
        self._db.close()

    # -- key/value state ---------------------------------------------------------------
    def get(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- split -------------------------------------------------------------------------
    def save_split(self, split) -> None:
        rows = [(int(i), part) for part in ("train", "val", "pool") for i in getattr(split, part)]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO split VALUES (?, ?)", rows)

    def extend_pool(self, item_ids) -> None:
        """Add new pool items (files that appeared in the pool's folder) in one transaction."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO split VALUES (?, 'pool')", [(int(i),) for i in item_ids])

    def load_split_ids(self) -> dict[str, np.ndarray] | None:
        rows = self._db.execute("SELECT item_id, part FROM split ORDER BY item_id").fetchall()
        if not rows:
            return None
        out = {p: [] for p in ("train", "val", "pool")}
        for i, p in rows:
            out[p].append(i)
        return {p: np.array(v, dtype=np.int64) for p, v in out.items()}

    # -- labels ------------------------------------------------------------------------
    def add(self, item_ids, labels, *, round: int, source: str, paths=None) -> None:
        """Record labels now (one transaction). Relabeling an uncommitted item replaces it.

        ``paths`` (one per item, for file pools) are stored beside the labels, so the
        labels still name their images if the item table is ever lost.
        """
        if source not in ("oracle", "person"):
            raise param_error("LabelStore.add", "source", "'oracle' or 'person'", source)
        now = time.time()
        paths = [None] * len(item_ids) if paths is None else list(paths)
        rows = [(int(i), int(y), int(round), source, now, p) for i, y, p in zip(item_ids, labels, paths)]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            committed = (
                self._db.execute(
                    f"SELECT item_id FROM labels WHERE committed=1 AND item_id IN ({','.join('?' * len(rows))})",
                    [r[0] for r in rows],
                ).fetchall()
                if rows
                else []
            )
            if committed:
                raise param_error(
                    "LabelStore.add",
                    "item_ids",
                    "items not yet committed to training",
                    [c[0] for c in committed][:5],
                    "Committed labels are final.",
                )
            self._db.executemany(
                "INSERT OR REPLACE INTO labels (item_id, label, round, source, ts, path) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def remove(self, item_ids) -> None:
        """Withdraw uncommitted labels (an undo in the gallery)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM labels WHERE item_id=? AND committed=0", [(int(i),) for i in item_ids])

    def labels(self, *, committed: bool | None = None, round: int | None = None) -> dict[int, int]:
        q, args = "SELECT item_id, label FROM labels WHERE 1=1", []
        if committed is not None:
            q += " AND committed=?"
            args.append(int(committed))
        if round is not None:
            q += " AND round=?"
            args.append(round)
        return dict(self._db.execute(q + " ORDER BY item_id", args).fetchall())

    def committed_among(self, item_ids) -> np.ndarray:
        """Which of ``item_ids`` have a committed label (one indexed query, however big the pool)."""
        ids = [int(i) for i in item_ids]
        found = []
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            part = ids[start : start + 900]
            found += [
                r[0]
                for r in self._db.execute(
                    f"SELECT item_id FROM labels WHERE committed=1 AND item_id IN ({','.join('?' * len(part))})", part
                )
            ]
        return np.array(sorted(found), dtype=np.int64)

    def label_rows(self) -> list[tuple]:
        """Every label as (item_id, label, round, source, timestamp, committed, path)."""
        return self._db.execute(
            "SELECT item_id, label, round, source, ts, committed, path FROM labels ORDER BY round, ts, item_id"
        ).fetchall()

    def commit_round(self, round: int, record: dict, next_state: dict) -> list[int]:
        """Mark this round's labels committed, save its record and the next phase, atomically."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            ids = [
                r[0]
                for r in self._db.execute("SELECT item_id FROM labels WHERE committed=0 ORDER BY item_id").fetchall()
            ]
            self._db.execute("UPDATE labels SET committed=1 WHERE committed=0")
            self._db.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?)", (round, json.dumps(record)))
            for k, v in next_state.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))
        return ids

    # -- candidates and rounds ---------------------------------------------------------
    def save_candidates(self, round: int, ids, target, score, proba_rows, state: dict) -> None:
        rows = [
            (round, k, int(i), int(t), float(s), json.dumps([float(p) for p in pr]))
            for k, (i, t, s, pr) in enumerate(zip(ids, target, score, proba_rows))
        ]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM candidates WHERE round=?", (round,))
            self._db.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?)", rows)
            for k, v in state.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))

    def candidate_targets(self) -> dict[int, int]:
        """The rare class each proposed item was proposed for (its latest proposal; -1: class-agnostic)."""
        return dict(self._db.execute("SELECT item_id, target FROM candidates ORDER BY round").fetchall())

    def candidates(self, round: int):
        rows = self._db.execute(
            "SELECT item_id, target, score, proba FROM candidates WHERE round=? ORDER BY rank", (round,)
        ).fetchall()
        return rows

    def save_round(self, round: int, record: dict, state: dict | None = None) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?)", (round, json.dumps(record)))
            for k, v in (state or {}).items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))

    def rounds(self) -> list[dict]:
        return [json.loads(r[0]) for r in self._db.execute("SELECT record FROM rounds ORDER BY round").fetchall()]
