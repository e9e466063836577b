"""An inter-process lock on a file: two kernels filling one cache take turns."""

from __future__ import annotations

import contextlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows has no flock; there one process fills a cache at a time
    fcntl = None


@contextlib.contextmanager
def exclusive(path):
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the ``with``
    block, waiting while another process or thread holds it."""
    if fcntl is None:
        yield
        return
    with open(Path(path), "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
