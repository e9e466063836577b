"""Locate the front-end files: inside the wheel (rarelab/_widgets) or the source tree (widgets/)."""

from __future__ import annotations

from pathlib import Path


def asset(name: str) -> Path:
    here = Path(__file__).resolve().parent.parent
    for folder in (here / "_widgets", here.parent / "widgets"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"rarelab widget asset {name!r} is missing; reinstall rarelab.")
