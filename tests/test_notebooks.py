"""Every tutorial notebook is stored clean and runs top to bottom.

The run uses the documentation build's parameters (``docs/build_tutorials.py``), papermill
style, and is shared with ``tests/test_tutorial_claims.py``: one execution per notebook and
session both shows that it runs and feeds the checks of its text's claims.
"""

from pathlib import Path

import nbformat
import pytest

from .test_tutorial_claims import NAMES, bt, executed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Smaller still, for the browser tests that Run All in JupyterLab (tests/test_e2e_run_all.py).
SMALL = {
    "01_toy_model": "SEEDS = 5",
    "02_active_search": "N_SAMPLES = 2000; RARE = 'rarest:3'; ROUNDS = 2; PER_CLASS = 5; EPOCHS = 3; "
    "INPUT_SIZE = 32; SEEDS = [0]",
    "03_feature_space": "N_SAMPLES = 2000; RARE = 'rarest:2'; N_TRAIN = 3; EPOCHS = 3; INPUT_SIZE = 32",
    "04_synthetic_start": "N_SAMPLES = 2000; RARE = 'rarest:2'; ROUNDS = 1; PER_CLASS = 5; EPOCHS = 3; "
    "INPUT_SIZE = 32; SEEDS = [0]",
    "05_your_own_images": "N_POOL = 300; PER_CLASS = 10; EPOCHS = 3; INPUT_SIZE = 32",
    "06_real_traffic_signs": "DOWNLOAD = False; ROUNDS = 1; PER_CLASS = 10; SEEDS = [0]; EPOCHS = 3; INPUT_SIZE = 32",
}


def test_every_notebook_has_test_parameters():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES == sorted(SMALL)


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_is_clean(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert not any(c.outputs for c in nb.cells if c.cell_type == "code")  # stored without outputs
    bt.with_parameters(nb, bt.PARAMETERS[name])  # every build parameter names a line of the cell or is appended


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name):
    nb = executed(name)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
