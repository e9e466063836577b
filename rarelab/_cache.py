"""Where rarelab keeps things it can rebuild: rendered datasets and backbone features."""

from __future__ import annotations

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


def save_npz_atomic(path: Path, **arrays) -> None:
    """Write an .npz so that a crash never leaves a half-written cache file behind."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_path(path, write)
