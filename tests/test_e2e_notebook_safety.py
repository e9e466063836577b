"""The notebook-safety defects, each tried in real JupyterLab in headless Chromium, through
its menus' commands and the widgets themselves (one JupyterLab server for the module)."""

import json
import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from .browser import luminance as _luminance
from .browser import require_browser

pytestmark = pytest.mark.slow

CONFIG = (
    "cfg = SimulationConfig(dataset_kwargs={'n_samples': 1500, 'min_per_class': 10, 'progress': False},\n"
    "                       rare_classes='rarest:2', per_class=4, input_size=32, epochs=3, learner='linear')\n"
)
SAFETY = [
    "import json\nfrom rarelab import SimulationConfig, create_simulation\n"
    "from rarelab.widgets import CandidateGallery, LoopStepper\n" + CONFIG,
    "s = create_simulation(cfg, 'run')\ns.propose_if_needed()\ng0 = CandidateGallery(s, k=6)\ng0",
    # Round 0 is labeled and committed by code; its gallery stays on screen above round 1's.
    "if s.round_ == 0:\n    s.label(s.candidates_.ids[:1], [-1]).commit(round=0)\n"
    "s.propose_if_needed()\ng1 = CandidateGallery(s, k=6)\ng1",
    "print(json.dumps({'round': s.round_, 'phase': s.phase_, "
    "'labels': {str(k): v for k, v in s.store.labels().items()}}))",
    "s2 = create_simulation(cfg, 'run2', progress=False)\nst = LoopStepper(s2, gallery_k=6)\nst",
]


def _store(run):
    with sqlite3.connect(run / "labels.sqlite") as db:
        labels = dict(db.execute("SELECT item_id, label FROM labels").fetchall())
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return labels, json.loads(meta.get("round", "0")), json.loads(meta.get("phase", '"train"'))


def _galleries(page):
    return page.locator(".rarelab-gallery[data-ready='1']")


def _errors(page) -> list[str]:
    """Error outputs of every cell, read from the notebook model (what Run All left behind)."""
    return page.evaluate("""(() => {
        const out = [];
        for (const c of window.jupyterapp.shell.currentWidget.content.widgets) {
            if (c.model.type !== 'code') continue;
            for (const o of c.model.outputs.toJSON()) if (o.output_type === 'error') out.push(o.ename + ': ' + o.evalue);
        }
        return out; })()""")


