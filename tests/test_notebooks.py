"""Every tutorial notebook runs top to bottom (with small parameters, papermill-style)."""

import shutil
from pathlib import Path

import nbformat
import pytest

from .conftest import SHARED_DATA

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
GTSRB_SMALL = SHARED_DATA / "gtsrb32_small.npz"
SMALL = {
    "01_toy_model": "SEEDS = 5",
    "02_active_search": "N_SAMPLES = 2000; RARE = 'rarest:3'; ROUNDS = 2; PER_CLASS = 5; EPOCHS = 3; "
    "INPUT_SIZE = 32; SEEDS = [0]",
    "03_feature_space": "N_SAMPLES = 2000; RARE = 'rarest:2'; N_TRAIN = 3; EPOCHS = 3; INPUT_SIZE = 32",
    "04_synthetic_start": "N_SAMPLES = 2000; RARE = 'rarest:2'; ROUNDS = 1; PER_CLASS = 5; EPOCHS = 3; "
    "INPUT_SIZE = 32; SEEDS = [0]",
    "05_your_own_images": "N_POOL = 300; PER_CLASS = 10; EPOCHS = 3; INPUT_SIZE = 32",
    "06_real_traffic_signs": f"ROOT = {str(GTSRB_SMALL)!r}; DOWNLOAD = False; SPLIT = 'test'; RARE = 'rarest:3'; "
    "ROUNDS = 1; PER_CLASS = 10; SEEDS = [0]; EPOCHS = 3; INPUT_SIZE = 32",
}


def test_every_notebook_has_small_parameters():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_stored_notebook_is_clean(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert not any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs(name, tmp_path):
    from nbclient import NotebookClient

    if name == "06_real_traffic_signs" and not GTSRB_SMALL.is_file():
        pytest.skip("the shared GTSRB copy is not present")
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    nb = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("# injected by the test\n" + SMALL[name]))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
