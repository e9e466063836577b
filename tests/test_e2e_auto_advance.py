"""Learning as you label in real JupyterLab (headless Chromium): a person ticks "next page by
itself", labels a page by clicks, and the next page, trained in a background thread, arrives
in the same gallery while the kernel runs other code."""

import json
import sqlite3

import pytest

from .browser import require_browser

pytestmark = pytest.mark.slow

CELLS = [
    "import threading\nfrom rarelab import SimulationConfig, create_simulation\n"
    "from rarelab.widgets import CandidateGallery\n"
    "cfg = SimulationConfig(dataset_kwargs={'n_samples': 1500, 'min_per_class': 10, 'progress': False},\n"
    "                       rare_classes='rarest:1', per_class=5, input_size=32, epochs=3, learner='linear')",
    "s = create_simulation(cfg, 'run', progress=False)\ns.propose_if_needed()\n"
    # The test holds training mid-epoch until the kernel has run another request.
    "gate = threading.Event()\ns.learner.callbacks = [lambda epoch, loss: gate.wait(120)]\n"
    "g = CandidateGallery(s, k=10)\ng",
]
GALLERY = "document.querySelector('.rarelab-gallery')"


def test_a_labeled_page_is_followed_by_the_next_one_trained_in_the_background(tmp_path):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import lab_session, open_notebook, run_all, write_notebook

    write_notebook(tmp_path / "auto.ipynb", CELLS)
    with lab_session(tmp_path) as (url, token), open_notebook(url, token, "auto.ipynb") as page:
        run_all(page)
        gallery = page.locator(".rarelab-gallery[data-ready='1']")
        gallery.wait_for(timeout=60_000)
        cells = gallery.locator(".rl-cell:not(.rl-reference)")
        first = [c.get_attribute("data-item-id") for c in cells.all()]
        assert len(first) == 5 and "round 0" in gallery.locator(".rl-header").inner_text()

        gallery.locator(".rl-auto input").check()
        for k in range(5):
            cells.nth(k).click()
            page.wait_for_function(f"{GALLERY}.dataset.acks === '{k + 1}'", timeout=20_000)
        # Committed: the page stays, greyed, and says that the next one is being trained.
        page.wait_for_function(f"!{GALLERY}.querySelector('.rl-training').hidden", timeout=20_000)
        assert "training round 1" in gallery.locator(".rl-training").inner_text()
        assert "rl-stale" in gallery.get_attribute("class")
        # The kernel runs code while the job trains (the job waits for exactly this request).
        ran = page.evaluate("""async () => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const reply = await kernel.requestExecute({code: "busy = s.busy_; gate.set()"}).done;
            return reply.content.status; }""")
        assert ran == "ok"
        page.wait_for_function(f"{GALLERY}.querySelector('.rl-header').textContent.includes('round 1')", timeout=60_000)
        assert gallery.locator(".rl-training").is_hidden() and "rl-stale" not in gallery.get_attribute("class")
        now = [c.get_attribute("data-item-id") for c in cells.all()]
        assert len(now) == 5 and not set(now) & set(first)
        assert gallery.locator(".rl-status").inner_text().startswith("round 1: 5 new candidates")
        check = page.evaluate("""async () => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const reply = await kernel.requestExecute({code: "assert busy and not s.busy_"}).done;
            return reply.content.status; }""")
        assert check == "ok"  # the request ran while the job was busy, and the job is over now

    with sqlite3.connect(tmp_path / "run" / "labels.sqlite") as db:
        committed = db.execute("SELECT COUNT(*) FROM labels WHERE committed=1").fetchone()[0]
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert committed == 5 and (json.loads(meta["round"]), json.loads(meta["phase"])) == (1, "label")
