"""``gtsrb``: the German Traffic Sign Recognition Benchmark (43 classes)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..exceptions import DataUnavailableError
from ..utils import param_error
from ._array import ArrayDataset
from ._decode import decode_image

GTSRB_CLASSES = [
    "speed limit 20",
    "speed limit 30",
    "speed limit 50",
    "speed limit 60",
    "speed limit 70",
    "speed limit 80",
    "end of speed limit 80",
    "speed limit 100",
    "speed limit 120",
    "no passing",
    "no passing for trucks",
    "right of way at next intersection",
    "priority road",
    "yield",
    "stop",
    "no vehicles",
    "no trucks",
    "no entry",
    "general caution",
    "dangerous curve left",
    "dangerous curve right",
    "double curve",
    "bumpy road",
    "slippery road",
    "road narrows on the right",
    "road work",
    "traffic signals",
    "pedestrians",
    "children crossing",
    "bicycles crossing",
    "beware of ice/snow",
    "wild animals crossing",
    "end of all speed and passing limits",
    "turn right ahead",
    "turn left ahead",
    "ahead only",
    "go straight or right",
    "go straight or left",
    "keep right",
    "keep left",
    "roundabout mandatory",
    "end of no passing",
    "end of no passing for trucks",
]

# The classes synth_signs' renderer draws faithfully (shape, colours and pictogram), for the
# paper's synthetic start on real signs: (shape, border, fill, glyph, glyph colour).
_RED, _WHITE, _BLACK, _BLUE, _GREY, _YELLOW = (
    (200, 20, 30),
    (245, 245, 240),
    (20, 20, 20),
    (20, 70, 170),
    (120, 120, 120),
    (245, 190, 20),
)
TEMPLATE_SPECS = {
    **{
        GTSRB_CLASSES.index(f"speed limit {v}"): ("circle", _RED, _WHITE, str(v), _BLACK)
        for v in (20, 30, 50, 60, 70, 80, 100, 120)
    },
    GTSRB_CLASSES.index("end of speed limit 80"): ("circle", _GREY, _WHITE, "80/", _GREY),
    GTSRB_CLASSES.index("no passing"): ("circle", _RED, _WHITE, "car2", _BLACK),
    GTSRB_CLASSES.index("priority road"): ("diamond", _WHITE, _YELLOW, "", _BLACK),
    GTSRB_CLASSES.index("yield"): ("inverted triangle", _RED, _WHITE, "", _BLACK),
    GTSRB_CLASSES.index("stop"): ("octagon", _WHITE, _RED, "STOP", _WHITE),
    GTSRB_CLASSES.index("no vehicles"): ("circle", _RED, _WHITE, "", _BLACK),
    GTSRB_CLASSES.index("no entry"): ("circle", _RED, _RED, "bar", _WHITE),
    GTSRB_CLASSES.index("general caution"): ("triangle", _RED, _WHITE, "!", _BLACK),
    GTSRB_CLASSES.index("traffic signals"): ("triangle", _RED, _WHITE, "lights", _BLACK),
    GTSRB_CLASSES.index("pedestrians"): ("triangle", _RED, _WHITE, "person", _BLACK),
    GTSRB_CLASSES.index("bicycles crossing"): ("triangle", _RED, _WHITE, "bicycle", _BLACK),
    GTSRB_CLASSES.index("beware of ice/snow"): ("triangle", _RED, _WHITE, "*", _BLACK),
    GTSRB_CLASSES.index("end of all speed and passing limits"): ("circle", _GREY, _WHITE, "slash", _GREY),
    GTSRB_CLASSES.index("turn right ahead"): ("circle", _BLUE, _BLUE, "right", _WHITE),
    GTSRB_CLASSES.index("turn left ahead"): ("circle", _BLUE, _BLUE, "left", _WHITE),
    GTSRB_CLASSES.index("ahead only"): ("circle", _BLUE, _BLUE, "up", _WHITE),
    GTSRB_CLASSES.index("keep right"): ("circle", _BLUE, _BLUE, "downright", _WHITE),
    GTSRB_CLASSES.index("keep left"): ("circle", _BLUE, _BLUE, "downleft", _WHITE),
    GTSRB_CLASSES.index("roundabout mandatory"): ("circle", _BLUE, _BLUE, "ring", _WHITE),
}


def gtsrb_templates(size: int) -> np.ndarray:
    """A clean render of every GTSRB class in :data:`TEMPLATE_SPECS`, uint8 (43, size, size, 3);
    classes the renderer cannot draw stay white."""
    from ._synth_signs import render_sign, template_array

    out = np.full((len(GTSRB_CLASSES), size, size, 3), 255, np.uint8)
    for c, spec in TEMPLATE_SPECS.items():
        out[c] = template_array(render_sign(*spec), size)
    return out


_OFFLINE_HELP = (
    "Download GTSRB yourself and pass its folder (the one holding 'GTSRB/Final_Training') "
    "or an .npz with arrays Xtr, ytr, Xte, yte as root; or, where the network allows, use "
    "download=True, which calls torchvision.datasets.GTSRB."
)


def gtsrb(
    root,
    *,
    split: str = "train",
    image_size: int | None = 32,
    download: bool = False,
    transform=None,
    progress: bool = True,
) -> ArrayDataset:
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

    Returns
    -------
    ArrayDataset
        With ``groups`` (the 30-frame tracks, where known), ``official_split`` and
        ``templates``: clean renders of the 27 classes the ``synth_signs`` renderer draws
        (``template_classes``), for the synthetic start.

    Examples
    --------
    >>> ds = gtsrb("GTSRB.npz")  # doctest: +SKIP
    """
    if split not in ("train", "test", "all"):
        raise param_error("gtsrb", "split", "one of 'train', 'test', 'all'", split)
    root = Path(root).expanduser()
    if root.suffix == ".npz":
        images, targets, groups, parts = _from_npz(root, split)
    elif download:
        images, targets, groups, parts = _from_torchvision(root, split, image_size or 32, progress)
    else:
        base = root / "GTSRB" if (root / "GTSRB").is_dir() else root
        if not (base / "Final_Training").is_dir():
            raise DataUnavailableError(
                f"No GTSRB data at root={str(root)!r}: expected an .npz file or a folder with "
                f"GTSRB/Final_Training/Images. {_OFFLINE_HELP}"
            )
        images, targets, groups, parts = _from_official_layout(base, split, image_size or 32, progress)
    if image_size is not None and images.shape[1] != image_size:
        images = np.stack(
            [np.asarray(Image.fromarray(im).resize((image_size, image_size), Image.BILINEAR)) for im in images]
        )
    ds = ArrayDataset(
        images,
        targets,
        GTSRB_CLASSES,
        name=f"gtsrb-{split}",
        transform=transform,
        groups=groups,
        # The synthetic start (Fig. 4b,d of the paper) for the classes the renderer draws.
        templates=gtsrb_templates(images.shape[1]),
        template_classes=sorted(TEMPLATE_SPECS),
    )
    ds.official_split = parts  # "train"/"test" per item: the official test split can serve as pool
    return ds


