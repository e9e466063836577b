"""The real job: a labeled seed folder, a flat unlabeled pool of files, a person's answers."""

import csv
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rarelab.cli import main
from rarelab.search import init_search, open_search

pytestmark = pytest.mark.slow


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _answer(candidates_csv, truth, rare, out, *, limit=None):
    """What a person would write after looking at the gallery: the true class where it is the
    rare one, 'not' otherwise. The test plays the person; the package never sees `truth`."""
    rows = _read_csv(candidates_csv)[:limit]
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        for r in rows:
            w.writerow([r["path"], rare if truth[r["path"]] == rare else "not"])
    return sum(truth[r["path"]] == rare for r in rows), len(rows)


def _init_args(root, name, example, run, store):
    return [
        "search",
        "init",
        str(run),
        "--labeled",
        str(root / "labeled"),
        "--pool",
        str(root / "pool"),
        "--rare",
        name,
        "--rare-example",
        f"{name}={example}",
        "--feature-store",
        str(store),
        "--input-size",
        "64",
        "--per-class",
        "40",
        "--epochs",
        "10",
        "--workers",
        "2",
    ]


# 64 px: at 32 px ImageNet features do not separate these signs (0 of 31 rare items in 80 candidates)


def test_cli_and_python_rounds_on_an_unlabeled_folder(search_folders, tmp_path, capsys):
    root, name, example, truth = search_folders
    run, store = tmp_path / "run", root / "store"  # shared: keyed by file, so tests reuse it
    assert main(_init_args(root, name, example, run, store)) == 0
    failed = _read_csv(run / "failed_files.csv")
    assert sorted(Path(r["path"]).name for r in failed) == ["corrupt1.png", "corrupt2.jpg", "corrupt3.png"]
    n_rare_pool = sum(v == name for v in truth.values())

    found = 0
    for rnd in range(2):  # two rounds through the command line
        assert main(["search", "propose", str(run), "--quiet"]) == 0
        rows = _read_csv(run / "candidates.csv")
        assert list(rows[0]) == ["item_id", "path", "rare_class", "score", "probability"]
        assert len(rows) == 40 and all(r["rare_class"] == name for r in rows)
        assert all("corrupt" not in r["path"] for r in rows)
        page = (run / "candidates.html").read_text()
        assert page.count("data:image/png;base64,") == 40  # thumbnails inline; the page's test: test_labeling_page
        hits, n = _answer(run / "candidates.csv", truth, name, tmp_path / f"answers{rnd}.csv")
        found += hits
        assert main(["search", "label", str(run), "--csv", str(tmp_path / f"answers{rnd}.csv")]) == 0
        assert main(["search", "commit", str(run)]) == 0
    # rare items are ~2 % of the pool: random picks would find about 1.6 in 80
    assert found >= 10, f"found {found} of {n_rare_pool} rare items in 80 candidates"

    search = open_search(run, progress=False)  # a third round through the Python API
    assert search.round_ == 2 and search.phase_ == "train"
    search.train()
    assert search.history_[-1]["f1_rare"] is None  # no validation labels: F1 is absent, not zero
    cand = search.propose()
    paths = [search.dataset.paths[i] for i in cand.ids]
    labels = [search.dataset.class_to_idx[name] if truth[p] == name else -1 for p in paths]
    search.label(cand.ids, labels)
    search.commit()
    search.export_labels(tmp_path / "labels.csv")
    exported = _read_csv(tmp_path / "labels.csv")
    assert len(exported) == 120 and all(r["path"] in truth for r in exported)
    assert {r["class_name"] for r in exported} <= {name, "not rare"}
    assert (run / "model.pt").exists()
    assert main(["search", "status", str(run)]) == 0
    assert "round 3" in capsys.readouterr().out

    assert main(["predict", str(run), str(example), str(root / "pool" / "corrupt1.png")]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].startswith("path,predicted,probability,p_") and len(lines) == 2
    assert "corrupt1.png" in out.err


def test_reopening_does_not_retrain(search_folders, tmp_path):
    root, name, example, _ = search_folders
    run = tmp_path / "run"
    search = init_search(
        run,
        labeled=root / "labeled",
        pool=root / "pool",
        rare=name,
        rare_examples=[str(example)],
        feature_store=str(root / "store"),
        input_size=64,
        epochs=5,
        per_class=10,
        progress=False,
    )
    search.train()
    p0 = search.learner.predict_proba(search.pool_ids_[:50])
    again = open_search(run, progress=False)
    assert again.phase_ == "propose"  # trained: the model came from model.pt
    np.testing.assert_allclose(again.learner.predict_proba(again.pool_ids_[:50]), p0, rtol=1e-6)
    assert again.propose() is not None


def test_labels_csv_is_checked_before_anything_is_stored(search_folders, tmp_path):
    root, name, example, truth = search_folders
    run = tmp_path / "run"
    search = init_search(
        run,
        labeled=root / "labeled",
        pool=root / "pool",
        rare=name,
        rare_examples=[str(example)],
        feature_store=str(root / "store"),
        input_size=64,
        epochs=3,
        per_class=5,
        progress=False,
    )
    search.train().propose()
    good = search.dataset.paths[int(search.candidates_.ids[0])]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,label\n{good},{name}\n{good},no-such-class\n")
    assert main(["search", "label", str(run), "--csv", str(bad)]) == 2
    assert open_search(run, progress=False).pending_labels_ == {}


