"""Tutorials 02 and 05 under JupyterLab's Run All, again, and Restart Kernel and Run All:
no error outputs, no empty commits (each in a JupyterLab server of its own)."""

import shutil

import nbformat
import pytest

from .browser import require_browser
from .test_e2e_notebook_safety import _errors, _store
from .test_notebooks import NOTEBOOKS, SMALL

pytestmark = pytest.mark.slow


def _small_copy(root, name):
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", root)
    nb = nbformat.read(root / f"{name}.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("# injected by the test\n" + SMALL[name]))
    nbformat.write(nb, root / f"{name}.ipynb")


@pytest.mark.parametrize("name", ["05_your_own_images", "02_active_search"])
def test_run_all_twice_and_restart_and_run_all_are_safe(tmp_path, name):
    require_browser()
    pytest.importorskip("jupyterlab")
    from tests.lab_session import lab_session, open_notebook, run_all

    _small_copy(tmp_path, name)
    with lab_session(tmp_path) as (url, token), open_notebook(url, token, f"{name}.ipynb") as page:
        for attempt in ("Run All", "Run All again", "Restart Kernel and Run All"):
            if attempt.startswith("Restart"):
                page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
                page.wait_for_timeout(2000)
            run_all(page, timeout_ms=300_000)
            assert not _errors(page), attempt
    if name == "05_your_own_images":
        _, rnd, phase = _store(tmp_path / "runs" / "05_your_own_images")
        assert (rnd, phase) == (0, "label")  # nobody labeled: no round was committed, however often it ran
