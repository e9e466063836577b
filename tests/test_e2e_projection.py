"""The projection view's selections in JupyterLab (a server of its own: the notebook-safety
module keeps one open for its whole module): what the plot outlines is what Python holds,
for a lasso, a box after switching tools, a double click, a box drawn while the kernel is
busy, and after labeling."""

import json
import re

import pytest

from .browser import require_browser
from .test_e2e_notebook_safety import CONFIG

pytestmark = pytest.mark.slow

PROJECTION = [
    "import json\nfrom rarelab import SimulationConfig, create_simulation\nfrom rarelab.widgets import ProjectionView\n"
    + CONFIG,
    "p = create_simulation(cfg, 'run3', progress=False)\np.propose_if_needed()\n"
    "pv = ProjectionView(p, method='PCA', max_points=400)\npv",
    "print(json.dumps({'selected': len(pv.selection), 'disabled': pv.label_button.disabled}))",
]
# What plotly.js itself selected: the rows behind the points of its last selection event.
LISTEN = """(() => {
    const gd = document.querySelector('.js-plotly-plot');
    const row = p => Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
    window.plotlySelected = null;
    gd.on('plotly_selected', e => { if (e && e.points) window.plotlySelected = new Set(e.points.map(row)).size; });
    gd.on('plotly_deselect', () => { window.plotlySelected = 0; });
})()"""


def _drag(page, plot, points):
    box = plot.bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for xy in at[1:]:
        page.mouse.move(*xy, steps=6)
    page.mouse.up()


def _python(page) -> dict:
    from tests.lab_session import cell_text_outputs

    page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
    page.wait_for_function(
        "window.jupyterapp.shell.currentWidget.content.widgets[2].outputArea.node.innerText.includes('selected')"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
        timeout=30_000,
    )
    page.wait_for_timeout(300)
    return json.loads(cell_text_outputs(page, 2).strip().splitlines()[-1])


def _plot_count(page) -> int:
    """The count Python wrote on the plot (0 when it wrote none)."""
    text = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot .annotation-text')].map(a => a.textContent).join(' ')"
    )
    return int(text.split()[0]) if "selected" in text else 0


def _agree(page, what: str) -> int:
    """Wait until plotly.js's selection, the count on the plot and Python's selection agree."""
    page.wait_for_function("window.plotlySelected !== null", timeout=20_000)
    expected = page.evaluate("window.plotlySelected")
    page.wait_for_function(
        f"(() => {{ const t = [...document.querySelectorAll('.js-plotly-plot .annotation-text')]"
        f".map(a => a.textContent).join(' '); return {expected} ? t.startsWith('{expected} selected') "
        f": !/selected/.test(t); }})()",
        timeout=20_000,
    )
    state = _python(page)
    assert state["selected"] == _plot_count(page) == expected, (what, state, expected)
    page.evaluate("window.plotlySelected = null")
    return expected


def _agree_after(page, plot, points, what):
    _drag(page, plot, points)
    return _agree(page, what)


def test_what_the_plot_selects_is_what_python_holds(tmp_path):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import lab_session, open_notebook, run_all, write_notebook

    write_notebook(tmp_path / "projection.ipynb", PROJECTION)
    with lab_session(tmp_path) as (url, token), open_notebook(url, token, "projection.ipynb") as page:
        run_all(page)
        plot = page.locator(".js-plotly-plot .nsewdrag").first
        plot.wait_for(timeout=60_000)
        page.evaluate(LISTEN)
        lasso = _agree_after(page, plot, [(0.1, 0.1), (0.6, 0.1), (0.6, 0.9), (0.1, 0.9), (0.1, 0.12)], "lasso")
        page.locator('.modebar-btn[data-title="Box Select"]').first.click()
        box = _agree_after(page, plot, [(0.5, 0.05), (0.95, 0.95)], "box after the lasso")
        assert lasso and box and box != lasso  # the box replaced the lasso
        assert not _python(page)["disabled"]

        box_ = plot.bounding_box()
        page.mouse.dblclick(box_["x"] + 0.2 * box_["width"], box_["y"] + 0.5 * box_["height"])  # off the box
        assert _agree(page, "double click") == 0
        assert page.evaluate("(document.querySelector('.js-plotly-plot').layout.selections || []).length") == 0

        # A busy kernel: ipywidgets then sends only the last event of each kind, and the
        # hovers after the box overwrite its selection event. The layout still arrives.
        page.evaluate(
            "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            ".requestExecute({code: 'import time; time.sleep(5)'})"
        )
        page.wait_for_timeout(500)
        _drag(page, plot, [(0.05, 0.05), (0.5, 0.95)])
        for k in range(6):
            page.mouse.move(box_["x"] + (0.1 + 0.05 * k) * box_["width"], box_["y"] + 0.4 * box_["height"], steps=3)
        assert _agree(page, "box while the kernel was busy") > 0

        page.locator(
            "button", has_text=re.compile(r"^label \d+ selected")
        ).click()  # label them: redrawn, selection consumed
        page.wait_for_function(
            "[...document.querySelectorAll('button')].some(b => /^labeled \\d+/.test(b.textContent))", timeout=20_000
        )
        assert _python(page)["selected"] == 0 and _plot_count(page) == 0
        assert page.evaluate("(document.querySelector('.js-plotly-plot').layout.selections || []).length") == 0
        assert page.evaluate("document.querySelector('.js-plotly-plot').layout.dragmode") == "select"
