"""Where a learner's frozen features come from: one entry point for arrays and files.

Datasets carry data only; how their features are computed and stored is decided here. An
in-memory dataset's features are computed once and cached as one array
(:func:`cached_features`); a dataset of files is embedded into a :class:`FeatureStore`,
extracted by the engine :class:`FileFeatures` names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import FileDataset
from ..utils import check_int, param_error, save_npz_atomic
from ._embed import cached_features
from ._engines import list_engines
from ._store import MISSING, ArrayFeatures, FeatureStore, StoreFeatures


class FileFeatures:
    """How the features of image files are extracted, and where they are kept.

    Parameters
    ----------
    store : path, optional
        The feature store's folder (default: ``$RARELAB_CACHE_DIR/feature-store``); on a
        cluster, a folder the calling process can reach.
    engine : {"local", "ray"}
        ``local``: DataLoader workers in this process; ``ray``: Ray Data actors over a
        cluster (see :meth:`FeatureStore.extract`).
    num_workers : int, optional
        Decoding workers or Ray actors (default: the CPUs, at most 8).
    ray_address : str, optional
        A Ray cluster to join (``"auto"``, ``"ray://HEAD:10001"``); a local instance otherwise.
    index_dir : path, optional
        A folder (the run directory) where each file's store position is cached, so
        reopening a million-item search does not rescan the store's index.
    """

    def __init__(self, *, store=None, engine: str = "local", num_workers=None, ray_address=None, index_dir=None):
        if engine not in list_engines():
            raise param_error("FileFeatures", "engine", f"one of {list_engines()}", engine)
        if num_workers is not None:
            check_int("FileFeatures", "num_workers", num_workers, low=0)
        self.store = store
        self.engine = engine
        self.num_workers = num_workers
        self.ray_address = ray_address
        self.index_dir = None if index_dir is None else Path(index_dir)
        self._sources: dict = {}

    def source(
        self,
        dataset: FileDataset,
        *,
        backbone: str,
        input_size=None,
        tune_blocks: int | None = None,
        view: int = 0,
        ids=None,
        device=None,
        progress: bool = True,
    ) -> StoreFeatures:
        """Rows of every file of ``dataset`` from the store; missing files are extracted first.

        ``tune_blocks`` and ``view`` choose trunk activations (see :class:`FeatureStore`).
        With ``ids``, only those items are extracted (augmented views of a training set);
        the others may be ``MISSING`` in the source. Files that cannot be decoded have no
        row: their ids are in the source's ``failed``.
        """
        key = (id(dataset), backbone, input_size, tune_blocks, view)
        src = self._sources.get(key)  # one store (and SQLite connection) per extractor
        looked_up = False
        if src is None:
            store = FeatureStore(
                self.store, backbone=backbone, input_size=input_size, tune_blocks=tune_blocks, view=view
            )
            chunk, row = self._cached_index(dataset, store) if ids is None else (None, None)
            if chunk is None:
                chunk, row = store.lookup(dataset.keys)
                looked_up = True
            src = self._sources[key] = StoreFeatures(store, chunk, row)
        todo = np.arange(len(dataset)) if ids is None else np.asarray(ids, dtype=np.int64)
        missing = todo[src.chunk[todo] == MISSING]
        if len(missing):
            keys = [dataset.keys[i] for i in missing]
            src.store.extract(
                keys,
                engine=self.engine,
                num_workers=self.num_workers,
                device=device,
                ray_address=self.ray_address,
                progress=progress,
            )
            src.chunk[missing], src.row[missing] = src.store.lookup(keys)
        if ids is None and (looked_up or len(missing)):
            self._save_index(dataset, src)
        return src

    def _index_path(self, store: FeatureStore) -> Path | None:
        return None if self.index_dir is None else self.index_dir / f"feature-index-{store.key}.npz"

    def _cached_index(self, dataset, store: FeatureStore):
        """The run's cached ``(chunk, row)`` of every item, if it is still valid."""
        cached = self._index_path(store)
        if cached is None or not cached.exists():
            return None, None
        with np.load(cached) as f:
            if len(f["chunk"]) != len(dataset) or f["store"].item() != str(store.dir.resolve()):
                return None, None
            chunk, row = f["chunk"], f["row"]
        if not store.has_chunks(np.unique(chunk[chunk >= 0])):
            return None, None  # the store was deleted or moved since: resolve against it again
        return chunk.copy(), row.copy()

    def _save_index(self, dataset, src: StoreFeatures) -> None:
        cached = self._index_path(src.store)
        if cached is not None:
            save_npz_atomic(cached, chunk=src.chunk, row=src.row, store=np.array(str(src.store.dir.resolve())))

    def failed_items(self, dataset: FileDataset, *, backbone: str, input_size=None, tune_blocks=None) -> dict[int, str]:
        """Items whose file could not be decoded, with the error (features are extracted first)."""
        src = self.source(dataset, backbone=backbone, input_size=input_size, tune_blocks=tune_blocks, progress=False)
        bad = np.flatnonzero(src.chunk < 0)
        errors = dict(src.store.failures([dataset.keys[i] for i in bad]))
        return {int(i): errors.get(dataset.keys[i].path, "not extracted") for i in bad}


def feature_source(
    dataset, *, backbone: str, input_size=None, device=None, progress: bool = True, files: FileFeatures | None = None
):
    """Frozen ``backbone`` features of every item of ``dataset``, as a feature source.

    A source has ``shape`` (n, d), ``take(ids)`` (float32 rows) and ``iter_blocks(ids)``
    (positions and rows, block by block: a pool of millions is never read at once).

    Parameters
    ----------
    dataset : ArrayDataset or FileDataset
    backbone : str
        One of :func:`list_backbones`.
    input_size : int, optional
        Side images are resized to before the backbone; its default otherwise.
    files : FileFeatures, optional
        For a :class:`~rarelab.data.FileDataset`: the store and engine (the defaults otherwise).
    """
    if isinstance(dataset, FileDataset):
        return (files or FileFeatures()).source(
            dataset, backbone=backbone, input_size=input_size, device=device, progress=progress
        )
    return ArrayFeatures(
        cached_features(dataset, backbone=backbone, input_size=input_size, device=device, progress=progress)
    )