def _contrast(page, selector) -> float:
    """WCAG contrast of the first ``selector``'s text colour against its nearest opaque background."""
    fg, bg = page.evaluate(
        """(sel) => {
        const el = document.querySelector(sel);
        const fg = getComputedStyle(el).color;
        let n = el, bg = null;
        while (n && n.nodeType === 1) {
            const c = getComputedStyle(n).backgroundColor;
            if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') { bg = c; break; }
            n = n.parentElement;
        }
        return [fg, bg || getComputedStyle(document.body).backgroundColor];
    }""",
        selector,
    )
    parse = lambda c: [float(v) for v in re.findall(r"[\d.]+", c)]  # noqa: E731
    la, lb = sorted((_luminance(parse(fg)), _luminance(parse(bg))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import lab_session, open_notebook, run_all, write_notebook

    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / "safety.ipynb", SAFETY)
    with lab_session(root) as (url, token), open_notebook(url, token, "safety.ipynb") as page:
        run_all(page)
        _galleries(page).nth(1).wait_for(timeout=60_000)
        yield root, page, url, token


def test_a_stale_gallery_takes_no_input(lab):
    root, page, *_ = lab
    old, new = _galleries(page).nth(0), _galleries(page).nth(1)
    assert "rl-stale" in old.get_attribute("class") and "rl-stale" not in new.get_attribute("class")
    assert "round 0, which is over" in old.locator(".rl-status").inner_text()
    before = _store(root / "run")
    old.locator(".rl-cell:not(.rl-reference)").first.click(force=True)
    old.focus()
    page.keyboard.press("y")
    page.wait_for_timeout(1500)
    assert _store(root / "run") == before and old.get_attribute("data-acks") is None


def test_a_stale_gallery_corrects_a_committed_label_and_undoes_it(lab):
    root, page, *_ = lab
    old = _galleries(page).nth(0)
    with sqlite3.connect(root / "run" / "labels.sqlite") as db:
        ((item, label),) = db.execute("SELECT item_id, label FROM labels WHERE committed=1").fetchall()
    cell = old.locator(f".rl-cell[data-item-id='{item}']")
    cell.click()
    offer = old.locator(".rl-correct")
    assert "committed label (not rare)" in offer.inner_text()
    offer.locator(".rl-correct-to", has_text="rare").first.click()
    page.wait_for_function("document.querySelector('.rarelab-gallery').dataset.acks === '1'", timeout=20_000)
    page.wait_for_function(
        f"document.querySelector(\".rarelab-gallery .rl-cell[data-item-id='{item}']\").classList.contains('rl-corrected')",
        timeout=20_000,
    )
    assert cell.locator(".rl-label").inner_text() == "rare (corrected)"
    assert "corrected 1 committed label" in old.locator(".rl-status").inner_text()
    with sqlite3.connect(root / "run" / "labels.sqlite") as db:
        new, committed = db.execute("SELECT label, committed FROM labels WHERE item_id=?", (item,)).fetchone()
        history = db.execute(
            "SELECT action, old_label, new_label, source FROM label_history WHERE item_id=? ORDER BY seq", (item,)
        ).fetchall()
    assert committed == 1 and new != label and history[-1] == ("correct", label, new, "person")

    old.focus()
    page.keyboard.press("u")  # undo the correction: the old label is back, as a second correction
    page.wait_for_function("document.querySelector('.rarelab-gallery').dataset.acks === '2'", timeout=20_000)
    with sqlite3.connect(root / "run" / "labels.sqlite") as db:
        assert db.execute("SELECT label FROM labels WHERE item_id=?", (item,)).fetchone() == (label,)
    page.wait_for_function(
        f"!document.querySelector(\".rarelab-gallery .rl-cell[data-item-id='{item}']\").classList.contains('rl-corrected')",
        timeout=20_000,
    )
    assert not _errors(page)


def test_shift_enter_in_a_gallery_runs_the_cell_and_never_commits(lab):
    root, page, *_ = lab
    gallery = _galleries(page).nth(1)
    gallery.locator(".rl-cell:not(.rl-reference)").first.click()
    page.wait_for_function("document.querySelectorAll('.rarelab-gallery')[1].dataset.acks === '1'")
    gallery.focus()
    page.keyboard.press("Shift+Enter")  # Jupyter's "run cell": it re-runs cell 2, which changes nothing
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(2000)
    labels, rnd, phase = _store(root / "run")
    assert (rnd, phase) == (1, "label") and len(labels) == 2  # round 0's label and this one, uncommitted
    assert not _errors(page)


def test_a_second_process_committing_greys_the_gallery_out(lab):
    root, page, *_ = lab
    script = textwrap.dedent(f"""
        from rarelab import open_simulation
        with open_simulation({str(root / "run")!r}, progress=False) as s:
            s.label_with_oracle().commit()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    page.wait_for_function(
        "[...document.querySelectorAll('.rarelab-gallery')].slice(-1)[0].classList.contains('rl-stale')",
        timeout=15_000,
    )  # the gallery polls the store's revision every few seconds
    status = _galleries(page).last.locator(".rl-status").inner_text()
    assert "round 1, which is over" in status and "round 2" in status


def test_the_stepper_follows_its_own_gallery(lab):
    _, page, *_ = lab
    stepper = page.locator(".rarelab-themed").last
    for name in ("train", "propose"):
        stepper.locator("button", has_text=re.compile(f"^{name}$")).click()
        page.wait_for_timeout(1500)
    gallery = stepper.locator(".rarelab-gallery[data-ready='1']")
    gallery.wait_for(timeout=30_000)
    gallery.focus()
    for _ in range(3):
        page.keyboard.press("y")
    page.wait_for_function(
        "(() => { const g = [...document.querySelectorAll('.rarelab-themed')].pop()"
        ".querySelector('.rarelab-gallery'); return g && g.dataset.acks === '3'; })()"
    )
    gallery.locator(".rl-commit").click()
    page.wait_for_function(
        "[...document.querySelectorAll('.rarelab-themed')].pop().innerText.includes('round 1 · phase train')",
        timeout=20_000,
    )
    # the state line and each button are separate widget messages: wait for the button too
    page.wait_for_function(
        "[...[...document.querySelectorAll('.rarelab-themed')].pop().querySelectorAll('button')]"
        ".some(b => b.textContent.trim() === 'commit' && b.disabled)",
        timeout=20_000,
    )
    assert "Error" not in stepper.inner_text()
    # the figures stay within the output area's width
    out_width = stepper.evaluate("e => e.getBoundingClientRect().right")
    rights = stepper.locator(".js-plotly-plot").evaluate_all("els => els.map(e => e.getBoundingClientRect().right)")
    assert rights and max(rights) <= out_width + 1


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_gallery_text_has_aa_contrast_in_both_themes(lab, theme):
    _, page, *_ = lab
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {theme!r}}})")
    page.wait_for_function(
        f"document.body.dataset.jpThemeName === {theme!r}",
        timeout=20_000,
    )
    page.wait_for_timeout(500)
    for part in (
        ".rl-cell:not(.rl-reference) figcaption",
        ".rl-status",
        ".rl-help",
        ".rl-header",
        ".rl-cell.rl-rare .rl-label",
    ):
        selector = f".rarelab-gallery {part}"
        if page.locator(selector).count():
            assert _contrast(page, selector) >= 4.5, (theme, part)


def test_a_browser_reload_shows_no_missing_widget_models(lab):
    _, page, *_ = lab
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")  # what autosave does
    page.wait_for_timeout(1500)
    page.reload()
    page.wait_for_function(
        "window.jupyterapp && window.jupyterapp.shell.currentWidget "
        "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
        "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel "
        "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.connectionStatus === 'connected'",
        timeout=60_000,
    )
    page.wait_for_timeout(5000)
    text = page.locator(".jp-Notebook").inner_text()
    assert "model not found" not in text
    _galleries(page).first.wait_for(timeout=60_000)  # the live widgets render again from the kernel
