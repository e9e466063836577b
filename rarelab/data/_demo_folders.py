"""Demo folders shaped like a practitioner's: a labeled seed set and a flat unlabeled pool."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils import check_int, check_random_state
from ._synth_signs import synth_signs


@dataclass(frozen=True)
class DemoFolders:
    """Where :func:`write_demo_folders` put things."""

    labeled: Path  # root/<class name>/*.png, common classes only
    pool: Path  # a flat folder of unlabeled files, three of them corrupt
    rare: str  # the rare class's name
    rare_example: Path  # its single labeled example
    answer_key: Path  # path,label of every pool file: what a person would answer (simulations, tests)


def write_demo_folders(
    root, *, n_pool: int = 2500, n_seed: int = 30, n_common: int = 5, image_size: int = 32, random_state=0
) -> DemoFolders:
    """Write synthetic signs as files: ``n_common`` labeled classes of ``n_seed`` images, one
    example of a rare class, and a pool folder with its other items among ``n_pool`` common
    ones (about 1-2 % rare), plus three corrupt files as real folders have.

    The answer key lies beside the folders, never inside them: a search does not read it.
    """
    n_pool = check_int("write_demo_folders", "n_pool", n_pool, low=10)
    n_seed = check_int("write_demo_folders", "n_seed", n_seed, low=1)
    rng = check_random_state(random_state)
    root = Path(root)
    ds = synth_signs(
        n_samples=n_pool + n_common * n_seed + 1500,
        image_size=image_size,
        min_per_class=10,
        random_state=int(rng.integers(2**31)),
        progress=False,
    )
    y = ds.targets
    counts = np.bincount(y, minlength=len(ds.classes))
    common = np.argsort(-counts, kind="stable")[:n_common]
    rare = int(np.argsort(counts, kind="stable")[len(counts) // 2])
    seeded = set()
    for c in common:
        folder = root / "labeled" / ds.classes[c]
        folder.mkdir(parents=True, exist_ok=True)
        for i in rng.permutation(np.flatnonzero(y == c))[:n_seed]:
            Image.fromarray(ds.images[i]).save(folder / f"{i:05d}.png")
            seeded.add(int(i))
    rare_ids = rng.permutation(np.flatnonzero(y == rare))
    example = root / "rare_example.png"
    Image.fromarray(ds.images[rare_ids[0]]).save(example)
    pool = root / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    others = [int(i) for i in rng.permutation(np.flatnonzero(np.isin(y, common))) if int(i) not in seeded][:n_pool]
    answers = []
    for i in [*rare_ids[1:].tolist(), *others]:
        path = pool / f"{i:05d}.png"
        Image.fromarray(ds.images[i]).save(path)
        answers.append((str(path.resolve()), ds.classes[y[i]]))
    (pool / "corrupt1.png").write_bytes(b"this is not an image")
    (pool / "corrupt2.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    data = (pool / f"{others[0]:05d}.png").read_bytes()
    (pool / "corrupt3.png").write_bytes(data[: len(data) // 3])
    key = root / "answer_key.csv"
    with open(key, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "label"])
        w.writerows(sorted(answers))
    return DemoFolders(root / "labeled", pool, ds.classes[rare], example, key)
