"""Images that stay on disk: the data model of a real, unlabeled pool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .._validation import DataUnavailableError, RarelabError, param_error
from ..images import FileKey, decode_image, load_images


class GroundTruthUnavailable(RarelabError, AttributeError):
    """Raised when code asks for labels nobody gave: a real pool has none."""


class FileDataset(torch.utils.data.Dataset):
    """Image files decoded on demand, with the torchvision dataset interface.

    Nothing is read at construction beyond what the caller passes: a million-file pool
    costs its paths, not its pixels. ``targets`` exists only when every item's label is
    known (a labeled folder used for a simulation); a search pool has none, and asking
    for them raises :class:`GroundTruthUnavailable`.

    Parameters
    ----------
    paths : sequence of str
    classes : sequence of str
    targets : array-like of int, optional
        Ground truth of every item, when there is one.
    groups : array-like, optional
        Near-duplicate groups (a video track, a burst), kept together by splits.
    keys : sequence of FileKey, optional
        Path + size + mtime of every file, as the feature store keys them; read from the
        file system on first use when not given.
    image_size : int
        Side of the images ``dataset[i]`` and :meth:`load_images` return.
    feature_store : path, optional
        Where :meth:`feature_source` keeps features (default: the user cache).
    engine, num_workers, ray_address : how missing features are extracted (see
        :meth:`rarelab.feature_store.FeatureStore.extract`).
    index_dir : path, optional
        A folder (the run directory) where the resolved store positions are cached, so
        reopening a million-item search does not rescan the store's index.
    """

    def __init__(
        self,
        paths: Sequence[str],
        classes: Sequence[str],
        *,
        targets=None,
        groups=None,
        keys=None,
        image_size: int = 96,
        name: str = "files",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        feature_store=None,
        engine: str = "local",
        num_workers: int | None = None,
        ray_address: str | None = None,
        index_dir=None,
    ):
        self.paths = [str(p) for p in paths]
        self.classes = list(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        if targets is not None:
            targets = np.asarray(targets)
            if targets.shape != (len(self.paths),) or not np.issubdtype(targets.dtype, np.integer):
                raise param_error(
                    "FileDataset",
                    "targets",
                    f"an int array of shape ({len(self.paths)},)",
                    f"{targets.dtype} array of shape {targets.shape}",
                )
            targets = targets.astype(np.int64)
        self._targets = targets
        self.groups = None if groups is None else np.asarray(groups)
        self._keys = list(keys) if keys is not None else None
        self.image_size = int(image_size)
        self.name = name
        self.transform = transform
        self.target_transform = target_transform
        self.templates = None
        self.feature_store = feature_store
        self.engine = engine
        self.num_workers = num_workers
        self.ray_address = ray_address
        self.index_dir = None if index_dir is None else Path(index_dir)
        self._sources: dict = {}

    @property
    def targets(self) -> np.ndarray:
        if self._targets is None:
            raise GroundTruthUnavailable(
                f"{self.name} has no ground truth: its labels come from the seed set, a person or an oracle."
            )
        return self._targets

    @property
    def has_targets(self) -> bool:
        return self._targets is not None

    @property
    def keys(self) -> list[FileKey]:
        if self._keys is None:
            self._keys = [FileKey.of(p) for p in self.paths]
        return self._keys

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            img = Image.fromarray(decode_image(self.paths[index], self.image_size))
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataUnavailableError(f"Cannot decode {self.paths[index]!r}: {exc}") from exc
        target = None if self._targets is None else int(self._targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None and target is not None:
            target = self.target_transform(target)
        return img, target

    def load_images(self, ids, size: int | None = None) -> np.ndarray:
        """Decode the items ``ids`` (uint8, (n, size, size, 3)); unreadable files come back grey."""
        ids = np.asarray(ids, dtype=np.int64)
        images, _ = load_images([self.paths[i] for i in ids], size or self.image_size, fill=127)
        return images

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=len(self.classes))

    def feature_source(self, *, backbone: str, input_size: int | None = None, device=None, progress: bool = True):
        """Features of every item, from the feature store (missing files are extracted first)."""
        from ..feature_store import MISSING, FeatureStore, StoreFeatures

        if (backbone, input_size) in self._sources:  # one store (and SQLite connection) per extractor
            return self._sources[(backbone, input_size)]
        store = FeatureStore(self.feature_store, backbone=backbone, input_size=input_size)
        cached = None if self.index_dir is None else self.index_dir / f"feature-index-{store.key}.npz"
        chunk = row = None
        if cached is not None and cached.exists():
            with np.load(cached) as f:
                if len(f["chunk"]) == len(self) and f["store"].item() == str(store.dir.resolve()):
                    chunk, row = f["chunk"], f["row"]
            if chunk is not None and not store.has_chunks(np.unique(chunk[chunk >= 0])):
                chunk = row = None  # the store was deleted or moved since: resolve against it again
        if chunk is None:
            chunk, _ = store.lookup(self.keys)
            if np.any(chunk == MISSING):
                store.extract(
                    self.keys,
                    engine=self.engine,
                    num_workers=self.num_workers,
                    device=device,
                    ray_address=self.ray_address,
                    progress=progress,
                )
            chunk, row = store.lookup(self.keys)
            if cached is not None:
                from .._cache import save_npz_atomic

                save_npz_atomic(cached, chunk=chunk, row=row, store=np.array(str(store.dir.resolve())))
        self.failed_ = np.flatnonzero(chunk < 0)
        src = self._sources[(backbone, input_size)] = StoreFeatures(store, chunk, row)
        return src

    def failed_items(self, *, backbone: str, input_size: int | None = None) -> dict[int, str]:
        """Items whose file could not be decoded, with the error (after features were extracted)."""
        src = self.feature_source(backbone=backbone, input_size=input_size, progress=False)
        bad = np.flatnonzero(src.chunk < 0)
        errors = dict(src.store.failures([self.keys[i] for i in bad]))
        return {int(i): errors.get(self.keys[i].path, "not extracted") for i in bad}

    def __repr__(self) -> str:
        lines = [
            f"Dataset {type(self).__name__}({self.name})",
            f"    Number of datapoints: {len(self)} (files, decoded on demand at {self.image_size}px)",
            f"    Classes: {len(self.classes)}",
            f"    Ground truth: {'every item' if self.has_targets else 'none (labels come from people)'}",
        ]
        return "\n".join(lines)


def check_files_exist(paths, owner: str, name: str) -> None:
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise DataUnavailableError(
            f"The '{name}' parameter of {owner} names {len(missing)} missing files, e.g. {missing[:3]}."
        )
