"""The run's SQLite store: the one source of truth of a search or simulation.

A person's labels are work that must survive a kernel restart or a crash, so each
``add`` is its own transaction (WAL journal, ``synchronous=FULL``). The store also keeps
the split, the candidates of each round, the loop's phase and the per-round metrics, so
reopening a run resumes exactly where it stopped.

Every write increments the store's *revision*. A writer passes the revision it last read
(``expect_revision``); a write based on an older revision is refused with
:class:`~rarelab.exceptions.StaleStateError`, so two views or processes on one run never
overwrite each other's work unseen. Every label change (given, withdrawn, corrected) is
kept in ``label_history`` with its old and new label, source and time.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

import numpy as np

from ..exceptions import StaleStateError
from ..utils import param_error, path_from_sql, path_to_sql

NOT_RARE = -1  # "reviewed, belongs to no rare class, exact class unknown": leaves the pool, not trained on
SOURCES = ("oracle", "person")

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
CREATE TABLE IF NOT EXISTS label_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id INTEGER NOT NULL, action TEXT NOT NULL,
    old_label INTEGER, new_label INTEGER, round INTEGER NOT NULL, source TEXT NOT NULL, ts REAL NOT NULL);
"""


class LabelStore:
    """SQLite file holding labels, split, candidates, phase and metrics of one run.

    Parameters
    ----------
    path : str or Path
        The database file (``<run dir>/labels.sqlite``); created if missing.

    Attributes
    ----------
    last_revision : int
        The revision this object's last write produced (or read at opening).
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
        self.last_revision = self.revision()

    def close(self) -> None:
        self._db.close()

    # -- revisions ---------------------------------------------------------------------
    def revision(self) -> int:
        """How many writes the run has seen; every write by any process increments it."""
        return self.get("revision", 0)

    @contextlib.contextmanager
    def _write(self, expect_revision: int | None = None):
        """One write transaction: refused when the store moved past ``expect_revision``."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # the revision is read and bumped under the write lock
            rev = self.revision()
            if expect_revision is not None and rev != expect_revision:
                raise StaleStateError(
                    f"{str(self.path)!r} changed since this object last read it (revision {expect_revision}, "
                    f"now {rev}): another view or process wrote to the run. Call refresh() to catch up, then repeat "
                    "(a `rarelab` command: run it again)."
                )
            yield
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (json.dumps(rev + 1),))
        self.last_revision = rev + 1

    # -- key/value state ---------------------------------------------------------------
    def get(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value, *, expect_revision: int | None = None) -> None:
        with self._write(expect_revision):
            self._put(key, value)

    def _put(self, key: str, value) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- split -------------------------------------------------------------------------
    def save_split(self, split, rare_classes) -> None:
        """Record a new run's split and rare classes (one transaction)."""
        rows = [(int(i), part) for part in ("train", "val", "pool") for i in getattr(split, part)]
        with self._write():
            self._db.executemany("INSERT INTO split VALUES (?, ?)", rows)
            self._put("rare_classes", [int(c) for c in rare_classes])

    def extend_pool(self, item_ids) -> None:
        """Add new pool items (files that appeared in the pool's folder) in one transaction."""
        with self._write():
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
    def _current(self, ids: list[int]) -> dict[int, tuple[int, int]]:
        """``{item: (label, committed)}`` of the labeled items among ``ids``."""
        out = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            part = ids[start : start + 900]
            q = f"SELECT item_id, label, committed FROM labels WHERE item_id IN ({','.join('?' * len(part))})"
            out.update({i: (y, c) for i, y, c in self._db.execute(q, part)})
        return out

    def _history(self, rows) -> None:
        self._db.executemany(
            "INSERT INTO label_history (item_id, action, old_label, new_label, round, source, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def add(self, item_ids, labels, *, round: int, source: str, paths=None, expect_revision=None) -> None:
        """Record labels now (one transaction). Relabeling an uncommitted item replaces it.

        ``paths`` (one per item, for file pools) are stored beside the labels, so the
        labels still name their images if the item table is ever lost. Committed labels
        are changed with :meth:`correct`.
        """
        if source not in SOURCES:
            raise param_error("LabelStore.add", "source", "'oracle' or 'person'", source)
        now = time.time()
        paths = [None] * len(item_ids) if paths is None else list(paths)
        rows = [
            (int(i), int(y), int(round), source, now, None if p is None else path_to_sql(p))
            for i, y, p in zip(item_ids, labels, paths)
        ]
        with self._write(expect_revision):
            current = self._current([r[0] for r in rows])
            committed = [i for i, (_, c) in current.items() if c]
            if committed:
                raise param_error(
                    "LabelStore.add",
                    "item_ids",
                    "items not yet committed to training",
                    sorted(committed)[:5],
                    "Change a committed label with correct().",
                )
            self._db.executemany(
                "INSERT OR REPLACE INTO labels (item_id, label, round, source, ts, path) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._history([(i, "label", current.get(i, (None,))[0], y, r, s, now) for i, y, r, s, _, _ in rows])

    def remove(self, item_ids, *, round: int = -1, source: str = "person", expect_revision=None) -> None:
        """Withdraw uncommitted labels (an undo in the gallery)."""
        ids = [int(i) for i in item_ids]
        now = time.time()
        with self._write(expect_revision):
            current = {i: y for i, (y, c) in self._current(ids).items() if not c}
            self._db.executemany("DELETE FROM labels WHERE item_id=? AND committed=0", [(i,) for i in current])
            self._history([(i, "unlabel", y, None, round, source, now) for i, y in current.items()])

    def correct(self, item_ids, labels, *, round: int, source: str = "person", expect_revision=None) -> None:
        """Change committed labels (one transaction); the old label stays in the history.

        A corrected label counts from the next training on; the records of past rounds
        keep the hits they had when they were committed.
        """
        if source not in SOURCES:
            raise param_error("LabelStore.correct", "source", "'oracle' or 'person'", source)
        ids, labels = [int(i) for i in item_ids], [int(y) for y in labels]
        now = time.time()
        with self._write(expect_revision):
            current = self._current(ids)
            missing = [i for i in ids if not current.get(i, (None, 0))[1]]
            if missing:
                raise param_error(
                    "LabelStore.correct", "item_ids", "items with a committed label", missing[:5], "Use add()."
                )
            self._db.executemany(
                "UPDATE labels SET label=?, source=?, ts=? WHERE item_id=?",
                [(y, source, now, i) for i, y in zip(ids, labels)],
            )
            self._history([(i, "correct", current[i][0], y, round, source, now) for i, y in zip(ids, labels)])

    def history(self, item_id: int | None = None) -> list[dict]:
        """Every label change, oldest first: ``item_id``, ``action`` (label, unlabel,
        correct), ``old_label``, ``new_label`` (``None`` for none), ``round``, ``source``, ``ts``."""
        q, args = "SELECT item_id, action, old_label, new_label, round, source, ts FROM label_history", []
        if item_id is not None:
            q, args = q + " WHERE item_id=?", [int(item_id)]
        keys = ("item_id", "action", "old_label", "new_label", "round", "source", "ts")
        return [dict(zip(keys, r)) for r in self._db.execute(q + " ORDER BY seq", args)]

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
        current = self._current([int(i) for i in item_ids])
        return np.array(sorted(i for i, (_, c) in current.items() if c), dtype=np.int64)

    def label_rows(self) -> list[tuple]:
        """Every label as (item_id, label, round, source, timestamp, committed, path)."""
        rows = self._db.execute(
            "SELECT item_id, label, round, source, ts, committed, path FROM labels ORDER BY round, ts, item_id"
        ).fetchall()
        return [(*r[:6], None if r[6] is None else path_from_sql(r[6])) for r in rows]

    @staticmethod
    def holds_labels(path) -> bool:
        """Whether the store file at ``path`` exists and holds at least one label (nothing is written)."""
        path = Path(path)
        if not path.is_file():
            return False
        db = sqlite3.connect(path)
        try:
            return db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] > 0
        except sqlite3.OperationalError:  # no labels table: not a label store with labels
            return False
        finally:
            db.close()

    def commit_round(self, round: int, record: dict, next_state: dict, *, expect_revision=None) -> list[int]:
        """Mark this round's labels committed, save its record and the next phase, atomically."""
        with self._write(expect_revision):
            ids = [
                r[0]
                for r in self._db.execute("SELECT item_id FROM labels WHERE committed=0 ORDER BY item_id").fetchall()
            ]
            self._db.execute("UPDATE labels SET committed=1 WHERE committed=0")
            self._db.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?)", (round, json.dumps(record)))
            for k, v in next_state.items():
                self._put(k, v)
        return ids

    # -- candidates and rounds ---------------------------------------------------------
    def save_candidates(self, round: int, ids, target, score, proba_rows, state: dict, *, expect_revision=None):
        rows = [
            (round, k, int(i), int(t), float(s), json.dumps([float(p) for p in pr]))
            for k, (i, t, s, pr) in enumerate(zip(ids, target, score, proba_rows))
        ]
        with self._write(expect_revision):
            self._db.execute("DELETE FROM candidates WHERE round=?", (round,))
            self._db.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?)", rows)
            for k, v in state.items():
                self._put(k, v)

    def candidate_targets(self) -> dict[int, int]:
        """The rare class each proposed item was proposed for (its latest proposal; -1: class-agnostic)."""
        return dict(self._db.execute("SELECT item_id, target FROM candidates ORDER BY round").fetchall())

    def candidates(self, round: int):
        rows = self._db.execute(
            "SELECT item_id, target, score, proba FROM candidates WHERE round=? ORDER BY rank", (round,)
        ).fetchall()
        return rows

    def save_round(self, round: int, record: dict, state: dict | None = None, *, expect_revision=None) -> None:
        with self._write(expect_revision):
            self._db.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?)", (round, json.dumps(record)))
            for k, v in (state or {}).items():
                self._put(k, v)

    def rounds(self) -> list[dict]:
        return [json.loads(r[0]) for r in self._db.execute("SELECT record FROM rounds ORDER BY round").fetchall()]