# Track ids: the training set is made of 30-frame tracks of one physical sign each; test
# images are independent (each its own group).
_TRACK = 30
_TEST_GROUP0 = 10**7


def _track_groups_from_order(targets: np.ndarray) -> np.ndarray | None:
    """Tracks from the storage order of an .npz: class by class, 30 frames a track. Only
    where that order holds (classes contiguous, nearly all class sizes multiples of 30);
    otherwise None, and splits fall back to items."""
    changes = np.flatnonzero(np.diff(targets)) + 1
    counts = np.bincount(targets)
    present = counts[counts > 0]
    if len(changes) + 1 != len(present) or np.mean(present % _TRACK == 0) < 0.9:
        return None
    starts = np.r_[0, changes]
    pos = np.arange(len(targets)) - np.repeat(starts, np.diff(np.r_[starts, len(targets)]))
    return targets.astype(np.int64) * 1000 + pos // _TRACK


def _track_of(path) -> int:
    """``TTTTT_FFFFF.ppm``: the track number of an official training file."""
    stem = Path(path).stem
    head = stem.split("_")[0]
    return int(head) if head.isdigit() else abs(hash(stem)) % 1000


def _from_npz(path: Path, split: str):
    if not path.is_file():
        raise DataUnavailableError(f"GTSRB file root={str(path)!r} does not exist. {_OFFLINE_HELP}")
    try:
        with np.load(path) as f:
            parts = {"train": [("Xtr", "ytr")], "test": [("Xte", "yte")], "all": [("Xtr", "ytr"), ("Xte", "yte")]}[
                split
            ]
            missing = [k for pair in parts for k in pair if k not in f.files]
            if missing:
                raise DataUnavailableError(
                    f"GTSRB file {str(path)!r} lacks the arrays {missing}; it holds {f.files}. "
                    "Save it with np.savez(path, Xtr=..., ytr=..., Xte=..., yte=...)."
                )
            images = np.concatenate([f[x] for x, _ in parts])
            targets = np.concatenate([f[y] for _, y in parts]).astype(np.int64)
            n_train = len(f["ytr"]) if split != "test" else 0
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(f"Could not read GTSRB file {str(path)!r}: {exc}") from exc
    groups = None
    if n_train:
        train_groups = _track_groups_from_order(targets[:n_train])
        if train_groups is not None:
            groups = np.r_[train_groups, _TEST_GROUP0 + np.arange(len(targets) - n_train)]
    elif split == "test":
        groups = _TEST_GROUP0 + np.arange(len(targets))
    official = np.array(["train"] * n_train + ["test"] * (len(targets) - n_train))
    return images, targets, groups, official


