"""Image files on disk: finding them, reading manifests, and decoding them lazily.

A real pool may hold millions of files and a few broken ones, so nothing here loads a
whole folder: files are listed with their size and mtime (the feature store's key), and
decoded one at a time inside ``DataLoader`` workers, where a file that cannot be read
becomes a recorded failure instead of an exception.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..exceptions import DataUnavailableError
from ..utils import param_error

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


@dataclass(frozen=True)
class FileKey:
    """A file as the feature store knows it: a changed size or mtime means a new file."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path) -> FileKey:
        st = os.stat(path)
        return cls(str(Path(path).resolve()), int(st.st_size), int(st.st_mtime_ns))


def is_image(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(root, *, recursive: bool = True) -> list[str]:
    """Image files under ``root`` (a folder), sorted, absolute; hidden files and folders skipped."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(f"{str(root)!r} is not a folder (or does not exist).")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        out.extend(os.path.join(dirpath, f) for f in filenames if not f.startswith(".") and is_image(f))
    return sorted(str(Path(p).resolve()) for p in out)


def read_manifest(path, *, base=None) -> dict[str, list]:
    """Columns of a CSV or Parquet manifest (``path`` required; ``label`` and ``group`` optional).

    Relative paths are taken relative to ``base`` (default: the manifest's folder).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"Manifest {str(path)!r} does not exist.")
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DataUnavailableError(
                "Reading a Parquet manifest needs pyarrow: pip install pyarrow (or use a CSV manifest)."
            ) from exc
        cols = pq.read_table(path).to_pydict()
    else:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            names = reader.fieldnames or []
        cols = {n: [r[n] for r in rows] for n in names}
    if "path" not in cols:
        raise param_error(
            "read_manifest",
            "path",
            "a CSV/Parquet file with a 'path' column",
            str(path),
            f"Its columns are {sorted(cols)}.",
        )
    base = Path(base) if base is not None else path.parent
    cols["path"] = [
        str((base / p).resolve()) if not os.path.isabs(p) else str(Path(p).resolve()) for p in map(str, cols["path"])
    ]
    return cols


def image_sources(source) -> list[str]:
    """Files of a pool given as a folder (read recursively), a manifest, or a list of paths."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if p.is_dir():
            return list_images(p)
        if p.suffix.lower() in (".csv", ".parquet", ".txt"):
            if p.suffix.lower() == ".txt":
                lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
                return [str((p.parent / ln).resolve()) for ln in lines]
            return read_manifest(p)["path"]
        raise DataUnavailableError(f"{str(p)!r} is neither a folder nor a .csv/.parquet/.txt manifest.")
    return [str(Path(f).expanduser().resolve()) for f in source]


def decode_image(path, size: int | None) -> np.ndarray:
    """Read one file as RGB uint8 (H, W, 3), squashed to ``size`` x ``size`` when given.

    Raises ``OSError`` or ``ValueError`` (PIL's errors) for corrupt or truncated files.
    """
    with Image.open(path) as img:
        if size is not None and img.format == "JPEG":
            img.draft("RGB", (size, size))  # decode a JPEG at a reduced scale: much faster for big photos
        img = img.convert("RGB")
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8).copy()


class FileImages(torch.utils.data.Dataset):
    """Decode ``paths[i]`` at ``size`` px on demand; items are ``(i, image or None, error)``."""

    def __init__(self, paths, size: int):
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            return i, decode_image(self.paths[i], self.size), ""
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return i, None, f"{type(exc).__name__}: {exc}"


def collate_decoded(batch):
    """Stack the decoded images of a batch; keep the failures apart, by position."""
    ok = [(i, im) for i, im, _ in batch if im is not None]
    failed = [(i, err) for i, im, err in batch if im is None]
    idx = np.array([i for i, _ in ok], dtype=np.int64)
    images = torch.from_numpy(np.stack([im for _, im in ok])) if ok else torch.empty(0, 0, 0, 3, dtype=torch.uint8)
    return idx, images, failed


def iter_decoded(paths, size: int, *, batch_size: int = 64, num_workers: int = 0):
    """Yield ``(positions, images NHWC uint8, failures)`` batches through a multi-worker DataLoader."""
    loader = torch.utils.data.DataLoader(
        FileImages(paths, size),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_decoded,
        persistent_workers=False,
        prefetch_factor=4 if num_workers else None,
    )
    yield from loader


def load_images(paths, size: int, *, num_workers: int = 0, fill: int = 0) -> tuple[np.ndarray, list]:
    """Decode a few files into one array (gallery pages, training batches); unreadable ones are
    filled with ``fill`` and returned as ``(position, error)`` pairs."""
    out = np.full((len(paths), size, size, 3), fill, dtype=np.uint8)
    failed = []
    for idx, images, bad in iter_decoded(paths, size, batch_size=64, num_workers=num_workers):
        if len(idx):
            out[idx] = images.numpy()
        failed += bad
    return out, failed
