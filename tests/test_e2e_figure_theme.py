"""Plotly figures shown in a notebook follow JupyterLab's theme after follow_notebook_theme()
(issue 17): background, and axis text at WCAG AA contrast, in Light and in Dark."""

import re

import pytest

from .browser import luminance as _luminance
from .browser import require_browser

pytestmark = pytest.mark.slow

FIGURE = (
    "import plotly.graph_objects as go\n"
    "go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 3, 2]), layout=dict(template='plotly_white', title='curve', "
    "width=500, height=300))"
)
CELLS = ["from rarelab.reporting import follow_notebook_theme\nfollow_notebook_theme()", FIGURE]


def _rgba(text: str) -> list[float]:
    v = [float(x) for x in re.findall(r"[\d.]+", text)]
    return v + [1.0] * (4 - len(v))


def _figure_colours(page) -> tuple[list[float], list[float]]:
    """(plot background, tick text) colours of the last figure, text blended over the background."""
    bg, fg = page.evaluate("""(() => {
        const plots = [...document.querySelectorAll('.jp-OutputArea-output.js-plotly-plot, .jp-OutputArea-output .js-plotly-plot')];
        const p = plots[plots.length - 1];
        const opaque = c => c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0)');
        let bg = p.querySelector('.bglayer .bg') && getComputedStyle(p.querySelector('.bglayer .bg')).fill;
        for (let n = p.querySelector('.main-svg'); !opaque(bg) && n && n.nodeType === 1; n = n.parentElement) {
            bg = getComputedStyle(n).backgroundColor;
        }
        return [opaque(bg) ? bg : getComputedStyle(document.body).backgroundColor,
                getComputedStyle(p.querySelector('.xtick text')).fill];
    })()""")
    bg, fg = _rgba(bg), _rgba(fg)
    a = fg[3]
    return bg, [a * f + (1 - a) * b for f, b in zip(fg[:3], bg[:3])]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import lab_session, open_notebook, run_all, write_notebook

    root = tmp_path_factory.mktemp("theme")
    write_notebook(root / "theme.ipynb", CELLS)
    with lab_session(root) as (url, token), open_notebook(url, token, "theme.ipynb") as page:
        run_all(page)
        page.locator(".jp-OutputArea-output.js-plotly-plot .xtick text").first.wait_for(timeout=60_000)
        yield page


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_a_notebook_figure_follows_the_theme(lab, theme):
    page = lab
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {theme!r}}})")
    page.wait_for_function(f"document.body.dataset.jpThemeName === {theme!r}", timeout=20_000)
    page.wait_for_timeout(800)
    bg, fg = _figure_colours(page)
    dark = _luminance(bg) < 0.1
    assert dark == (theme == "JupyterLab Dark"), (theme, bg)
    la, lb = sorted((_luminance(bg), _luminance(fg)), reverse=True)
    assert (la + 0.05) / (lb + 0.05) >= 4.5, (theme, bg, fg)
