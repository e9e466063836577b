"""Finding image files: folders walked as a file manager shows them, and file identity.

A real pool may hold millions of files, so nothing here decodes: files are listed with
their size and mtime (the feature store's key).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..exceptions import DataUnavailableError

# Every format Pillow opens, less the scientific containers it only recognises (HDF5, FITS,
# GRIB, BUFR) and video (MPEG): a folder of photos holds those only by accident.
_CONTAINERS = frozenset({".h5", ".hdf", ".fit", ".fits", ".grib", ".bufr", ".mpeg", ".mpg"})
IMAGE_SUFFIXES = frozenset(
    ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN and ext not in _CONTAINERS
)
# Image formats people keep that Pillow does not read: say what to do instead of "not an image".
_NEEDS_CONVERTER = {
    ".heic": "HEIC (iPhone photos) needs a converter: pip install pillow-heif, or export as JPEG",
    ".heif": "HEIF needs a converter: pip install pillow-heif, or export as JPEG",
    ".jxl": "JPEG XL is not read by Pillow: export as PNG or JPEG",
    ".svg": "SVG is a vector drawing: export it as PNG",
    ".dng": "camera RAW: export as JPEG or PNG",
    ".cr2": "camera RAW: export as JPEG or PNG",
    ".cr3": "camera RAW: export as JPEG or PNG",
    ".nef": "camera RAW: export as JPEG or PNG",
    ".arw": "camera RAW: export as JPEG or PNG",
    ".orf": "camera RAW: export as JPEG or PNG",
    ".rw2": "camera RAW: export as JPEG or PNG",
    ".raf": "camera RAW: export as JPEG or PNG",
}


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


@dataclass
class Walk:
    """What :func:`walk_images` found under a folder.

    ``images`` are absolute paths of image files (symbolic links resolved, so a file
    reached twice is listed once), sorted. ``skipped`` are ``(path, reason)`` pairs of the
    files and folders that are listed but not images rarelab reads: a text file, a HEIC
    photo, a broken link, a folder that cannot be opened, a link that loops back.
    """

    images: list[str]
    skipped: list[tuple[str, str]]


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def skip_reason(path) -> str:
    """Why a file that is not in :data:`IMAGE_SUFFIXES` is not read."""
    suffix = Path(path).suffix.lower()
    return _NEEDS_CONVERTER.get(suffix, f"not an image file rarelab reads ({suffix or 'no suffix'})")


def walk_images(root, *, recursive: bool = True) -> Walk:
    """Walk ``root`` the way a file manager shows it.

    Folders are read recursively in name order. Linked folders and files are followed
    (a link back into a folder already walked is skipped: no loops, no file twice).
    Hidden files and folders (names starting with ``.``, e.g. ``.DS_Store``, ``._x.jpg``
    AppleDouble files, ``.git``) are not listed, as a file manager hides them. File names
    that are not valid UTF-8 are kept losslessly (Python's ``surrogateescape`` strings).
    Every other file is an image (see :data:`IMAGE_SUFFIXES`) or is in ``skipped`` with
    its reason.

    Raises
    ------
    DataUnavailableError
        ``root`` is not a folder.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(f"{str(root)!r} is not a folder (or does not exist).")
    images: dict[str, None] = {}
    skipped: list[tuple[str, str]] = []
    seen_dirs: set[tuple[int, int]] = set()

    def failed_listing(err: OSError) -> None:
        skipped.append((str(err.filename), f"cannot open folder: {err.strerror or err}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=failed_listing, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a link back to a folder walked already
            skipped.append((dirpath, "folder walked already through another path (a link): its files are listed once"))
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d)) if recursive else []
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            path = os.path.join(dirpath, name)
            if not os.path.exists(path):
                skipped.append((path, "broken link: its target does not exist"))
            elif not os.path.isfile(path):
                skipped.append((path, "not a regular file"))
            elif is_image(name):
                images.setdefault(str(Path(path).resolve()))
            else:
                skipped.append((path, skip_reason(name)))
    return Walk(sorted(images), skipped)


def list_images(root, *, recursive: bool = True) -> list[str]:
    """Image files under ``root`` (a folder), sorted, absolute (see :func:`walk_images`)."""
    return walk_images(root, recursive=recursive).images
