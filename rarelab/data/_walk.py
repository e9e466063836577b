"""Finding image files: folders walked as a file manager shows them, and file identity.

A real pool may hold millions of files, so nothing here decodes: files are listed with
their size and mtime (the feature store's key).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import DataUnavailableError

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
