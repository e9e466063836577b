"""End to end: JupyterLab on loopback, a notebook run in headless Chromium, gallery items
labeled by mouse and keyboard, labels checked in the kernel's widget and in the store."""

import json
import sqlite3

import pytest

from .browser import require_browser

CELLS = [
    "from rarelab import SimulationConfig, create_simulation\nfrom rarelab.widgets import CandidateGallery",
    "cfg = SimulationConfig(dataset_kwargs={'n_samples': 1500, 'min_per_class': 10, 'progress': False},\n"
    "                rare_classes='rarest:3', per_class=3, input_size=32, epochs=3, learner='linear')\n"
    "s = create_simulation(cfg, 'run', progress=False)\ns.train(); cand = s.propose()",
    "g = CandidateGallery(s, shortcuts={'1': 0})\ng",
    "print(json.dumps(g.labels))",
]


@pytest.mark.slow
def test_label_gallery_in_jupyterlab(tmp_path):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import cell_text_outputs, cell_types, lab_session, open_notebook, run_all, write_notebook

    write_notebook(tmp_path / "e2e.ipynb", ["import json", *CELLS])
    with lab_session(tmp_path) as (url, token), open_notebook(url, token, "e2e.ipynb") as page:
        run_all(page)
        gallery = page.locator(".rarelab-gallery[data-ready='1']")
        gallery.wait_for(timeout=60_000)
        cells = page.locator(".rarelab-gallery .rl-cell:not(.rl-reference)")
        assert cells.count() == 3
        cells.nth(0).click()  # mouse: rare
        page.wait_for_function(
            "document.querySelector('.rarelab-gallery .rl-cell:not(.rl-reference)').classList.contains('rl-rare')"
        )  # painted from the kernel's reply
        page.keyboard.press("ArrowRight")
        page.keyboard.press("n")  # keyboard: item 2 is not rare
        page.keyboard.press("1")  # shortcut: item 3 is class 0; must not make a heading cell
        page.wait_for_function("document.querySelector('.rarelab-gallery').dataset.acks === '3'")
        assert cell_types(page) == ["code"] * 5
        latency = float(gallery.get_attribute("data-last-latency-ms"))
        assert latency > 0

        ids = [int(cells.nth(k).get_attribute("data-item-id")) for k in range(3)]
        page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex = 4")
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
        page.wait_for_function(
            "window.jupyterapp.shell.currentWidget.content.widgets[4].outputArea.node.innerText.includes('{')"
        )
        in_kernel = json.loads(cell_text_outputs(page, 4).strip().splitlines()[-1])

    with sqlite3.connect(tmp_path / "run" / "labels.sqlite") as db:
        stored = dict(db.execute("SELECT item_id, label FROM labels WHERE source='person'").fetchall())
    rare = json.loads((tmp_path / "run" / "config.json").read_text())
    assert rare["rare_classes"] == "rarest:3"
    first_label = stored[ids[0]]
    assert stored == {ids[0]: first_label, ids[1]: -1, ids[2]: 0}
    assert in_kernel == {str(k): v for k, v in stored.items()}
