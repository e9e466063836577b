"""Tables people write: CSVs as spreadsheets save them, Parquet manifests and plain path lists.

Every table rarelab reads goes through :func:`read_table`, so each reads the same CSVs:
UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8") or UTF-16 with one (Excel's
"Unicode Text"); ``,`` ``;`` tab or ``|`` between fields, whichever makes the header hold
the columns asked for; any line ends; header names matched ignoring case, spaces and
``-``/``_`` (``Path``, `` Label ``, ``Item ID``); blank rows skipped. A file that is not
UTF-8 (a legacy "CSV (Comma delimited)" in Windows-1252) is refused with the line, column
and bytes at fault rather than guessed at, since a guessed encoding can invent class names.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..exceptions import DataUnavailableError, InvalidParameterError
from ..utils import printable_path
from ._walk import list_images

DELIMITERS = (",", ";", "\t", "|")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class TableError(InvalidParameterError):
    """A table a person wrote is wrong at one place; the message names the file, line and column."""

    def __init__(self, path, message: str, *, line: int | None = None, column: str | None = None, where="line"):
        self.path, self.line, self.column = str(path), line, column
        place = repr(self.path) + (f", {where} {line}" if line is not None else "")
        place += f", column {column!r}" if column is not None else ""
        super().__init__(f"{place}: {message}")


@dataclass
class Table:
    """Rows of a table as :func:`read_table` found them.

    ``rows`` are dicts keyed by each column's normalized name (see :func:`column_key`);
    ``lines[k]`` is the line of the file where row ``k`` starts (a Parquet file's row
    number), for messages that point at it.
    """

    path: Path
    columns: list[str]
    rows: list[dict[str, str]] = field(repr=False)
    lines: list[int] = field(repr=False)
    delimiter: str | None = None
    encoding: str = "utf-8"

    def __len__(self) -> int:
        return len(self.rows)

    def error(self, message: str, *, line: int | None = None, column: str | None = None) -> TableError:
        """A :class:`TableError` at ``line`` / ``column`` of this table."""
        where = "row" if self.path.suffix.lower() == ".parquet" else "line"
        return TableError(self.path, message, line=line, column=column, where=where)


def column_key(name) -> str:
    """A header name as compared: ``" Item ID "``, ``"item-id"`` and ``"ITEM_ID"`` are ``"item_id"``."""
    text = unicodedata.normalize("NFC", str(name)).strip().casefold()
    return "_".join(text.replace("-", " ").replace("_", " ").split())


def read_table(path, *, required=(), owner: str = "read_table", encoding: str | None = None) -> Table:
    """Read a CSV (or Parquet) file a person or a spreadsheet wrote.

    Parameters
    ----------
    path : path
        A ``.csv``, ``.tsv`` or ``.txt`` table, or a ``.parquet`` file.
    required : tuple
        The columns that must be there; a tuple among them means "one of these", e.g.
        ``(("path", "item_id"), "label")``. The delimiter is the one of ``, ; tab |`` that
        makes the header hold them (among several, the one giving the most columns).
    owner : str
        Who reads the table, for the messages.
    encoding : str, optional
        None reads UTF-8 (a byte-order mark is stripped; UTF-16 needs one); give e.g.
        ``"cp1252"`` to read a legacy file.

    Raises
    ------
    TableError
        Names the file, line and column, for a missing column, an undecodable byte, or a
        row with more values than the header has names.

    Examples
    --------
    >>> t = read_table("answers.csv", required=(("path", "item_id"), "label"))  # doctest: +SKIP
    >>> t.rows[0]["label"], t.lines[0]                                         # doctest: +SKIP
    ('stop', 2)
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"{owner}: the table {str(path)!r} does not exist or is not a file.")
    required = [(r,) if isinstance(r, str) else tuple(r) for r in required]
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, required, owner)
    text, enc = _decode(path, path.read_bytes(), encoding)
    header_line, header, delimiter = _header(path, text, required, owner)
    columns = [column_key(h) for h in header]
    wanted = {c for group in required for c in group}
    seen: dict[str, int] = {}
    for k, c in enumerate(columns):
        if c in wanted and c in seen:
            raise TableError(
                path, f"two columns are called {c!r} (columns {seen[c] + 1} and {k + 1}).", line=header_line
            )
        seen.setdefault(c, k)
    rows, lines = [], []
    for line, fields in _records(path, text, delimiter):
        if line <= header_line:
            continue
        extra = [f for f in fields[len(columns) :] if f.strip()]
        if extra:
            raise TableError(
                path,
                f"{len(fields)} values but the header names {len(columns)} columns ({extra[0]!r} is one too many). "
                f"A value holding {_show(delimiter)} must be in double quotes.",
                line=line,
            )
        fields += [""] * (len(columns) - len(fields))
        rows.append({c: fields[seen[c]] for c in seen})
        lines.append(line)
    if enc == "utf-8":
        _check_decoded(path, ((n, c, v) for n, r in zip(lines, rows) for c, v in r.items()))
    return Table(path, columns, rows, lines, delimiter, enc)


