"""Locate the front-end files (see :func:`rarelab.utils.front_end_file`)."""

from __future__ import annotations

from ..utils import front_end_file as asset

__all__ = ["asset"]
