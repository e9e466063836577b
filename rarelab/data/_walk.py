"""Finding image files: folders walked as a file manager shows them, and file identity.

A real pool may hold millions of files, so nothing here decodes: files are listed with
their size and mtime (the feature store's key).
"""

from __future__ import annotations

import os
import stat
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

    ``images`` are absolute paths of image files as they were reached (links are not
    resolved, so paths are those a person sees; a file reached twice is listed once),
    sorted. ``skipped`` are ``(path, reason)`` pairs of the files and folders that are
    listed but not images rarelab reads: a text file, a HEIC photo, a broken link, a
    folder that cannot be opened, a second link to a file listed already.
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
    root = Path(os.path.abspath(Path(root).expanduser()))  # absolute, links kept: the paths a person sees
    if not root.is_dir():
        raise DataUnavailableError(f"{str(root)!r} is not a folder (or does not exist).")
    images: dict[str, str] = {}  # real path -> the first path it was reached by
    skipped: list[tuple[str, str]] = []
    seen_dirs: set[tuple[int, int]] = set()

    def failed_listing(err: OSError) -> None:
        skipped.append((str(err.filename), f"cannot open folder: {err.strerror or err}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=failed_listing, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a link back to a folder walked already: no loop, no file twice
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d)) if recursive else []
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            path = os.path.join(dirpath, name)
            try:
                is_file = stat.S_ISREG(os.stat(path).st_mode)
            except OSError as exc:  # a link to nowhere, or links in a loop
                skipped.append((path, f"broken link: {exc.strerror}" if os.path.islink(path) else str(exc)))
                continue
            if not is_file:
                skipped.append((path, "not a regular file"))
            elif not is_image(name):
                skipped.append((path, skip_reason(name)))
            else:
                first = images.setdefault(os.path.realpath(path), path)
                if first != path:
                    skipped.append((path, f"the same file as {first} (a link): listed once"))
    return Walk(sorted(images.values()), skipped)


def list_images(root, *, recursive: bool = True) -> list[str]:
    """Image files under ``root`` (a folder), sorted, absolute (see :func:`walk_images`)."""
    return walk_images(root, recursive=recursive).images
