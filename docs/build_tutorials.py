"""Execute every tutorial notebook for the site, outputs included (``make docs`` runs this).

Each notebook runs in a fresh kernel with the parameters below (sizes that keep the build to
minutes on 2 CPU cores) written into its ``parameters`` cell, so the page shows the values
the outputs were made with, and plotly set to draw into the page with the site's own copy of
plotly.js. Progress bars are dropped from the stored outputs (a page cannot run their
widgets: they would show as empty bars). Executed copies go to ``docs/tutorials/``, with the
notebook's hash and the parameters in their metadata, so ``tests/test_tutorial_claims.py``
can check them without running them again; the notebooks in ``notebooks/`` stay without
outputs.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
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
    "01_toy_model": "SEEDS = 20",
    "02_active_search": "N_SAMPLES = 6000; RARE = 'rarest:5'; ROUNDS = 3; PER_CLASS = 30; INPUT_SIZE = 64; "
    "SEEDS = [0, 1]",
    "03_feature_space": "N_SAMPLES = 6000; RARE = 'rarest:3'; INPUT_SIZE = 64",
    "04_synthetic_start": "N_SAMPLES = 6000; RARE = 'rarest:5'; ROUNDS = 3; PER_CLASS = 30; INPUT_SIZE = 64; "
    "SEEDS = [0, 1]",
    "05_your_own_images": "N_POOL = 2500; PER_CLASS = 48; INPUT_SIZE = 64",
    # the notebook's own sizes (the training split's rarest classes), on the small GTSRB copy
    "06_real_traffic_signs": f"ROOT = {_gtsrb()!r}; DOWNLOAD = False",
}
SETUP = (
    "from rarelab.reporting import use_page_plotlyjs\n"
    "use_page_plotlyjs()  # figures as HTML that draws with the site's own plotly.js"
)
_PROGRESS = re.compile(r"^.{0,80}\s\d+%\|")  # tqdm's text form: "desc:  40%|####   | 4/10 ..."


def source_hash(name: str) -> str:
    """Hash of the stored notebook: an executed copy with another hash is out of date."""
    return hashlib.sha256((NOTEBOOKS / f"{name}.ipynb").read_bytes()).hexdigest()[:16]


def with_parameters(nb, parameters: str):
    """Write ``parameters`` (``"A = 1; B = 'x'"``) into ``nb``'s parameters cell, in place.

    A line ``A = ...`` of the cell becomes ``A = 1  # this build (default: ...)``; a name the
    cell lacks is appended. The page then shows exactly what the outputs were made with.
    """
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    values = {}
    for stmt in ast.parse(parameters).body:
        values[stmt.targets[0].id] = ast.get_source_segment(parameters, stmt.value)
    lines = cell.source.splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^{name}\s*=\s*(.*?)(\s+#.*)?$")
        for i, line in enumerate(lines):
            m = pattern.match(line)
            if m:
                if m.group(1).strip() != value:
                    lines[i] = f"{name} = {value}  # this build (default: {m.group(1).strip()})"
                break
        else:
            lines.append(f"{name} = {value}  # this build")
    cell.source = "\n".join(lines)
    return nb


def drop_progress_bars(nb):
    """Remove progress-bar outputs (tqdm widgets and their text), which a static page cannot update."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            text = out.get("data", {}).get("text/plain", "") if "data" in out else ""
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}) and _PROGRESS.match(str(text)):
                continue
            if (
                out.get("output_type") == "stream"
                and out.get("name") == "stderr"
                and _PROGRESS.match(out.get("text", ""))
            ):
                continue
            kept.append(out)
        cell.outputs = kept
    return nb


def execute(name: str, parameters: str | None = None, *, out_dir: Path = OUT, work: Path = WORK, page: bool = True):
    """Run notebook ``name`` with ``parameters`` (the build's by default); returns (seconds, notebook)."""
    parameters = PARAMETERS[name] if parameters is None else parameters
    nb = with_parameters(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4), parameters)
    if page:
        setup = nbformat.v4.new_code_cell(SETUP)
        setup.metadata["tags"] = ["remove-cell"]
        nb.cells.insert(0, setup)
    run_dir = work / name
    shutil.rmtree(run_dir, ignore_errors=True)  # every build runs the tutorial from scratch
    run_dir.mkdir(parents=True)
    t = time.perf_counter()
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(run_dir)}}).execute()
    seconds = time.perf_counter() - t
    drop_progress_bars(nb)
    nb.metadata["rarelab"] = {"source": source_hash(name), "parameters": parameters, "seconds": round(seconds)}
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / f"{name}.ipynb")
    return seconds, nb


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
        print(f"  {execute(name)[0]:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
