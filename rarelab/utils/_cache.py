"""Where rarelab keeps things it can rebuild: rendered datasets and backbone features."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_path


def cache_dir(*parts: str) -> Path:
    """``$RARELAB_CACHE_DIR`` (default ``~/.cache/rarelab``) joined with ``parts``, created."""
    root = Path(os.environ.get("RARELAB_CACHE_DIR", Path.home() / ".cache" / "rarelab"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def dataset_key(dataset) -> tuple[str, int]:
    """What keys ``dataset``'s caches, and how many of its first items those caches hold.

    A dataset that ``extends`` another (templates appended for a synthetic start) shares
    the other's caches; its appended items are computed by whoever reads them. Image
    folders are keyed by their files (path, size, mtime), arrays by their pixels.
    """
    extends = getattr(dataset, "extends", None)
    if extends is not None:
        return extends
    fingerprint = getattr(dataset, "fingerprint", None)
    if fingerprint is None:
        h = hashlib.sha1()
        for k in dataset.keys:
            h.update(f"{k.path}\0{k.size}\0{k.mtime_ns}\n".encode("utf-8", "surrogateescape"))
        fingerprint = h.hexdigest()[:16]
    return fingerprint, len(dataset)


def save_npz_atomic(path: Path, **arrays) -> None:
    """Write an .npz so that a crash never leaves a half-written cache file behind."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_path(path, write)
