"""Small helpers shared by the composite widgets."""

from __future__ import annotations

import functools

import ipywidgets as W


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


# Plotly draws its figures with the colours of its template (white paper, dark text); in
# JupyterLab's dark theme those are white blocks. Inside a rarelab widget the figures take
# JupyterLab's own colours instead, whichever theme is on, through its CSS variables.
_THEME_CSS = """<style>
.rarelab-themed .js-plotly-plot .plotly .main-svg { background: transparent !important; }
.rarelab-themed .js-plotly-plot .plotly .bg { fill: var(--jp-layout-color0, #fff) !important; }
.rarelab-themed .js-plotly-plot .plotly text { fill: var(--jp-ui-font-color1, #222) !important; }
.rarelab-themed .js-plotly-plot .plotly .gridlayer path,
.rarelab-themed .js-plotly-plot .plotly .zerolinelayer path { stroke: var(--jp-border-color2, #e0e0e0) !important; }
.rarelab-themed .js-plotly-plot .plotly .legend .bg { fill: transparent !important; }
.rarelab-themed .widget-html-content, .rarelab-themed .widget-label { color: var(--jp-ui-font-color1, #222); }
</style>"""


def themed(box: W.Box) -> W.Box:
    """Give ``box`` (a composite widget) JupyterLab's theme colours for its plotly figures."""
    box.add_class("rarelab-themed")
    box.children = (W.HTML(_THEME_CSS), *box.children)
    return box
