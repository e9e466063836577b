"""``items.sqlite``: every file of a search, its part and its known label (or none)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from ..data import FileKey
from ..utils import path_from_sql, path_to_sql


class ItemTable:
    """``items.sqlite``: every file of the search, its part and its known label (or none).

    Besides the items it keeps what a person needs to see about the others: ``skipped``
    files (listed in a source but not images rarelab reads, with the reason) and
    ``undecodable`` items (found by the decode check of learners that do not extract
    features up front). Paths are stored losslessly (:func:`rarelab.utils.path_to_sql`).
    """

    PARTS = ("seed", "val", "pool")

    def __init__(self, path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS items (item_id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, part TEXT NOT NULL, label INTEGER);
            CREATE TABLE IF NOT EXISTS classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS undecodable (item_id INTEGER PRIMARY KEY, error TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS checked (item_id INTEGER PRIMARY KEY);""")

    def close(self) -> None:
        self._db.close()

    def classes(self) -> list[str]:
        return [path_from_sql(r[0]) for r in self._db.execute("SELECT name FROM classes ORDER BY id")]

    def write(self, classes, keys, parts, labels, skipped=()) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("items", "classes", "skipped", "undecodable", "checked"):
                self._db.execute(f"DELETE FROM {table}")
            # class names are folder names: kept as exactly as file names
            self._db.executemany(
                "INSERT INTO classes VALUES (?, ?)", [(i, path_to_sql(c)) for i, c in enumerate(classes)]
            )
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (i, path_to_sql(k.path), k.size, k.mtime_ns, p, y)
                    for i, (k, p, y) in enumerate(zip(keys, parts, labels))
                ],
            )
            self._add_skipped(skipped)

    def append_pool(self, keys, skipped=()) -> np.ndarray:
        """Add new pool files (and newly skipped ones); returns the new item ids."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            start = self._db.execute("SELECT COALESCE(MAX(item_id) + 1, 0) FROM items").fetchone()[0]
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, 'pool', NULL)",
                [(start + j, path_to_sql(k.path), k.size, k.mtime_ns) for j, k in enumerate(keys)],
            )
            self._add_skipped(skipped)
        return np.arange(start, start + len(keys), dtype=np.int64)

    def _add_skipped(self, skipped) -> None:
        self._db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?)", [(path_to_sql(p), r) for p, r in skipped])

    def skipped(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of the listed files that are not items."""
        return [(path_from_sql(p), r) for p, r in self._db.execute("SELECT path, reason FROM skipped")]

    def unchecked(self) -> np.ndarray:
        """Ids of items whose decode check has not run yet."""
        rows = self._db.execute("SELECT item_id FROM items WHERE item_id NOT IN (SELECT item_id FROM checked)")
        return np.array([r[0] for r in rows], dtype=np.int64)

    def record_checks(self, ids, failures: dict[int, str]) -> None:
        """Store one batch of decode checks: ``ids`` were tried, ``failures`` maps id to reason."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO undecodable VALUES (?, ?)", list(failures.items()))
            self._db.executemany("INSERT OR IGNORE INTO checked VALUES (?)", [(int(i),) for i in ids])

    def undecodable(self) -> dict[int, str]:
        return dict(self._db.execute("SELECT item_id, error FROM undecodable"))

    def read(self):
        rows = self._db.execute("SELECT path, size, mtime_ns, part, label FROM items ORDER BY item_id").fetchall()
        keys = [FileKey(path_from_sql(p), s, m) for p, s, m, _, _ in rows]
        parts = np.array([r[3] for r in rows], dtype=object)
        labels = np.array([-1 if r[4] is None else r[4] for r in rows], dtype=np.int64)
        return keys, parts, labels
