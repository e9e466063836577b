"""Images in HTML: one PNG encoder and one candidate gallery for every page rarelab writes
(the comparison report and the gallery widget's static fallback; ``candidates.html`` embeds
the same PNG data URIs in its labeling page)."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

_BORDER = {"hit": "#2ca02c", "miss": "#d62728", "ref": "#000", None: "#ccc"}


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """PNG bytes of an RGB uint8 array (h, w, 3); enlarged to ``size`` x ``size`` with
    nearest-neighbour when smaller, so small signs stay crisp."""
    im = Image.fromarray(np.ascontiguousarray(image))
    if size is not None and im.size[0] < size:
        im = im.resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def png_data_uri(image: np.ndarray, size: int | None = None) -> str:
    """An RGB array as a ``data:image/png`` URI (see :func:`png_bytes`)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, size)).decode()


def gallery_html(
    images,
    captions,
    *,
    title: str = "",
    marks=None,
    reference=None,
    reference_caption: str = "training sample",
    size: int = 64,
) -> str:
    """A self-contained grid of candidates, best first (the paper's Fig. 2b).

    Parameters
    ----------
    images : sequence of uint8 arrays (h, w, 3)
    captions : sequence of str or of lists of str
        Each candidate's caption lines (escaped here), e.g. rank and probability.
    title : str
    marks : sequence of {"hit", "miss", None}, optional
        Border colour per candidate: green for the rare class, red for another.
    reference : uint8 array, optional
        The training sample or template shown first, with a black border.
    size : int
        Side of every thumbnail in CSS pixels.
    """
    marks = [None] * len(images) if marks is None else list(marks)

    def cell(img, lines, mark, alt):
        lines = [lines] if isinstance(lines, str) else list(lines)
        text = "<br>".join(html.escape(str(t)) for t in lines)
        return (
            f'<figure style="display:inline-block;margin:3px;padding:2px;border:3px solid {_BORDER[mark]};'
            f'text-align:center;font:11px monospace;vertical-align:top;width:{size + 4}px">'
            f'<img src="{png_data_uri(img, size)}" width="{size}" height="{size}" alt="{html.escape(alt)}" '
            f'style="image-rendering:pixelated;display:block"><figcaption>{text}</figcaption></figure>'
        )

    cells = [] if reference is None else [cell(reference, reference_caption, "ref", reference_caption)]
    cells += [cell(im, c, m, f"candidate {k + 1}") for k, (im, c, m) in enumerate(zip(images, captions, marks))]
    head = f"<h3>{html.escape(title)}</h3>" if title else ""
    return f"{head}<div class='rarelab-gallery'>{''.join(cells)}</div>"
