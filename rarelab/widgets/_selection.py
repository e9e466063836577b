"""Which points lie inside a plotly figure's selections (``layout.selections``).

plotly.js keeps every box and lasso a person draws in the figure's layout and sends each
change to Python as a relayout, so the layout is the one state the plot and Python share.
"""

from __future__ import annotations

import re

import numpy as np

_TOKEN = re.compile(r"[MLHVZmlhvz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def path_polygons(path: str) -> list[np.ndarray]:
    """The polygons of an SVG path as plotly writes a lasso (``M x,y L x,y … Z``).

    Absolute ``M``, ``L``, ``H``, ``V`` and ``Z`` are what plotly writes; each ``M`` starts a
    new polygon. Relative commands raise ``ValueError`` (plotly never writes them).

    >>> [p.tolist() for p in path_polygons("M0,0L2,0L2,1Z")]
    [[[0.0, 0.0], [2.0, 0.0], [2.0, 1.0]]]
    """
    polygons, current, cmd, nums = [], [], None, []

    def flush():
        if cmd in ("M", "L"):
            for i in range(0, len(nums) - 1, 2):
                if cmd == "M" and i == 0 and current:
                    polygons.append(np.array(current, dtype=float))
                    current.clear()
                current.append((nums[i], nums[i + 1]))
        elif cmd == "H":
            current.extend((x, current[-1][1]) for x in nums)
        elif cmd == "V":
            current.extend((current[-1][0], y) for y in nums)

    for tok in _TOKEN.findall(path):
        if tok.isalpha():
            flush()
            if tok.islower() and tok != "z":
                raise ValueError(f"relative path command {tok!r} in a selection path: {path[:80]!r}")
            cmd, nums = tok.upper(), []
        else:
            nums.append(float(tok))
    flush()
    if current:
        polygons.append(np.array(current, dtype=float))
    return [p for p in polygons if len(p) >= 3]


def in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd test of the points ``(x, y)`` against a closed polygon (the fill rule plotly
    draws a selection with)."""
    inside = np.zeros(len(x), dtype=bool)
    xs, ys = polygon[:, 0], polygon[:, 1]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(np.roll(xs, 1), np.roll(ys, 1))):
        crosses = (y0 > y) != (y1 > y)
        if not crosses.any() or y0 == y1:
            continue
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


def in_selections(x, y, selections) -> np.ndarray:
    """Mask of the points ``(x, y)`` inside any of ``selections`` (``layout.selections`` as
    dicts: ``type='rect'`` with ``x0, x1, y0, y1``, or ``type='path'`` with ``path``).

    >>> in_selections([0.5, 3.0, 1.0], [0.5, 0.5, 2.5],
    ...               [dict(type="rect", x0=0, x1=1, y0=0, y1=1), dict(type="path", path="M0,2L2,2L2,3L0,3Z")])
    array([ True, False,  True])
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mask = np.zeros(len(x), dtype=bool)
    for sel in selections or ():
        if sel.get("type", "rect") == "path" or sel.get("path"):
            inside = np.zeros(len(x), dtype=bool)
            for polygon in path_polygons(sel["path"]):
                inside ^= in_polygon(x, y, polygon)
            mask |= inside
        else:
            (x0, x1), (y0, y1) = sorted((sel["x0"], sel["x1"])), sorted((sel["y0"], sel["y1"]))
            mask |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return mask
