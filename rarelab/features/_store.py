"""A resumable, chunked store of backbone features (or trunk activations) for image files.

One folder per feature extractor (backbone + weights + input size, and for trunk
activations the cut and the augmented view) holds ``float16``
chunks (``chunks/00000001.npy``, read through memory maps) and a SQLite index that maps
each file, keyed by path + size + mtime, to its chunk and row. A chunk is committed in
one transaction after its file is on disk, so extraction can be killed at any moment and
resumes without redoing committed chunks; files added later are extracted alone. Files
that cannot be decoded are recorded with their error and skipped, not fatal.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import DECODER_VERSION, FileKey
from ..utils import atomic_path, cache_dir, check_int, param_error, path_from_sql, path_to_sql, progress_bar
from ._backbones import DEFAULT_INPUT_SIZE, list_backbones
from ._engines import get_engine
from ._extractors import trunk_shape

MISSING, FAILED = -1, -2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, n_rows INTEGER NOT NULL,
                                   committed INTEGER NOT NULL DEFAULT 0, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rows (path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                                 chunk INTEGER NOT NULL, row INTEGER NOT NULL,
                                 PRIMARY KEY (path, size, mtime_ns));
CREATE TABLE IF NOT EXISTS failed (path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                                   error TEXT NOT NULL, PRIMARY KEY (path, size, mtime_ns));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class ExtractionReport:
    """What one :meth:`FeatureStore.extract` call did."""

    n_files: int
    n_cached: int
    n_extracted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error), this call's new failures
    chunks: int = 0
    seconds: float = 0.0
    engine: str = "local"

    @property
    def images_per_second(self) -> float:
        return self.n_extracted / self.seconds if self.seconds else 0.0


class FeatureStore:
    """Features of image files for one extractor, on disk.

    Parameters
    ----------
    root : path, optional
        The store's folder; default ``$RARELAB_CACHE_DIR/feature-store``. Share it (a
        network file system) when several machines extract into it.
    backbone, weights, input_size : the feature extractor (:func:`rarelab.features.get_backbone`).
    tune_blocks : int, optional
        Store the trunk's activations before the backbone's last ``tune_blocks`` blocks
        (:func:`split_backbone`), each flattened from ``shape`` (C, H, W), instead of the
        penultimate features: what adapted features are trained from.
    view : int
        With ``tune_blocks``: 0 for the clean image, ``v > 0`` for an augmented view
        (:func:`augment_view`) drawn from the file's key and ``v`` alone.
    chunk_size : int
        Rows per chunk: the most work a kill can lose.

    Examples
    --------
    >>> store = FeatureStore("features/", backbone="efficientnet_lite0")   # doctest: +SKIP
    >>> keys = [FileKey.of(p) for p in paths]                              # doctest: +SKIP
    >>> store.extract(keys, num_workers=2)                                 # doctest: +SKIP
    >>> x = store.read(*store.lookup(keys))                                # doctest: +SKIP
    """

    def __init__(
        self,
        root=None,
        *,
        backbone: str = "efficientnet_lite0",
        weights: str | None = "DEFAULT",
        input_size: int | None = None,
        tune_blocks: int | None = None,
        view: int = 0,
        chunk_size: int = 2048,
    ):
        if backbone not in list_backbones() or backbone == "small_cnn":
            raise param_error("FeatureStore", "backbone", f"a pretrained backbone of {list_backbones()[:-1]}", backbone)
        self.backbone = backbone
        self.weights = weights
        self.input_size = check_int(
            "FeatureStore", "input_size", input_size or DEFAULT_INPUT_SIZE[backbone], low=16, high=1024
        )
        self.chunk_size = check_int("FeatureStore", "chunk_size", chunk_size, low=1)
        self.tune_blocks = tune_blocks
        self.view = check_int("FeatureStore", "view", view, low=0, high=0 if tune_blocks is None else 64)
        # The decoder is part of what a feature is: a new decoder version extracts again.
        what = ""
        if tune_blocks is not None:
            self.shape = trunk_shape(backbone, self.input_size, tune_blocks)[1]  # checks tune_blocks
            what = f"-trunk-tune{tune_blocks}-view{view}"
        self.key = f"{backbone}-{weights or 'random'}-{self.input_size}px{what}-decode{DECODER_VERSION}"
        self.root = Path(root).expanduser() if root is not None else cache_dir("feature-store")
        self.dir = self.root / self.key
        (self.dir / "chunks").mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.dir / "index.sqlite", isolation_level=None, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._maps: dict[int, np.ndarray] = {}

    def close(self) -> None:
        self._db.close()
        self._maps.clear()

    def __repr__(self) -> str:
        n = self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        f = self._db.execute("SELECT COUNT(*) FROM failed").fetchone()[0]
        return f"FeatureStore({str(self.dir)!r}, rows={n}, failed={f})"

    # -- index -------------------------------------------------------------------------
    def lookup(self, keys: Sequence[FileKey]) -> tuple[np.ndarray, np.ndarray]:
        """``(chunk, row)`` of each key; chunk is ``MISSING`` (-1) or ``FAILED`` (-2) otherwise."""
        chunk = np.full(len(keys), MISSING, dtype=np.int64)
        row = np.full(len(keys), -1, dtype=np.int64)
        if not keys:
            return chunk, row
        pos = {(k.path, k.size, k.mtime_ns): i for i, k in enumerate(keys)}
        # One pass over the index beats a million point queries.
        for p, s, m, c, r in self._db.execute("SELECT path, size, mtime_ns, chunk, row FROM rows"):
            i = pos.get((path_from_sql(p), s, m))
            if i is not None:
                chunk[i], row[i] = c, r
        for p, s, m in self._db.execute("SELECT path, size, mtime_ns FROM failed"):
            i = pos.get((path_from_sql(p), s, m))
            if i is not None and chunk[i] == MISSING:
                chunk[i] = FAILED
        return chunk, row

    def failures(self, keys: Sequence[FileKey] | None = None) -> list[tuple[str, str]]:
        """``(path, error)`` of files that could not be decoded (among ``keys``, if given)."""
        rows = [
            (path_from_sql(p), s, m, e)
            for p, s, m, e in self._db.execute("SELECT path, size, mtime_ns, error FROM failed ORDER BY path")
        ]
        if keys is None:
            return [(p, e) for p, _, _, e in rows]
        wanted = {(k.path, k.size, k.mtime_ns) for k in keys}
        return [(p, e) for p, s, m, e in rows if (p, s, m) in wanted]

    def has_chunks(self, ids) -> bool:
        """Whether every chunk in ``ids`` is committed and on disk."""
        ids = [int(i) for i in ids]
        committed = {r[0] for r in self._db.execute("SELECT id FROM chunks WHERE committed=1")}
        return all(i in committed and (self.dir / "chunks" / f"{i:08d}.npy").exists() for i in ids)

    @property
    def dim(self) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE key='dim'").fetchone()
        return None if row is None else int(row[0])

    # -- reading -----------------------------------------------------------------------
    def _chunk(self, c: int) -> np.ndarray:
        arr = self._maps.get(c)
        if arr is None:
            arr = self._maps[c] = np.load(self.dir / "chunks" / f"{c:08d}.npy", mmap_mode="r")
        return arr

    def read(self, chunk, row) -> np.ndarray:
        """Rows as float32 (n, d), by random access through the chunks' memory maps."""
        chunk, row = np.asarray(chunk, dtype=np.int64), np.asarray(row, dtype=np.int64)
        if len(chunk) and chunk.min() < 0:
            raise param_error(
                "FeatureStore.read",
                "chunk",
                "chunks of stored files only",
                "missing or failed files",
                "Extract them first (FeatureStore.extract) and drop the failed ones.",
            )
        out = np.empty((len(chunk), self.dim or 0), dtype=np.float32)
        for c in np.unique(chunk):
            at = np.flatnonzero(chunk == c)
            out[at] = self._chunk(int(c))[row[at]]
        return out

    def iter_rows(self, chunk, row, *, block: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(positions, float32 rows)`` in blocks of about ``block`` rows, in chunk order,
        so that a pass over a million rows holds one block in memory, never all of them."""
        chunk, row = np.asarray(chunk, dtype=np.int64), np.asarray(row, dtype=np.int64)
        order = np.lexsort((row, chunk))
        bounds = np.flatnonzero(np.diff(chunk[order])) + 1
        groups = np.split(order, bounds) if len(order) else []
        pending, size = [], 0
        for g in groups:
            pending.append(g)
            size += len(g)
            if size >= block:
                yield self._gather(pending, chunk, row)
                pending, size = [], 0
        if pending:
            yield self._gather(pending, chunk, row)

    def _gather(self, groups, chunk, row):
        pos = np.concatenate(groups)
        out = np.empty((len(pos), self.dim or 0), dtype=np.float32)
        at = 0
        for g in groups:
            c = int(chunk[g[0]])
            # A plain read, not the cached memory map: streamed chunks must not stay resident.
            data = np.load(self.dir / "chunks" / f"{c:08d}.npy")
            out[at : at + len(g)] = data[row[g]]
            at += len(g)
        return pos, out

    # -- writing -----------------------------------------------------------------------
    def add(self, keys: Sequence[FileKey], features: np.ndarray, failed: Iterable[tuple[FileKey, str]] = ()) -> int:
        """Commit one chunk: ``features`` (n, d) of ``keys``, plus failed files; returns its id."""
        features = np.asarray(features)
        if features.ndim != 2 or len(features) != len(keys):
            raise param_error(
                "FeatureStore.add", "features", f"an array of shape ({len(keys)}, d)", f"shape {features.shape}"
            )
        dim = self.dim
        if dim is not None and len(keys) and features.shape[1] != dim:
            raise param_error("FeatureStore.add", "features", f"{dim} columns, as stored", features.shape[1])
        failed = list(failed)
        cid = None
        if len(keys):
            # Allocating the id in its own transaction keeps concurrent writers apart.
            cid = self._db.execute(
                "INSERT INTO chunks (n_rows, committed, ts) VALUES (?, 0, ?)", (len(keys), time.time())
            ).lastrowid
            atomic_path(self.dir / "chunks" / f"{cid:08d}.npy", lambda tmp: _save_npy(tmp, features))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if cid is not None:
                self._db.executemany(
                    "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)",
                    [(path_to_sql(k.path), k.size, k.mtime_ns, cid, r) for r, k in enumerate(keys)],
                )
                self._db.execute("UPDATE chunks SET committed=1 WHERE id=?", (cid,))
                if dim is None:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(features.shape[1]),))
            self._db.executemany(
                "INSERT OR REPLACE INTO failed VALUES (?, ?, ?, ?)",
                [(path_to_sql(k.path), k.size, k.mtime_ns, err) for k, err in failed],
            )
        return -1 if cid is None else cid

    def extract(
        self,
        keys: Sequence[FileKey],
        *,
        engine: str = "local",
        num_workers: int | None = None,
        batch_size: int = 64,
        device=None,
        ray_address: str | None = None,
        progress: bool = True,
    ) -> ExtractionReport:
        """Compute and store the features of every key not stored yet (failed files are not retried).

        Parameters
        ----------
        engine : {"local", "ray"}
            ``local``: a multi-worker DataLoader decodes, this process embeds. ``ray``: Ray
            Data decodes and embeds on every node of a cluster (``pip install 'rarelab[ray]'``);
            this process writes the chunks.
        num_workers : int, optional
            Decoding processes (local) or embedding actors (ray); default: the CPU count, at most 8.
        ray_address : str, optional
            ``ray.init(address=...)``: ``"auto"`` or ``"ray://head:10001"`` joins a cluster;
            default starts a local Ray instance.
        """
        batches_of = get_engine(engine)
        if num_workers is None:
            num_workers = min(8, os.cpu_count() or 1)
        num_workers = check_int("FeatureStore.extract", "num_workers", num_workers, low=0)
        chunk, _ = self.lookup(keys)
        todo = np.flatnonzero(chunk == MISSING)
        report = ExtractionReport(n_files=len(keys), n_cached=int(np.sum(chunk >= 0)), engine=engine)
        if not len(todo):
            return report
        pending = [keys[i] for i in todo]
        t0 = time.perf_counter()
        batches = batches_of(
            pending,
            backbone=self.backbone,
            weights=self.weights,
            input_size=self.input_size,
            num_workers=num_workers,
            batch_size=batch_size,
            device=device,
            address=ray_address,
            **({} if self.tune_blocks is None else {"tune_blocks": self.tune_blocks, "view": self.view}),
        )
        what = "features" if self.tune_blocks is None else "trunk activations"
        view = f", view {self.view}" if self.view else ""
        bar = progress_bar(
            total=len(pending),
            desc=f"{what} ({self.backbone}, {self.input_size} px{view}; {engine})",
            unit="img",
            disable=not progress,
        )
        buf_pos, buf_feat, buf_fail = [], [], []
        n_buf = 0
        try:
            for pos, feats, failed in batches:
                buf_pos.append(pos)
                buf_feat.append(feats)
                buf_fail += failed
                n_buf += len(pos)
                report.failed += [(pending[i].path, err) for i, err in failed]
                report.n_extracted += len(pos)
                bar.update(len(pos) + len(failed))
                bar.set_postfix(failed=len(report.failed), refresh=False)
                if n_buf >= self.chunk_size:
                    self._commit(pending, buf_pos, buf_feat, buf_fail)
                    report.chunks += 1
                    buf_pos, buf_feat, buf_fail, n_buf = [], [], [], 0
            if n_buf or buf_fail:
                self._commit(pending, buf_pos, buf_feat, buf_fail)
                report.chunks += int(n_buf > 0)
        finally:
            bar.close()
        report.seconds = time.perf_counter() - t0
        return report

    def _commit(self, pending, buf_pos, buf_feat, buf_fail):
        pos = np.concatenate(buf_pos) if buf_pos else np.empty(0, np.int64)
        feats = np.concatenate(buf_feat) if buf_feat else np.empty((0, self.dim or 0), np.float32)
        self.add([pending[i] for i in pos], feats, [(pending[i], err) for i, err in buf_fail])


def _save_npy(path, features: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, features.astype(np.float16))


class StoreFeatures:
    """The features of a fixed list of items, resolved once against a :class:`FeatureStore`.

    What learners read: ``take(ids)`` for a training set, ``iter_blocks(ids)`` to stream a
    whole pool without holding its n x d matrix.
    """

    def __init__(self, store: FeatureStore, chunk: np.ndarray, row: np.ndarray):
        self.store = store
        self.chunk = np.asarray(chunk, dtype=np.int64)
        self.row = np.asarray(row, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.chunk), self.store.dim or 0)

    def take(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        return self.store.read(self.chunk[ids], self.row[ids])

    def iter_blocks(self, ids, block: int = 65536):
        ids = np.asarray(ids, dtype=np.int64)
        yield from self.store.iter_rows(self.chunk[ids], self.row[ids], block=block)


class ArrayFeatures:
    """The same interface over an in-memory feature matrix (simulations on array datasets)."""

    def __init__(self, features: np.ndarray):
        self.features = features

    @property
    def shape(self) -> tuple[int, int]:
        return self.features.shape

    def take(self, ids) -> np.ndarray:
        return self.features[np.asarray(ids, dtype=np.int64)]

    def iter_blocks(self, ids, block: int = 65536):
        ids = np.asarray(ids, dtype=np.int64)
        for start in range(0, len(ids), block):
            pos = np.arange(start, min(start + block, len(ids)))
            yield pos, self.features[ids[pos]]
