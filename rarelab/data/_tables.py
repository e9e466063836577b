"""Tables people write: CSV/Parquet manifests and plain path lists."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..exceptions import DataUnavailableError
from ..utils import param_error
from ._walk import list_images


def read_manifest(path, *, base=None) -> dict[str, list]:
    """Columns of a CSV or Parquet manifest (``path`` required; ``label`` and ``group`` optional).

    Relative paths are taken relative to ``base`` (default: the manifest's folder).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"Manifest {str(path)!r} does not exist.")
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DataUnavailableError(
                "Reading a Parquet manifest needs pyarrow: pip install pyarrow (or use a CSV manifest)."
            ) from exc
        cols = pq.read_table(path).to_pydict()
    else:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            names = reader.fieldnames or []
        cols = {n: [r[n] for r in rows] for n in names}
    if "path" not in cols:
        raise param_error(
            "read_manifest",
            "path",
            "a CSV/Parquet file with a 'path' column",
            str(path),
            f"Its columns are {sorted(cols)}.",
        )
    base = Path(base) if base is not None else path.parent
    cols["path"] = [
        str((base / p).resolve()) if not os.path.isabs(p) else str(Path(p).resolve()) for p in map(str, cols["path"])
    ]
    return cols


def image_sources(source) -> list[str]:
    """Files of a pool given as a folder (read recursively), a manifest, or a list of paths."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if p.is_dir():
            return list_images(p)
        if p.suffix.lower() in (".csv", ".parquet", ".txt"):
            if p.suffix.lower() == ".txt":
                lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
                return [str((p.parent / ln).resolve()) for ln in lines]
            return read_manifest(p)["path"]
        raise DataUnavailableError(f"{str(p)!r} is neither a folder nor a .csv/.parquet/.txt manifest.")
    return [str(Path(f).expanduser().resolve()) for f in source]
