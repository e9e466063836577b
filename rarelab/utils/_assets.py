"""Locate the front-end files (widgets, the labeling page): inside the wheel (``rarelab/_widgets``)
or the source tree (``widgets/``)."""

from __future__ import annotations

from pathlib import Path


def front_end_file(name: str) -> Path:
    """The path of the front-end file ``name`` (an ES module, CSS or HTML template).

    Raises
    ------
    FileNotFoundError
        The file is in neither place: the installation is incomplete.
    """
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "_widgets", package.parent / "widgets"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"rarelab front-end file {name!r} is missing; reinstall rarelab.")
