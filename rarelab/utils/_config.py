"""Reading the JSON files a run directory keeps its settings in."""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import InvalidParameterError


def read_json_config(path) -> dict:
    """A run's ``config.json`` as a dict, with a clear error for a file that is not a JSON object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidParameterError(
            f"{str(path)!r} is not valid JSON ({exc}). Restore it, or start a new run in another folder."
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{str(path)!r} must hold a JSON object, not {type(data).__name__}.")
    return data
