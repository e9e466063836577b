"""One atomic writer for every file rarelab writes: readers see the old or the new content.

``tempfile.mkstemp`` creates files with mode 0600; a report or a shared cache written that
way cannot be read by teammates or a web server, so the new file takes the existing
file's mode, or the mode the umask gives a new file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def target_mode(path: Path) -> int:
    """The mode an atomic replacement of ``path`` should have."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def write_atomic(path, data: bytes | str, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file, ``fsync`` and ``os.replace``.

    Text is written as UTF-8; file names that are not UTF-8 (see :mod:`rarelab.utils._paths`)
    keep their original bytes, so a CSV that names them reads back to the same files.
    """
    payload = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return atomic_path(path, lambda tmp: Path(tmp).write_bytes(payload), fsync=fsync)


def atomic_path(path, writer, *, fsync: bool = True) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically (for np.save etc.)."""
    path = Path(path)
    mode = target_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, mode)
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