def _show(delimiter: str) -> str:
    return {"\t": "a tab"}.get(delimiter, repr(delimiter))


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """The file's text: by its byte-order mark, else UTF-8 with undecodable bytes kept as
    surrogates so that :func:`_check_decoded` can say which line and column hold them."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise TableError(path, f"cannot be read as {encoding}: {exc}.") from None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise TableError(path, f"starts with a {enc} byte-order mark but is not {enc}: {exc}.") from None
    return data.decode("utf-8", errors="surrogateescape"), "utf-8"


def _check_decoded(path: Path, cells) -> None:
    """Raise at the first of ``(line, column, value)`` holding a byte UTF-8 could not decode."""
    for line, column, value in cells:
        bad = next((ch for ch in value if "\udc80" <= ch <= "\udcff"), None)
        if bad is None:
            continue
        raw = value.encode("utf-8", errors="surrogateescape")
        raise TableError(
            path,
            f"is not UTF-8: byte 0x{ord(bad) - 0xDC00:02X} in {raw!r}. It looks like a legacy "
            f"'CSV (Comma delimited)' file (read as Windows-1252 it would say "
            f"{raw.decode('cp1252', errors='replace')!r}); rarelab does not guess encodings. "
            "Save it again as 'CSV UTF-8 (Comma delimited)' (Excel) or as UTF-8 text, "
            "or, in Python, pass encoding='cp1252' to rarelab.data.read_table.",
            line=line,
            column=column,
        )


def _records(path: Path, text: str, delimiter: str):
    """``(line where the record starts, fields)`` of each non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    prev = 0
    try:
        for fields in reader:
            start, prev = prev + 1, reader.line_num
            if any(f.strip() for f in fields):  # blank lines and Excel's trailing ',,' rows
                yield start, fields
    except csv.Error as exc:
        raise TableError(path, f"is not a readable CSV there: {exc}.", line=reader.line_num) from None


def _header(path: Path, text: str, required, owner: str) -> tuple[int, list[str], str]:
    """The header's line, names and the delimiter that makes it hold the ``required`` columns."""
    found = []
    for d in DELIMITERS:
        first = next(_records(path, text, d), None)
        if first is None:
            raise TableError(path, f"is empty: {owner} needs a header line with the columns {_names(required)}.")
        line, names = first
        keys = {column_key(n) for n in names}
        if all(keys & set(group) for group in required):
            found.append((len(names), -DELIMITERS.index(d), line, names, d))
    if found:
        _, _, line, names, d = max(found)
        _check_decoded(path, ((line, None, n) for n in names))
        return line, names, d
    line, names = max((next(_records(path, text, d)) for d in DELIMITERS), key=lambda r: len(r[1]))
    _check_decoded(path, ((line, None, n) for n in names))
    missing = [g for g in required if not {column_key(n) for n in names} & set(g)]
    raise TableError(
        path,
        f"{owner} needs the columns {_names(required)}; its header has {names}, without {_names(missing)}. "
        "Names are matched ignoring case and spaces; fields may be separated by , ; tab or |.",
        line=line,
    )


def _names(groups) -> str:
    return " and ".join(" or ".join(repr(c) for c in g) for g in groups)


def _read_parquet(path: Path, required, owner: str) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataUnavailableError(
            "Reading a Parquet table needs pyarrow: pip install pyarrow (or use a CSV)."
        ) from exc
    data = pq.read_table(path).to_pydict()
    columns = [column_key(c) for c in data]
    missing = [g for g in required if not set(columns) & set(g)]
    if missing:
        raise TableError(path, f"{owner} needs the columns {_names(required)}; it has {list(data)}.")
    n = len(next(iter(data.values()), []))
    cols = {column_key(c): ["" if v is None else str(v) for v in vals] for c, vals in data.items()}
    return Table(path, columns, [{c: cols[c][k] for c in cols} for k in range(n)], list(range(1, n + 1)), None, "")


