"""The projection view's selections in JupyterLab (a server of its own: the notebook-safety
module keeps one open for its whole module)."""

import json

import pytest

from .browser import require_browser
from .test_e2e_notebook_safety import CONFIG

pytestmark = pytest.mark.slow


PROJECTION = [
    "import json\nfrom rarelab import SimulationConfig, create_simulation\nfrom rarelab.widgets import ProjectionView\n"
    + CONFIG,
    "p = create_simulation(cfg, 'run3', progress=False)\np.propose_if_needed()\n"
    "pv = ProjectionView(p, method='PCA', max_points=400)\npv.fig.layout.dragmode = 'select'\npv",
    "print(json.dumps({'selected': len(pv.selection), 'button': pv.label_button.description}))",
]


def _drag(page, plot, x0, y0, x1, y1):
    box = plot.bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=8)
    page.mouse.up()


def test_projection_selections_replace_each_other_and_show_their_count(tmp_path):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import cell_text_outputs, lab_session, open_notebook, run_all, write_notebook

    write_notebook(tmp_path / "projection.ipynb", PROJECTION)
    with lab_session(tmp_path) as (url, token), open_notebook(url, token, "projection.ipynb") as page:
        run_all(page)
        plot = page.locator(".js-plotly-plot .nsewdrag").first
        plot.wait_for(timeout=60_000)
        counts = []
        for x0, x1 in ((0.05, 0.5), (0.5, 0.95)):  # two boxes side by side: the second replaces the first
            _drag(page, plot, x0, 0.05, x1, 0.95)
            page.wait_for_function(
                "[...document.querySelectorAll('.js-plotly-plot .annotation-text')].some(a => /selected/.test(a.textContent))",
                timeout=20_000,
            )
            page.wait_for_timeout(1000)
            text = page.locator(".js-plotly-plot .annotation-text").first.text_content()
            counts.append(int(text.split()[0]))
            page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
            page.wait_for_timeout(2000)
            state = json.loads(cell_text_outputs(page, 2).strip().splitlines()[-1])
            assert state["selected"] == counts[-1]  # what the plot says is what Python holds
        assert all(counts) and len(counts) == 2
        assert state["selected"] != counts[0] + counts[1]  # replaced, not added up
        box = plot.bounding_box()
        # a double click on the plot, off the selection outline, deselects
        page.mouse.dblclick(box["x"] + 0.5 * box["width"], box["y"] + 0.985 * box["height"])
        page.wait_for_function(
            "![...document.querySelectorAll('.js-plotly-plot .annotation-text')].some(a => /selected/.test(a.textContent))",
            timeout=20_000,
        )
