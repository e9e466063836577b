"""``items.sqlite``: every file of a search, its part and its known label (or none)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from ..data import (
    FileKey,
)


class ItemTable:
    """``items.sqlite``: every file of the search, its part and its known label (or none)."""

    PARTS = ("seed", "val", "pool")

    def __init__(self, path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS items (item_id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, part TEXT NOT NULL, label INTEGER);
            CREATE TABLE IF NOT EXISTS classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL);""")

    def close(self) -> None:
        self._db.close()

    def classes(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM classes ORDER BY id")]

    def write(self, classes, keys, parts, labels) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM items")
            self._db.execute("DELETE FROM classes")
            self._db.executemany("INSERT INTO classes VALUES (?, ?)", list(enumerate(classes)))
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
                [(i, k.path, k.size, k.mtime_ns, p, y) for i, (k, p, y) in enumerate(zip(keys, parts, labels))],
            )

    def append_pool(self, keys) -> np.ndarray:
        """Add new pool files; returns their item ids."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            start = self._db.execute("SELECT COALESCE(MAX(item_id) + 1, 0) FROM items").fetchone()[0]
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, 'pool', NULL)",
                [(start + j, k.path, k.size, k.mtime_ns) for j, k in enumerate(keys)],
            )
        return np.arange(start, start + len(keys), dtype=np.int64)

    def read(self):
        rows = self._db.execute("SELECT path, size, mtime_ns, part, label FROM items ORDER BY item_id").fetchall()
        keys = [FileKey(p, s, m) for p, s, m, _, _ in rows]
        parts = np.array([r[3] for r in rows], dtype=object)
        labels = np.array([-1 if r[4] is None else r[4] for r in rows], dtype=np.int64)
        return keys, parts, labels
