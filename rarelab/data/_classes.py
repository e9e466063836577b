"""Class names as people write them, resolved to class ids by one rule (:func:`find_class`).

The rule, used by the command line, the Python API and the labels of a CSV: the exact
name first; else the one class whose name is the same ignoring case, spaces around and
between words, and Unicode normalization (a macOS folder's NFD ``Café`` is a typed NFC
``café``); else an error with the names that come close.
"""

from __future__ import annotations

import difflib
import unicodedata

import numpy as np

from ..utils import check_int, param_error, printable_path
from ._splits import rarest_classes


def class_key(text) -> str:
    """A class name as :func:`find_class` compares it: NFC, case-folded, words single-spaced,
    and bytes that are not UTF-8 (a folder name from an old share) as U+FFFD, as tables show them."""
    return " ".join(unicodedata.normalize("NFC", printable_path(str(text))).casefold().split())


def clean_name(text) -> str:
    """A class name as a new class takes it: NFC, words single-spaced (case kept)."""
    return " ".join(unicodedata.normalize("NFC", str(text)).split())


def find_class(text, classes) -> int | None:
    """The index of the class ``text`` names, or None (no class, or several equally close).

    In order, the first tier that fits exactly one class: the exact name; the name
    ignoring whitespace around and between words and Unicode normalization (NFC/NFD);
    the name ignoring case as well. Classes ``a`` and ``A`` stay two classes: ``"a "``
    names ``a``, ``"B"`` names ``b`` if no ``B`` exists.

    Examples
    --------
    >>> find_class(" No Entry ", ["no entry", "stop"])
    0
    >>> find_class("yield", ["no entry", "stop"]) is None
    True
    """
    text = str(text)
    classes = [str(c) for c in classes]
    if text in classes:
        return classes.index(text)
    for key in (clean_name, class_key):
        hits = [i for i, c in enumerate(classes) if key(c) == key(text)]
        if hits:
            return hits[0] if len(hits) == 1 else None
    return None


def class_hint(text, classes) -> str:
    """Why ``text`` names no class of ``classes``, and what comes close."""
    classes = [str(c) for c in classes]
    key = class_key(text)
    same = [c for c in classes if class_key(c) == key]
    if len(same) > 1:
        return f"It fits {same} alike (they differ only in case or spaces): write it exactly as one of them."
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if len(parts) > 1 and any(find_class(p, classes) is not None for p in parts):
        bad = [p for p in parts if find_class(p, classes) is None and not p.isdigit()]
        near = "; ".join(f"{b!r}: {_near(b, classes)}" for b in bad) if bad else "some are not class ids"
        return (
            f"As a list of classes, it holds names of no class ({near}). A class whose name holds a comma is "
            "given whole: on the command line, repeat the option once per class."
        )
    return _near(text, classes)


def _near(text, classes: list[str]) -> str:
    keys = {}
    for c in classes:
        keys.setdefault(class_key(c), c)
    near = [keys[k] for k in difflib.get_close_matches(class_key(text), list(keys), n=3)]
    text = str(text).strip()
    if text.isdigit():  # "33" for a folder called "00033": the same number, zero-padded
        near = [c for c in classes if c.isdigit() and int(c) == int(text)] + near
    near = list(dict.fromkeys(near))[:3]
    if near:
        return f"Did you mean {' or '.join(map(repr, near))}?"
    return f"Known classes: {classes[:8]}{' ...' if len(classes) > 8 else ''}."


def match_class(text, classes, *, owner: str = "match_class", name: str = "name") -> int:
    """The index of the class ``text`` names by :func:`find_class`'s rule; an error that
    names ``owner`` and ``name`` and says which names come close where none fits.

    Examples
    --------
    >>> match_class("CAFÉ", ["café", "stop"])
    0
    """
    i = find_class(text, classes)
    if i is None:
        raise param_error(owner, name, "a class name", str(text), class_hint(text, classes))
    return i


def split_class_names(values, classes, *, ids: bool = False) -> list:
    """The classes a command line's values name: each value is one name as written; a value
    that is no class but whose every comma-separated part is one (a name, or with ``ids`` a
    class id) names those classes (``--rare stop,yield``).

    Known names come back as spelled in ``classes``, unknown values unchanged (the caller
    decides whether a new name is fine); ints pass through.

    Examples
    --------
    >>> split_class_names(["Stop,yield", "no entry, except buses"], ["no entry, except buses", "stop", "yield"])
    ['stop', 'yield', 'no entry, except buses']
    """
    classes = list(classes)
    out = []
    for v in [values] if isinstance(values, str) else values:
        if not isinstance(v, str):
            out.append(v)
            continue
        i = find_class(v, classes)
        if i is not None:
            out.append(classes[i])
            continue
        parts = [p for p in v.split(",") if p.strip()]
        found = [_name_or_id(p, classes, ids) for p in parts]
        if "," in v and parts and all(f is not None for f in found):
            out += found
        else:
            out.append(v)
    return list(dict.fromkeys(out))


def _name_or_id(text: str, classes: list, ids: bool):
    i = find_class(text, classes)
    if i is not None:
        return classes[i]
    if ids and text.strip().isdigit() and int(text) < len(classes):
        return int(text)
    return None


def resolve_classes(tokens, classes, *, owner: str = "resolve_classes", name: str = "rare_classes") -> list[int]:
    """Class ids of ``tokens``: names first by :func:`find_class`'s rule (folders called
    ``00014`` are names), ids second.

    A digit token that is both a class name and a different class's id resolves to the
    name; the error for an unknown token says which names come close, or which exist.
    """
    classes = list(classes)
    out = []
    for item in tokens:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(check_int(owner, name, int(item), low=0, high=len(classes) - 1))
            continue
        i = find_class(item, classes)
        if i is not None:
            out.append(i)
        elif str(item).strip().isdigit() and int(item) < len(classes):
            out.append(int(item))
        else:
            expected = f"class names, or class ids in [0, {len(classes) - 1}]"
            raise param_error(owner, name, expected, str(item), class_hint(item, classes))
    return sorted(set(out))


def resolve_rare_classes(spec, targets, classes) -> list[int]:
    """``"rarest:K"``, class names, ids, or a list of those; a value that is no class name
    but whose comma-separated parts are names or ids names those (see :func:`split_class_names`)."""
    if isinstance(spec, str):
        spec = [spec]
    spec = list(spec)
    if len(spec) == 1 and isinstance(spec[0], str) and spec[0].strip().startswith("rarest:"):
        try:
            k = int(spec[0].split(":", 1)[1])
        except ValueError:
            raise param_error("resolve_rare_classes", "rare_classes", "'rarest:K' with an int K", spec[0]) from None
        return rarest_classes(targets, k)
    items = split_class_names(spec, list(classes), ids=True)
    return resolve_classes(items, list(classes), owner="resolve_rare_classes")
