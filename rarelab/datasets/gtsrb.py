"""``gtsrb``: the German Traffic Sign Recognition Benchmark (43 classes)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .._validation import DataUnavailableError, param_error
from ._base import ArrayDataset

GTSRB_CLASSES = [
    "speed limit 20", "speed limit 30", "speed limit 50", "speed limit 60", "speed limit 70",
    "speed limit 80", "end of speed limit 80", "speed limit 100", "speed limit 120", "no passing",
    "no passing for trucks", "right of way at next intersection", "priority road", "yield", "stop",
    "no vehicles", "no trucks", "no entry", "general caution", "dangerous curve left",
    "dangerous curve right", "double curve", "bumpy road", "slippery road", "road narrows on the right",
    "road work", "traffic signals", "pedestrians", "children crossing", "bicycles crossing",
    "beware of ice/snow", "wild animals crossing", "end of all speed and passing limits",
    "turn right ahead", "turn left ahead", "ahead only", "go straight or right", "go straight or left",
    "keep right", "keep left", "roundabout mandatory", "end of no passing",
    "end of no passing for trucks",
]

_OFFLINE_HELP = (
    "Download GTSRB yourself and pass its folder (the one holding 'GTSRB/Final_Training') "
    "or an .npz with arrays Xtr, ytr, Xte, yte as root; or, where the network allows, use "
    "download=True, which calls torchvision.datasets.GTSRB."
)


def gtsrb(root, *, split: str = "train", image_size: int | None = 32, download: bool = False,
          transform=None, progress: bool = True) -> ArrayDataset:
    """Load GTSRB from an .npz, the official folder layout, or torchvision's download.

    Parameters
    ----------
    root : str or Path
        One of: an ``.npz`` file with ``Xtr, ytr, Xte, yte`` (uint8 NHWC images, int labels);
        a folder holding ``GTSRB/Final_Training/Images/000NN/*.ppm`` (with ``GT-000NN.csv``)
        and optionally ``GTSRB/Final_Test/Images`` with ``GT-final_test.csv``; or, with
        ``download=True``, a folder where ``torchvision.datasets.GTSRB`` stores the data.
    split : {"train", "test", "all"}
    image_size : int or None
        Images are resized to this square size (the official files vary in size).
        ``None`` keeps the size of an .npz as it is.
    download : bool
        Use ``torchvision.datasets.GTSRB(download=True)``; needs network access.

    Examples
    --------
    >>> ds = gtsrb("GTSRB.npz")  # doctest: +SKIP
    """
    if split not in ("train", "test", "all"):
        raise param_error("gtsrb", "split", "one of 'train', 'test', 'all'", split)
    root = Path(root).expanduser()
    if root.suffix == ".npz":
        images, targets = _from_npz(root, split)
    elif download:
        images, targets = _from_torchvision(root, split, image_size or 32, progress)
    else:
        base = root / "GTSRB" if (root / "GTSRB").is_dir() else root
        if not (base / "Final_Training").is_dir():
            raise DataUnavailableError(
                f"No GTSRB data at root={str(root)!r}: expected an .npz file or a folder with "
                f"GTSRB/Final_Training/Images. {_OFFLINE_HELP}")
        images, targets = _from_official_layout(base, split, image_size or 32, progress)
    if image_size is not None and images.shape[1] != image_size:
        images = np.stack([np.asarray(Image.fromarray(im).resize((image_size, image_size), Image.BILINEAR))
                           for im in images])
    return ArrayDataset(images, targets, GTSRB_CLASSES, name=f"gtsrb-{split}", transform=transform)


def _from_npz(path: Path, split: str):
    if not path.is_file():
        raise DataUnavailableError(f"GTSRB file root={str(path)!r} does not exist. {_OFFLINE_HELP}")
    try:
        with np.load(path) as f:
            parts = {"train": [("Xtr", "ytr")], "test": [("Xte", "yte")],
                     "all": [("Xtr", "ytr"), ("Xte", "yte")]}[split]
            missing = [k for pair in parts for k in pair if k not in f.files]
            if missing:
                raise DataUnavailableError(
                    f"GTSRB file {str(path)!r} lacks the arrays {missing}; it holds {f.files}. "
                    "Save it with np.savez(path, Xtr=..., ytr=..., Xte=..., yte=...).")
            images = np.concatenate([f[x] for x, _ in parts])
            targets = np.concatenate([f[y] for _, y in parts]).astype(np.int64)
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(f"Could not read GTSRB file {str(path)!r}: {exc}") from exc
    return images, targets


def _read_image(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
    except (OSError, UnidentifiedImageError) as exc:
        raise DataUnavailableError(f"Unreadable image file {str(path)!r}: {exc}. Remove or replace it.") from exc


def _from_official_layout(base: Path, split: str, size: int, progress: bool):
    items: list[tuple[Path, int]] = []
    if split in ("train", "all"):
        for class_dir in sorted((base / "Final_Training" / "Images").glob("000*")):
            gt = class_dir / f"GT-{class_dir.name}.csv"
            with open(gt, newline="") as fh:
                items += [(class_dir / row["Filename"], int(row["ClassId"]))
                          for row in csv.DictReader(fh, delimiter=";")]
    if split in ("test", "all"):
        test = base / "Final_Test"
        gt = test / "GT-final_test.csv"
        if not gt.is_file():
            raise DataUnavailableError(f"GTSRB test labels {str(gt)!r} are missing. The official test "
                                       "annotations ship separately as GTSRB_Final_Test_GT.zip.")
        with open(gt, newline="") as fh:
            items += [(test / "Images" / row["Filename"], int(row["ClassId"]))
                      for row in csv.DictReader(fh, delimiter=";")]
    if not items:
        raise DataUnavailableError(f"No GTSRB images found under {str(base)!r}. {_OFFLINE_HELP}")
    images = np.stack([_read_image(p, size) for p, _ in tqdm(items, desc="reading GTSRB", disable=not progress)])
    return images, np.array([t for _, t in items], dtype=np.int64)


def _from_torchvision(root: Path, split: str, size: int, progress: bool):
    from torchvision.datasets import GTSRB

    images, targets = [], []
    for part in (["train", "test"] if split == "all" else [split]):
        try:
            ds = GTSRB(str(root), split=part, download=True)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise DataUnavailableError(f"Downloading GTSRB into {str(root)!r} failed ({exc}). {_OFFLINE_HELP}") from exc
        for path, target in tqdm(ds._samples, desc=f"reading GTSRB {part}", disable=not progress):
            images.append(_read_image(Path(path), size))
            targets.append(target)
    return np.stack(images), np.array(targets, dtype=np.int64)
