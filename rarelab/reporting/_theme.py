"""Plotly figures in JupyterLab's colours, whichever theme is on.

Plotly draws a figure with its template's colours (white paper, dark text): in JupyterLab's
Dark theme that is a white block. A kernel cannot know the theme, and the theme can change
while a figure is on screen, so the figures take JupyterLab's own colours from its CSS
variables (``--jp-layout-color0``, ``--jp-ui-font-color1``, ``--jp-border-color2``) instead,
through a style sheet: scoped to rarelab's widgets (:func:`rarelab.widgets` does it), or to
every output of a notebook (:func:`follow_notebook_theme`). Outside JupyterLab (a static
page, the docs site) the fallbacks are plotly_white's own colours.
"""

from __future__ import annotations


def theme_css(scope: str) -> str:
    """A ``<style>`` that gives the plotly figures under the CSS selector ``scope`` JupyterLab's
    theme colours: background, text (axis, legend, annotations) and grid lines."""
    # the figure inside the scope, or the scope itself (JupyterLab's plotly output is both)
    roots = [f"{scope} .js-plotly-plot .plotly", f"{scope}.js-plotly-plot .plotly"]

    def sel(*parts: str) -> str:
        return ", ".join(f"{r} {p}".rstrip() for r in roots for p in parts)

    return f"""<style>
{sel(".main-svg")} {{ background: transparent !important; }}
{sel(".bg")} {{ fill: var(--jp-layout-color0, #fff) !important; }}
{sel("text")} {{ fill: var(--jp-ui-font-color1, #222) !important; }}
{sel(".gridlayer path", ".zerolinelayer path")} {{ stroke: var(--jp-border-color2, #e0e0e0) !important; }}
{sel(".legend .bg")} {{ fill: transparent !important; }}
{scope} .widget-html-content, {scope} .widget-label {{ color: var(--jp-ui-font-color1, #222); }}
</style>"""


def follow_notebook_theme() -> None:
    """Make every plotly figure shown in this notebook follow JupyterLab's theme, Light or Dark,
    including a switch made later (one call, e.g. in the notebook's first cell).

    It displays a style sheet as the cell's output; the figures keep their data colours and
    take the theme's background, text and grid colours. In a plain Python session it does
    nothing visible.
    """
    from IPython.display import HTML, display

    display(HTML(theme_css(".jp-OutputArea-output")))
