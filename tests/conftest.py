from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_signs():
    from rarelab import synth_signs

    return synth_signs(n_samples=1500, image_size=32, min_per_class=10, random_state=0, progress=False)


@pytest.fixture(scope="session")
def tiny_config():
    from rarelab import SimulationConfig

    def make(**kw):
        base = dict(
            dataset="synth_signs",
            dataset_kwargs={"n_samples": 1500, "min_per_class": 10, "progress": False},
            rare_classes="rarest:3",
            learner="linear",  # seconds per round; the partial learner has its own tests
            per_class=3,
            input_size=32,
            epochs=3,
            seed=0,
        )
        base.update(kw)
        return SimulationConfig(**base)

    return make


def hand_made_proba(rows) -> np.ndarray:
    p = np.asarray(rows, dtype=float)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def search_folders(tmp_path_factory):
    """Labeled seed folder, flat pool with three corrupt files, one rare example, and the answer
    key a person would follow: (root, rare name, example, {pool path: class name})."""
    import csv

    from rarelab.data import write_demo_folders

    root = tmp_path_factory.mktemp("search_folders")
    demo = write_demo_folders(root, n_pool=2500, random_state=0)
    with open(demo.answer_key, newline="") as fh:
        truth = {r["path"]: r["label"] for r in csv.DictReader(fh)}
    return root, demo.rare, demo.rare_example, truth