def test_digit_folder_names_are_names(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, n in [("00000", 6), ("00001", 6), ("00014", 1)]:
        (tmp_path / "seed" / cls).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / "seed" / cls / f"{k}.png"
            )
    (tmp_path / "pool").mkdir()
    for k in range(20):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "pool" / f"{k}.png")
    search = init_search(
        tmp_path / "run",
        labeled=tmp_path / "seed",
        pool=tmp_path / "pool",
        rare="00014",
        feature_store=str(tmp_path / "store"),
        input_size=64,
        epochs=2,
        per_class=3,
        progress=False,
    )
    assert search.rare_classes == (2,) and search.dataset.classes[2] == "00014"


def test_flat_folder_as_labeled_set_says_what_to_do(tmp_path):
    from rarelab.exceptions import DataUnavailableError

    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with pytest.raises(DataUnavailableError, match="--pool"):
        init_search(tmp_path / "run", labeled=tmp_path / "flat", pool=tmp_path / "flat", rare="x")
    assert not (tmp_path / "run").exists()


_LABELER = """
import sys
from rarelab.search import open_search
search = open_search(sys.argv[1], progress=False)
for i in search.candidates_.ids:
    search.label([int(i)], [-1])
    print(int(i), flush=True)
"""


def test_kill_during_labeling_loses_no_label(search_folders, tmp_path):
    root, name, example, _ = search_folders
    run = tmp_path / "run"
    search = init_search(
        run,
        labeled=root / "labeled",
        pool=root / "pool",
        rare=name,
        rare_examples=[str(example)],
        feature_store=str(root / "store"),
        input_size=64,
        epochs=2,
        per_class=200,
        progress=False,
    )
    search.train().propose()
    search.close()
    proc = subprocess.Popen([sys.executable, "-c", _LABELER, str(run)], stdout=subprocess.PIPE, text=True)
    acknowledged = [int(proc.stdout.readline()) for _ in range(20)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    pending = open_search(run, progress=False).pending_labels_
    assert set(acknowledged) <= set(pending)


def test_scan_adds_new_pool_files_and_extracts_only_them(tmp_path):
    import shutil

    from rarelab.data import write_demo_folders
    from rarelab.features import FeatureStore

    demo = write_demo_folders(tmp_path / "demo", n_pool=200, n_seed=5, random_state=1)
    store = tmp_path / "store"
    search = init_search(
        tmp_path / "run",
        labeled=demo.labeled,
        pool=demo.pool,
        rare=demo.rare,
        rare_examples=[str(demo.rare_example)],
        feature_store=str(store),
        input_size=32,
        epochs=2,
        per_class=3,
        progress=False,
    )
    n_pool = len(search.pool_ids_)
    search.train().propose()
    search.label(search.candidates_.ids[:2], [-1, -1])
    (demo.pool / "later").mkdir()
    for k, src in enumerate(sorted(demo.pool.glob("0*.png"))[:4]):
        shutil.copy(src, demo.pool / "later" / f"new{k}.png")
    fs = FeatureStore(store, input_size=32, tune_blocks=4)  # the default learner's trunk activations
    before = fs._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    assert main(["search", "scan", str(tmp_path / "run"), "--quiet"]) == 0
    after = fs._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    assert after - before == 4
    again = open_search(tmp_path / "run", progress=False)
    assert len(again.pool_ids_) == n_pool + 4 and again.phase_ == "label" and len(again.pending_labels_) == 2


def test_a_deleted_feature_store_is_rebuilt_on_reopen(tmp_path):
    import shutil

    from rarelab.data import write_demo_folders

    demo = write_demo_folders(tmp_path / "demo", n_pool=60, n_seed=4, random_state=2)
    store = tmp_path / "store"
    kwargs = dict(
        labeled=demo.labeled,
        pool=demo.pool,
        rare=demo.rare,
        rare_examples=[str(demo.rare_example)],
        feature_store=str(store),
        input_size=32,
        epochs=2,
        per_class=3,
        progress=False,
    )
    init_search(tmp_path / "run", **kwargs).close()
    shutil.rmtree(store)
    search = open_search(tmp_path / "run", progress=False)  # extracts again instead of failing on lost chunks
    search.train()
    assert search.propose() is not None


def test_a_labeled_validation_folder_gives_rare_f1(search_folders, tmp_path):
    import shutil

    root, name, example, truth = search_folders
    val = tmp_path / "val"  # copies: the pool keeps its files; this checks only that F1 is reported
    picked = {name: [p for p, c in truth.items() if c == name][:3]}
    common = sorted({c for c in truth.values() if c != name})[:2]
    for c in common:
        picked[c] = [p for p, t in truth.items() if t == c][:5]
    for c, files in picked.items():
        (val / c).mkdir(parents=True)
        for f in files:
            shutil.copy(f, val / c / Path(f).name)
    search = init_search(
        tmp_path / "run",
        labeled=root / "labeled",
        pool=root / "pool",
        rare=name,
        rare_examples=[str(example)],
        val=val,
        feature_store=str(root / "store"),
        input_size=64,
        epochs=5,
        per_class=5,
        progress=False,
    )
    assert len(search.split.val) == 13 and search.split.has_val_labels
    search.train()
    assert isinstance(search.history_[-1]["f1_rare"], float)  # with labels given; None without (test above)
