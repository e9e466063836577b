"""Small helpers shared by the composite widgets."""

from __future__ import annotations

import functools

import ipywidgets as W

from ..reporting import theme_css


def shows_errors(output):
    """Decorate a callback so its exceptions appear in ``output`` instead of vanishing.

    ipywidgets drops exceptions raised in button and observe callbacks into the kernel
    log, where nobody looks; the error type and message go to the Output widget instead.
    The next action clears them: an error on screen is always about the last action.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            output.clear_output()
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed
                output.append_stderr(f"{type(exc).__name__}: {exc}\n")

        return inner

    return wrap


# Inside a rarelab widget the plotly figures take JupyterLab's colours, whichever theme is on.
_THEME_CSS = theme_css(".rarelab-themed")


def themed(box: W.Box) -> W.Box:
    """Give ``box`` (a composite widget) JupyterLab's theme colours for its plotly figures."""
    box.add_class("rarelab-themed")
    box.children = (W.HTML(_THEME_CSS), *box.children)
    return box
