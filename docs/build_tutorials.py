"""Execute every tutorial notebook for the site, outputs included (``make docs`` runs this).

Each notebook runs in a fresh kernel with the parameters below injected after its
``parameters`` cell (sizes that keep the build to minutes on 2 CPU cores) and plotly set to
draw into the page with the site's own copy of plotly.js. Executed copies go to
``docs/tutorials/``; the notebooks in ``notebooks/`` stay without outputs.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parent
NOTEBOOKS = DOCS.parent / "notebooks"
OUT = DOCS / "tutorials"
WORK = DOCS / "_build" / "tutorial-runs"


def _gtsrb() -> str | None:
    for candidate in (os.environ.get("RARELAB_GTSRB"), DOCS.parents[1] / "shared" / "data" / "gtsrb32_small.npz"):
        if candidate and Path(candidate).exists():
            return str(Path(candidate).resolve())
    return None


PARAMETERS = {
    "01_toy_model": "SEEDS = 10",
    "02_active_search": "N_SAMPLES = 6000; RARE = 'rarest:5'; ROUNDS = 3; PER_CLASS = 30; INPUT_SIZE = 64; "
    "SEEDS = [0, 1]",
    "03_feature_space": "N_SAMPLES = 6000; RARE = 'rarest:3'; INPUT_SIZE = 64",
    "04_synthetic_start": "N_SAMPLES = 6000; RARE = 'rarest:5'; ROUNDS = 3; PER_CLASS = 30; INPUT_SIZE = 64; "
    "SEEDS = [0, 1]",
    "05_your_own_images": "N_POOL = 2500; PER_CLASS = 48; INPUT_SIZE = 64",
    "06_real_traffic_signs": f"ROOT = {_gtsrb()!r}; DOWNLOAD = False; SPLIT = 'test'; RARE = 'rarest:5'; "
    "ROUNDS = 2; PER_CLASS = 10; SEEDS = [0]; INPUT_SIZE = 64",
}
SETUP = (
    "from rarelab.reporting import use_page_plotlyjs\n"
    "use_page_plotlyjs()  # figures as HTML that draws with the site's own plotly.js"
)


def execute(name: str) -> float:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("# parameters of the documentation build\n" + PARAMETERS[name])
    injected.metadata["tags"] = ["injected-parameters", "remove-cell"]
    setup = nbformat.v4.new_code_cell(SETUP)
    setup.metadata["tags"] = ["remove-cell"]
    nb.cells.insert(at + 1, injected)
    nb.cells.insert(0, setup)
    run_dir = WORK / name
    shutil.rmtree(run_dir, ignore_errors=True)  # every build runs the tutorial from scratch
    run_dir.mkdir(parents=True)
    t = time.perf_counter()
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(run_dir)}}).execute()
    OUT.mkdir(exist_ok=True)
    nbformat.write(nb, OUT / f"{name}.ipynb")
    return time.perf_counter() - t


def main(names=None) -> int:
    names = names or list(PARAMETERS)
    if "06_real_traffic_signs" in names and _gtsrb() is None:
        print("GTSRB not found (set RARELAB_GTSRB to an .npz or folder): tutorial 06 is built without running it.")
        names = [n for n in names if n != "06_real_traffic_signs"]
        OUT.mkdir(exist_ok=True)
        nbformat.write(
            nbformat.read(NOTEBOOKS / "06_real_traffic_signs.ipynb", as_version=4), OUT / "06_real_traffic_signs.ipynb"
        )
    for name in names:
        print(f"executing {name} ...", flush=True)
        print(f"  {execute(name):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
