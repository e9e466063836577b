"""Property-based: generated folder trees of real-world files (issue 18).

Invariants checked on every generated pool:

* every file that is listed is an item or a row of ``failed_files.csv`` with its reason;
* a failed ``init`` leaves no run directory;
* a file that fails to decode never reaches the split, training or the candidates.
"""

import csv
import os
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rarelab.data import write_demo_folders
from rarelab.exceptions import RarelabError
from rarelab.search import init_search
from rarelab.utils import printable_path

pytestmark = pytest.mark.slow

DIRS = ["", "batch 2", "Été", "a,b", os.fsdecode(b"d\xe9p\xf4t"), "x/y"]
STEMS = ["img", "IMG 0001", "photo, final", "no entry=yes", unicodedata.normalize("NFD", "café"), "-dash", "日本"]
GOOD = ("png", "jpg", "png16", "rgba")
BAD = ("zero", "truncated", "text_as_png")
OTHER = ("txt", "heic", "hidden", "dangling")
entry = st.tuples(st.sampled_from(DIRS), st.sampled_from(STEMS), st.sampled_from(GOOD + BAD + OTHER))


@pytest.fixture(scope="module")
def seed_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    return write_demo_folders(root / "demo", n_pool=10, n_seed=4, n_common=2, random_state=1), root / "store"


def _write(path: Path, kind: str, k: int) -> None:
    rng = np.random.default_rng(k)
    rgb = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    if kind == "png":
        Image.fromarray(rgb).save(path, format="PNG")
    elif kind == "jpg":
        Image.fromarray(rgb).save(path, format="JPEG")
    elif kind == "png16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(path, format="PNG")
    elif kind == "rgba":
        Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(path, format="PNG")
    elif kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated":
        buf = path.with_suffix(".tmp")
        Image.fromarray(rgb).save(buf, format="PNG")
        path.write_bytes(buf.read_bytes()[:50])
        buf.unlink()
    elif kind == "text_as_png":
        path.write_text("not an image")
    else:
        path.write_text("notes")


SUFFIX = {"jpg": ".jpg", "txt": ".txt", "heic": ".heic"}


def _shown(path) -> str:
    """A file by its name (unique in a generated tree), bytes that are not UTF-8 as U+FFFD."""
    return printable_path(os.path.basename(path))


def _make_pool(root: Path, entries, tag: str = "") -> tuple[set, set]:
    """Write the entries; returns (files a file manager lists, the decodable ones among them)."""
    listed, good = set(), set()
    for k, (folder, stem, kind) in enumerate(entries):
        d = root.joinpath(*[p for p in folder.split("/") if p])
        d.mkdir(parents=True, exist_ok=True)
        name = f"{tag}{stem}{k}{SUFFIX.get(kind, '.png')}"
        if kind == "hidden":
            (d / f".{name}").write_text("x")
            continue
        path = d / name
        if kind == "dangling":
            path.symlink_to(root / f"missing{k}.png")
        else:
            _write(path, kind, k)
        listed.add(_shown(path))
        if kind in GOOD:
            good.add(_shown(path))
    return listed, good


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(entry, min_size=0, max_size=10), per_class=st.integers(1, 4), link=st.booleans())
def test_every_listed_file_is_an_item_or_a_failure_and_failures_never_reach_training(
    seed_set, tmp_path_factory, entries, per_class, link
):
    demo, store = seed_set
    work = tmp_path_factory.mktemp("tree")
    pool = work / "pool"
    pool.mkdir()
    listed, good = _make_pool(pool, entries)
    if link:  # a linked folder (and a loop back to the pool)
        outside = work / "outside"
        outside.mkdir()
        more, more_good = _make_pool(outside, entries[:3], tag="out-")
        listed |= more
        good |= more_good
        (pool / "linked").symlink_to(outside, target_is_directory=True)
        (outside / "back").symlink_to(pool, target_is_directory=True)
    run = work / "run"
    try:
        search = init_search(
            run,
            labeled=demo.labeled,
            pool=pool,
            rare=demo.rare,
            rare_examples={demo.rare: str(demo.rare_example)},
            feature_store=str(store),
            input_size=32,
            per_class=per_class,
            progress=False,
        )
    except RarelabError:
        assert per_class > len(good) or not good  # the only reasons these pools may fail
        assert not run.exists()  # a failed init leaves nothing
        return
    assert len(good) >= per_class
    with search:
        paths = search.dataset.paths
        items = {_shown(paths[i]) for i in search.split.pool}
        with open(run / "failed_files.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.DictReader(fh))
        failed = {_shown(r["path"]) for r in rows if r["error"]}
        failed_ids = {int(r["item_id"]) for r in rows if r["item_id"]}
        assert listed <= items | failed  # every listed file: an item or a failure with its reason
        assert items == good  # exactly the decodable ones are in the pool
        used = set(search.split.train) | set(search.split.val) | set(search.split.pool)
        assert not failed_ids & used
        cand = search.train().propose()
        assert not failed_ids & set(cand.ids.tolist())
    shutil.rmtree(work, ignore_errors=True)
