"""``image_folder``: the user's own images in a ``root/<class name>/*.png|jpg`` tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._validation import DataUnavailableError, check_int
from ._base import ArrayDataset
from .gtsrb import _read_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".webp"}


def image_folder(root, *, image_size: int = 64, transform=None, progress: bool = True) -> ArrayDataset:
    """Load ``root/<class name>/<image>`` files, resized to ``image_size`` squares.

    Class ids follow the sorted folder names, as in ``torchvision.datasets.ImageFolder``.
    The file paths are kept in ``dataset.paths`` so labels can be exported by file.

    Examples
    --------
    >>> ds = image_folder("my_photos/")  # doctest: +SKIP
    """
    image_size = check_int("image_folder", "image_size", image_size, low=8, high=512)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(f"The 'root' parameter of image_folder must be a folder. Got {str(root)!r}, "
                                   "which does not exist or is not a folder.")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [(f, k) for k, c in enumerate(classes) for f in sorted((root / c).iterdir())
             if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataUnavailableError(f"No images under {str(root)!r}: expected root/<class name>/*.png or *.jpg "
                                   f"(suffixes {sorted(IMAGE_SUFFIXES)}).")
    images = np.stack([_read_image(f, image_size) for f, _ in tqdm(files, desc="reading images", disable=not progress)])
    ds = ArrayDataset(images, np.array([k for _, k in files], dtype=np.int64), classes, name=f"image_folder:{root.name}",
                      transform=transform)
    ds.paths = [str(f) for f, _ in files]
    return ds