def _file_path(text: str, base: Path) -> Path:
    """A path cell as a file: ``~`` expanded, ``\\`` a folder separator, relative to ``base``."""
    text = text.strip()
    if os.sep == "/":
        text = text.replace("\\", "/")
    p = Path(text).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def table_paths(table: Table, *, base=None, column: str = "path") -> list[str]:
    """The absolute files of ``table``'s ``column``: relative paths are read from ``base``
    (default: the table's own folder), ``\\`` separates folders, an empty cell is an error."""
    base = Path(base).expanduser() if base is not None else table.path.parent
    out = []
    for row, line in zip(table.rows, table.lines):
        if not row[column].strip():
            raise table.error("the path is empty.", line=line, column=column)
        out.append(str(_file_path(row[column], base)))
    return out


def read_manifest(path, *, base=None) -> dict[str, list]:
    """Columns of a CSV or Parquet manifest (``path`` required; ``label`` and ``group`` optional),
    read by :func:`read_table`; keys are normalized column names.

    Relative paths are taken relative to ``base`` (default: the manifest's folder).
    """
    table = read_table(path, required=("path",), owner="read_manifest")
    cols = {c: [r[c] for r in table.rows] for c in dict.fromkeys(table.columns)}
    cols["path"] = table_paths(table, base=base)
    return cols


def read_path_list(path) -> list[str]:
    """The files of a ``.txt`` list, one a line, relative to the list's folder; blank lines
    are skipped, a byte-order mark and any line ends are fine, ``\\`` separates folders."""
    path = Path(path).expanduser()
    text, enc = _decode(path, path.read_bytes(), None)
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if enc == "utf-8":
            _check_decoded(path, [(n, None, line)])
        out.append(str(_file_path(line, path.parent)))
    return out


def image_sources(source) -> list[str]:
    """Files of a pool given as a folder (read recursively), a manifest, or a list of paths."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if p.is_dir():
            return list_images(p)
        if p.suffix.lower() == ".txt":
            if not p.is_file():
                raise DataUnavailableError(f"The file list {str(p)!r} does not exist.")
            return read_path_list(p)
        if p.suffix.lower() in (".csv", ".tsv", ".parquet"):
            return read_manifest(p)["path"]
        raise DataUnavailableError(f"{str(p)!r} is neither a folder nor a .csv/.tsv/.parquet/.txt manifest.")
    return [str(Path(f).expanduser().resolve()) for f in source]


class PathIndex:
    """Find one of ``paths`` by what a person wrote of it.

    In order: the path itself (relative paths read from ``base``, ``\\`` a folder
    separator, Unicode forms NFC/NFD equal); else the one path that ends with what was
    written (a bare file name as ``candidates.html`` shows it, or ``batch2/x.png``).
    :meth:`find` raises :class:`LookupError` with the reason when none or several fit.
    """

    def __init__(self, paths):
        self.paths = [str(p) for p in paths]
        self._exact: dict[str, int] = {}
        self._by_name: dict[str, list[int]] = {}
        for i, p in enumerate(self.paths):
            self._exact.setdefault(_nfc(p), i)
            self._by_name.setdefault(_nfc(Path(p).name), []).append(i)

    def find(self, text: str, *, base) -> int:
        text = text.strip()
        if not text:
            raise LookupError("the path is empty")
        p = _file_path(text, Path(base))
        if _nfc(str(p)) in self._exact:
            return self._exact[_nfc(str(p))]
        written = PurePosixPath(text.replace("\\", "/") if os.sep == "/" else text)
        parts = tuple(_nfc(s) for s in written.parts if s != ".")
        if written.is_absolute() or ".." in parts or not parts:
            raise LookupError(f"{text!r} is not a file of this search")
        hits = [i for i in self._by_name.get(parts[-1], []) if _parts(self.paths[i])[-len(parts) :] == parts]
        if len(hits) == 1:
            return hits[0]
        if hits:
            shown = ", ".join(repr(self.paths[i]) for i in hits[:5]) + (" ..." if len(hits) > 5 else "")
            raise LookupError(
                f"{text!r} fits {len(hits)} files of this search ({shown}); write more of its path to pick one"
            )
        raise LookupError(
            f"{text!r} is not a file of this search (relative paths are read from {os.path.abspath(base)!r}, "
            "the table's folder; a file name or the end of a path must fit exactly one file)"
        )


def _nfc(text: str) -> str:
    # As rarelab's own tables write names that are not UTF-8: their odd bytes as U+FFFD.
    return unicodedata.normalize("NFC", printable_path(text))


def _parts(path: str) -> tuple[str, ...]:
    return tuple(_nfc(s) for s in Path(path).parts)
