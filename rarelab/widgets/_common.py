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
    """Decorate a callback so its exceptions appear in ``output`` instead of vanishing.

    ipywidgets drops exceptions raised in button and observe callbacks into the kernel
    log, where nobody looks; the error type and message go to the Output widget instead.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed
                output.append_stderr(f"{type(exc).__name__}: {exc}\n")

        return inner

    return wrap
