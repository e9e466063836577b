"""Images that stay on disk: the data model of a real, unlabeled pool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..exceptions import DataUnavailableError, GroundTruthUnavailable
from ..utils import param_error
from ._decode import decode_image, load_images
from ._walk import FileKey


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
        self.skipped_files: list[tuple[str, str]] = []  # listed by a folder walk, not read

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

    def subset(self, ids) -> FileDataset:
        """The items ``ids`` as a new dataset (same classes; targets, groups and keys follow)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = FileDataset(
            [self.paths[i] for i in ids],
            self.classes,
            targets=None if self._targets is None else self._targets[ids],
            groups=None if self.groups is None else self.groups[ids],
            keys=None if self._keys is None else [self._keys[i] for i in ids],
            image_size=self.image_size,
            name=self.name,
            transform=self.transform,
            target_transform=self.target_transform,
        )
        out.templates = self.templates
        return out

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=len(self.classes))

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
