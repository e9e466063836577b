"""Decoding image files, lazily and in ``DataLoader`` workers.

A file that cannot be read becomes a recorded failure instead of an exception.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


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
