"""Class tokens as people write them (names, ids, ``rarest:K``) resolved to class ids."""

from __future__ import annotations

import difflib

import numpy as np

from ..utils import check_int, param_error
from ._splits import rarest_classes


def resolve_classes(tokens, classes, *, owner: str = "resolve_classes", name: str = "rare_classes") -> list[int]:
    """Class ids of ``tokens``: names first (folders called ``00014`` are names), ids second.

    A digit token that is both a class name and a different class's id resolves to the
    name; the error for an unknown token says which names and ids exist.
    """
    out = []
    for item in tokens:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(check_int(owner, name, int(item), low=0, high=len(classes) - 1))
            continue
        item = str(item).strip()
        if item in classes:
            out.append(classes.index(item))
        elif item.isdigit() and int(item) < len(classes):
            out.append(int(item))
        else:
            near = difflib.get_close_matches(item, classes, n=3)
            hint = (
                f"Did you mean {near}?" if near else f"Known classes: {classes[:8]}{'...' if len(classes) > 8 else ''}"
            )
            raise param_error(owner, name, f"class names, or class ids in [0, {len(classes) - 1}]", item, hint)
    return sorted(set(out))


def resolve_rare_classes(spec, targets, classes) -> list[int]:
    """``"rarest:K"``, class names, ids, or a comma-separated mix (names take precedence)."""
    if isinstance(spec, str) and spec.startswith("rarest:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            raise param_error("resolve_rare_classes", "rare_classes", "'rarest:K' with an int K", spec) from None
        return rarest_classes(targets, k)
    items = [s for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    return resolve_classes(items, list(classes), owner="resolve_rare_classes")
