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
    from rarelab import RunConfig

    def make(**kw):
        base = dict(dataset="synth_signs", dataset_kwargs={"n_samples": 1500, "min_per_class": 10, "progress": False},
                    rare_classes="rarest:3", per_class=3, input_size=32, epochs=3, seed=0)
        base.update(kw)
        return RunConfig(**base)

    return make


def hand_made_proba(rows) -> np.ndarray:
    p = np.asarray(rows, dtype=float)
    return p / p.sum(axis=1, keepdims=True)


def write_search_folders(root, *, n_pool: int = 2500, n_seed: int = 30, random_state: int = 0):
    """A labeled seed folder (5 common classes, n_seed images each), one example of a rare class
    beside it, and a flat unlabeled pool folder with the rare class's other items, common items
    and three corrupt files. Returns (rare class name, example path, {pool path: true class})."""
    from PIL import Image

    from rarelab import synth_signs

    root = Path(root)
    ds = synth_signs(n_samples=max(4000, n_pool + 1000), image_size=32, min_per_class=10,
                     random_state=random_state, progress=False)
    y = ds.targets
    counts = np.bincount(y, minlength=len(ds.classes))
    common = np.argsort(-counts, kind="stable")[:5]
    rare = int(np.argsort(counts, kind="stable")[len(counts) // 2])
    rng = np.random.default_rng(random_state)
    truth = {}
    for c in common:
        (root / "seed" / ds.classes[c]).mkdir(parents=True, exist_ok=True)
        for i in rng.permutation(np.flatnonzero(y == c))[:n_seed]:
            Image.fromarray(ds.images[i]).save(root / "seed" / ds.classes[c] / f"{i:05d}.png")
    rare_ids = rng.permutation(np.flatnonzero(y == rare))
    example = root / "rare_example.png"
    Image.fromarray(ds.images[rare_ids[0]]).save(example)
    pool = root / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    seeded = {int(p.stem) for p in (root / "seed").rglob("*.png")}
    others = [i for i in rng.permutation(np.flatnonzero(np.isin(y, common))) if i not in seeded][:n_pool]
    for i in [*rare_ids[1:], *others]:
        Image.fromarray(ds.images[i]).save(pool / f"{i:05d}.png")
        truth[str((pool / f"{i:05d}.png").resolve())] = ds.classes[y[i]]
    (pool / "corrupt1.png").write_bytes(b"this is not an image")
    (pool / "corrupt2.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    data = (pool / f"{others[0]:05d}.png").read_bytes()
    (pool / "corrupt3.png").write_bytes(data[: len(data) // 3])
    return ds.classes[rare], example, truth


@pytest.fixture(scope="session")
def search_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_folders")
    name, example, truth = write_search_folders(root)
    return root, name, example, truth
