"""``image_folder``: the user's own images in a ``root/<class name>/*.png|jpg`` tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validation import DataUnavailableError, check_int
from ..images import IMAGE_SUFFIXES, list_images
from .files import FileDataset


def class_folders(root) -> tuple[list[str], list[str], np.ndarray]:
    """``(classes, paths, targets)`` of a ``root/<class name>/...`` tree (files read recursively
    inside each class folder); class ids follow the sorted folder names."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(
            f"The 'root' parameter of image_folder must be a folder. Got {str(root)!r}, "
            "which does not exist or is not a folder."
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths, targets = [], []
    for k, c in enumerate(classes):
        files = list_images(root / c)
        paths += files
        targets += [k] * len(files)
    if not paths:
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        hint = (
            (
                " The images lie directly in it: a labeled set needs one subfolder per class (an unlabeled "
                "pool is passed as `--pool` / init_search(pool=...) instead)."
            )
            if loose
            else ""
        )
        raise DataUnavailableError(
            f"No images under {str(root)!r}: expected root/<class name>/*.png or *.jpg "
            f"(suffixes {sorted(IMAGE_SUFFIXES)}).{hint}"
        )
    return classes, paths, np.asarray(targets, dtype=np.int64)


def image_folder(root, *, image_size: int = 96, transform=None, progress: bool = True) -> FileDataset:
    """A labeled ``root/<class name>/<image>`` tree, as files decoded on demand.

    Class ids follow the sorted folder names, as in ``torchvision.datasets.ImageFolder``.
    Images stay on disk; ``image_size`` is the side they are decoded at for display and
    fine-tuning (features are extracted at the backbone's own input size). The file
    paths are in ``dataset.paths``.

    Examples
    --------
    >>> ds = image_folder("my_photos/")  # doctest: +SKIP
    """
    image_size = check_int("image_folder", "image_size", image_size, low=8, high=1024)
    classes, paths, targets = class_folders(root)
    return FileDataset(
        paths,
        classes,
        targets=targets,
        image_size=image_size,
        name=f"image_folder:{Path(root).name}",
        transform=transform,
    )
