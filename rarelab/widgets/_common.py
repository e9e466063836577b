"""Small helpers shared by the composite widgets."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image


def png_bytes(image: np.ndarray, size: int = 96) -> bytes:
    """PNG of an RGB array, upscaled without blurring so small signs stay legible."""
    im = Image.fromarray(image).resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def shows_errors(output):
    """Decorate a callback so its exceptions appear in ``output`` instead of vanishing."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with output:
                try:
                    return fn(*args, **kwargs)
                except Exception:
                    output.clear_output(wait=True)
                    raise  # Output.capture-style: the traceback is printed into the Output widget

        return inner

    return wrap
