"""The HTML report of a comparison: Fig. 4 curves and a Fig. 2 candidate gallery."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image

from .metrics import write_text_atomic
from .plots import curve_figure, format_probability, summarize


def thumbnail_png(image: np.ndarray, size: int = 64) -> bytes:
    """PNG bytes of an image, upscaled with nearest-neighbour so small signs stay crisp."""
    im = Image.fromarray(image)
    if im.size[0] < size:
        im = im.resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def gallery_html(images, probabilities, is_rare, *, title: str, reference=None) -> str:
    """A grid of candidates, best first, each with its rank and probability (Fig. 2b)."""
    cells = []
    if reference is not None:
        src = base64.b64encode(thumbnail_png(reference)).decode()
        cells.append(f'<figure class="ref"><img src="data:image/png;base64,{src}"><figcaption>training '
                     f'sample</figcaption></figure>')
    for k, (img, p, hit) in enumerate(zip(images, probabilities, is_rare)):
        src = base64.b64encode(thumbnail_png(img)).decode()
        cells.append(f'<figure class="{"hit" if hit else "miss"}"><img src="data:image/png;base64,{src}">'
                     f'<figcaption>#{k + 1} {format_probability(p)}</figcaption></figure>')
    return f"<h3>{html.escape(title)}</h3><div class='gallery'>{''.join(cells)}</div>"


def summary_table(rows: list[dict]) -> list[list[str]]:
    """Rows of (strategy, round, N_rare, rare F1, hits per rare class) as mean ± CI strings."""
    n = summarize(rows, "n_rare")
    f = {s: {p[0]: p for p in pts} for s, pts in summarize(rows, "f1_rare").items()}
    table = [["strategy", "round", "labels used", "N_rare", "rare F1"]]
    labels = {s: {p[0]: p for p in pts} for s, pts in summarize(rows, "labels_used").items()}
    for s, pts in sorted(n.items()):
        for r, m, lo, hi, k in pts:
            fm, flo, fhi = f[s][r][1:4]
            table.append([s, str(r), f"{labels[s][r][1]:.0f}", f"{m:.1f} [{lo:.1f}, {hi:.1f}]",
                          f"{fm:.3f} [{flo:.3f}, {fhi:.3f}]"])
    return table


def format_table(table: list[list[str]]) -> str:
    width = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip() for r in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
.gallery{display:flex;flex-wrap:wrap;gap:6px}
.gallery figure{margin:0;text-align:center;font:11px monospace;border:3px solid #ccc;padding:2px}
.gallery figure.hit{border-color:#2ca02c}.gallery figure.miss{border-color:#d62728}
.gallery figure.ref{border-color:#000}
.gallery img{width:64px;height:64px;image-rendering:pixelated;display:block}
table{border-collapse:collapse;font:13px monospace}td,th{padding:2px 10px;border-bottom:1px solid #eee}
"""


def write_report(path, rows: list[dict], *, title: str, max_n_rare: float | None = None,
                 galleries: list[str] = (), notes: str = "") -> Path:
    """Write the self-contained HTML report (plotly.js inlined: it opens offline)."""
    figs = [curve_figure(rows, "n_rare", title="N_rare per iteration (Fig. 4a)", max_value=max_n_rare),
            curve_figure(rows, "f1_rare", title="Rare-class F1 per iteration (Fig. 4c)")]
    parts = [f.to_html(full_html=False, include_plotlyjs=(k == 0)) for k, f in enumerate(figs)]
    table = summary_table(rows)
    table_html = "<table>" + "".join(
        "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>" for c in r)
        + "</tr>" for i, r in enumerate(table)) + "</table>"
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{notes}</p>"
           f"{''.join(parts)}<h2>Mean and 95% CI over seeds</h2>{table_html}"
           f"<h2>Top candidates (Fig. 2)</h2><p>Green: the rare class; red: another class. "
           f"The probability is the model's softmax output for the rare class.</p>{''.join(galleries)}"
           "</body></html>")
    path = Path(path)
    write_text_atomic(path, doc)
    return path