def _read_image(path: Path, size: int) -> np.ndarray:
    try:
        return decode_image(path, size)
    except (OSError, ValueError) as exc:  # ValueError: UndecodableImage
        raise DataUnavailableError(f"Unreadable image file {str(path)!r}: {exc}. Remove or replace it.") from exc


def _from_official_layout(base: Path, split: str, size: int, progress: bool):
    items: list[tuple[Path, int]] = []
    if split in ("train", "all"):
        for class_dir in sorted((base / "Final_Training" / "Images").glob("000*")):
            gt = class_dir / f"GT-{class_dir.name}.csv"
            with open(gt, newline="") as fh:
                items += [
                    (class_dir / row["Filename"], int(row["ClassId"])) for row in csv.DictReader(fh, delimiter=";")
                ]
    n_train = len(items)
    if split in ("test", "all"):
        test = base / "Final_Test"
        gt = test / "GT-final_test.csv"
        if not gt.is_file():
            raise DataUnavailableError(
                f"GTSRB test labels {str(gt)!r} are missing. The official test "
                "annotations ship separately as GTSRB_Final_Test_GT.zip."
            )
        with open(gt, newline="") as fh:
            items += [
                (test / "Images" / row["Filename"], int(row["ClassId"])) for row in csv.DictReader(fh, delimiter=";")
            ]
    if not items:
        raise DataUnavailableError(f"No GTSRB images found under {str(base)!r}. {_OFFLINE_HELP}")
    images = np.stack([_read_image(p, size) for p, _ in tqdm(items, desc="reading GTSRB", disable=not progress)])
    targets = np.array([t for _, t in items], dtype=np.int64)
    groups = np.array(
        [t * 1000 + _track_of(p) for p, t in items[:n_train]] + [_TEST_GROUP0 + k for k in range(len(items) - n_train)],
        dtype=np.int64,
    )
    return images, targets, groups, np.array(["train"] * n_train + ["test"] * (len(items) - n_train))


def _from_torchvision(root: Path, split: str, size: int, progress: bool):
    from torchvision.datasets import GTSRB

    images, targets, groups, parts = [], [], [], []
    for part in ["train", "test"] if split == "all" else [split]:
        try:
            ds = GTSRB(str(root), split=part, download=True)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise DataUnavailableError(f"Downloading GTSRB into {str(root)!r} failed ({exc}). {_OFFLINE_HELP}") from exc
        for path, target in tqdm(ds._samples, desc=f"reading GTSRB {part}", disable=not progress):
            images.append(_read_image(Path(path), size))
            targets.append(target)
            groups.append(target * 1000 + _track_of(path) if part == "train" else _TEST_GROUP0 + len(groups))
            parts.append(part)
    return np.stack(images), np.array(targets, dtype=np.int64), np.array(groups, dtype=np.int64), np.array(parts)
