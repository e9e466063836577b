"""File names as the operating system gives them, stored and shown without loss.

On Linux a file name is bytes: a name written on an old Windows share or by a camera may
not be valid UTF-8 (``caf\\xe9.png`` in Latin-1). Python hands such names out as ``str``
with lone surrogates (PEP 383 ``surrogateescape``); these helpers keep them exact in
SQLite and in files, and printable in messages.
"""

from __future__ import annotations

import os


def path_to_sql(path: str) -> str | bytes:
    """``path`` as an SQLite value: text when it is valid UTF-8, else its raw bytes (a BLOB)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def path_from_sql(value: str | bytes) -> str:
    """Undo :func:`path_to_sql`."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def printable_path(path) -> str:
    """``path`` for messages and pages: bytes that are not UTF-8 shown as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")
