"""``image_folder``: the user's own images in a ``root/<class name>/*.png|jpg`` tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import DataUnavailableError
from ..utils import check_int, param_error
from ._files import FileDataset
from ._tables import read_manifest
from ._walk import IMAGE_SUFFIXES, walk_images


def class_folders(root) -> tuple[list[str], list[str], np.ndarray]:
    """``(classes, paths, targets)`` of a ``root/<class name>/...`` tree (files read recursively
    inside each class folder); class ids follow the sorted folder names."""
    classes, paths, targets, _ = walk_class_folders(root)
    return classes, paths, targets


def walk_class_folders(root) -> tuple[list[str], list[str], np.ndarray, list[tuple[str, str]]]:
    """:func:`class_folders`, plus ``(path, reason)`` of every file the walk listed but did
    not read (:func:`walk_images`' skipped files, and files outside the class folders)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(
            f"The 'root' parameter of image_folder must be a folder. Got {str(root)!r}, "
            "which does not exist or is not a folder."
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths, targets, skipped = [], [], []
    for k, c in enumerate(classes):
        walk = walk_images(root / c)
        paths += walk.images
        targets += [k] * len(walk.images)
        skipped += walk.skipped
    loose = [p for p in sorted(root.iterdir()) if not p.name.startswith(".") and not p.is_dir()]
    skipped += [(str(p.absolute()), "not inside a class folder (root/<class name>/...)") for p in loose]
    if not paths:
        hint = (
            (
                " The images lie directly in it: a labeled set needs one subfolder per class (an unlabeled "
                "pool is passed as `--pool` / init_search(pool=...) instead)."
            )
            if any(p.suffix.lower() in IMAGE_SUFFIXES for p in loose)
            else ""
        )
        raise DataUnavailableError(
            f"No images under {str(root)!r}: expected root/<class name>/*.png or *.jpg "
            f"(suffixes {sorted(IMAGE_SUFFIXES)}).{hint}"
        )
    return classes, paths, np.asarray(targets, dtype=np.int64), skipped


def _folder_groups(root: Path, paths, groups) -> np.ndarray | None:
    """Group ids: ``"subfolder"`` (root/<class>/<group>/file; a file right in the class folder
    is its own group) or a CSV/Parquet of ``path,group`` (paths relative to ``root`` or absolute)."""
    if groups is None:
        return None
    if groups == "subfolder":
        names = []
        for p in paths:
            rel = Path(p).relative_to(root.resolve())
            names.append("/".join(rel.parts[:2]) if len(rel.parts) > 2 else str(rel))
    else:
        cols = read_manifest(groups, base=root)
        if "group" not in cols:
            raise param_error(
                "image_folder", "groups", "'subfolder' or a CSV/Parquet with path,group columns", str(groups)
            )
        by_path = dict(zip(cols["path"], map(str, cols["group"])))
        names = [by_path.get(p, p) for p in paths]  # files the table does not name: their own group
    _, ids = np.unique(np.array(names, dtype=str), return_inverse=True)
    return ids.astype(np.int64)


def image_manifest(path, *, image_size: int = 96, transform=None, progress: bool = True) -> FileDataset:
    """A labeled set listed in a CSV or Parquet file: ``path,label`` and optionally ``group``
    (near-duplicates, e.g. a burst, that splits keep in one part). Labels are class names;
    class ids follow their sorted order. Paths may be relative to the manifest's folder.

    Examples
    --------
    >>> ds = image_manifest("labels.csv")  # doctest: +SKIP
    """
    image_size = check_int("image_manifest", "image_size", image_size, low=8, high=1024)
    cols = read_manifest(path)
    if "label" not in cols:
        raise param_error("image_manifest", "path", "a CSV/Parquet with path and label columns", str(path))
    names = [str(y) for y in cols["label"]]
    classes = sorted(set(names))
    idx = {c: i for i, c in enumerate(classes)}
    groups = None
    if "group" in cols:
        _, groups = np.unique(np.array([str(g) for g in cols["group"]]), return_inverse=True)
    return FileDataset(
        cols["path"],
        classes,
        targets=np.array([idx[n] for n in names], dtype=np.int64),
        groups=groups,
        image_size=image_size,
        name=f"manifest:{Path(path).name}",
        transform=transform,
    )


def image_folder(root, *, image_size: int = 96, groups=None, transform=None, progress: bool = True) -> FileDataset:
    """A labeled ``root/<class name>/<image>`` tree, as files decoded on demand.

    Class ids follow the sorted folder names, as in ``torchvision.datasets.ImageFolder``.
    Images stay on disk; ``image_size`` is the side they are decoded at for display and
    fine-tuning (features are extracted at the backbone's own input size). The file
    paths are in ``dataset.paths``. ``groups`` marks near-duplicates that splits keep in
    one part: ``"subfolder"`` (``root/<class>/<burst or track>/<image>``) or a CSV/Parquet
    with ``path,group`` columns.

    Examples
    --------
    >>> ds = image_folder("my_photos/")  # doctest: +SKIP
    """
    image_size = check_int("image_folder", "image_size", image_size, low=8, high=1024)
    classes, paths, targets, skipped = walk_class_folders(root)
    root = Path(root).expanduser()
    dataset = FileDataset(
        paths,
        classes,
        targets=targets,
        groups=_folder_groups(root, paths, groups),
        image_size=image_size,
        name=f"image_folder:{root.name}",
        transform=transform,
    )
    dataset.skipped_files = skipped
    return dataset
