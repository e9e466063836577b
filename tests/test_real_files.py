"""What practitioners bring: linked folders, names that are not UTF-8, files that are not
images, commands that fail half way, damaged files in a labeled tree (issue 18, parts 2, 5, 6)."""

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rarelab.cli import main
from rarelab.data import walk_images, write_demo_folders
from rarelab.exceptions import DataUnavailableError, InvalidParameterError
from rarelab.search import init_search, open_search, scan_pool

LATIN1_NAME = os.fsdecode(b"caf\xe9.png")  # a Latin-1 name on an old share: not valid UTF-8


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Small labeled seed folder, pool and rare example (with the demo's three corrupt pool files)."""
    root = tmp_path_factory.mktemp("real_files")
    d = write_demo_folders(root / "demo", n_pool=60, n_seed=8, n_common=3, random_state=0)
    return d, root / "store"


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def _init(run, d, store, *, pool=None, labeled=None, **settings):
    settings = {"feature_store": str(store), "input_size": 32, "per_class": 5, "progress": False, **settings}
    return init_search(
        run,
        labeled=labeled or d.labeled,
        pool=pool or d.pool,
        rare=d.rare,
        rare_examples={d.rare: str(d.rare_example)},
        **settings,
    )


def _failed_rows(run):
    with open(run / "failed_files.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return list(csv.DictReader(fh))


def _png(path, value=100, size=16):
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path, format="PNG")


# -- walking ---------------------------------------------------------------------------------
def test_walk_follows_linked_folders_once_and_names_every_other_file(tmp_path):
    pool, elsewhere = tmp_path / "pool", tmp_path / "elsewhere" / "batch2"
    pool.mkdir()
    elsewhere.mkdir(parents=True)
    for i in range(4):
        _png(elsewhere / f"b{i}.png")
    _png(pool / "a.png")
    (pool / "batch2").symlink_to(elsewhere, target_is_directory=True)
    (pool / "again").symlink_to(elsewhere, target_is_directory=True)  # the same files through a second link
    (pool / "loop").symlink_to(pool, target_is_directory=True)  # a link back up: must not hang
    (pool / "notes.txt").write_text("shot on tuesday")
    (pool / "IMG_0001.HEIC").write_bytes(b"\0" * 10)
    (pool / "gone.png").symlink_to(tmp_path / "deleted.png")
    (pool / ".DS_Store").write_bytes(b"\0")
    (pool / ".thumbs").mkdir()
    _png(pool / ".thumbs" / "t.png")

    walk = walk_images(pool)
    assert sorted(Path(p).name for p in walk.images) == ["a.png", "b0.png", "b1.png", "b2.png", "b3.png"]
    reasons = {Path(p).name: why for p, why in walk.skipped}
    assert "not an image" in reasons["notes.txt"]
    assert "pillow-heif" in reasons["IMG_0001.HEIC"]
    assert "broken link" in reasons["gone.png"]
    assert "loop" not in reasons  # a folder reached again is not walked again: no loop, no file twice
    assert all("the same file as" in why for p, why in walk.skipped if "/again/" in p or "/batch2/" in p)
    assert ".DS_Store" not in reasons and "t.png" not in reasons  # hidden, as a file manager hides them


def test_walk_keeps_names_that_are_not_utf8(tmp_path):
    _png(tmp_path / LATIN1_NAME)
    walk = walk_images(tmp_path)
    assert [Path(p).name for p in walk.images] == [LATIN1_NAME]
    assert os.path.exists(walk.images[0])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_walk_names_a_folder_it_cannot_open(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    _png(locked / "x.png")
    locked.chmod(0)
    try:
        walk = walk_images(tmp_path)
    finally:
        locked.chmod(0o755)
    assert walk.images == [] and "cannot open folder" in walk.skipped[0][1]


# -- a search on such folders ------------------------------------------------------------------
@pytest.mark.slow
def test_search_on_linked_folders_latin1_names_and_stray_files(demo, tmp_path):
    d, store = demo
    pool, labeled = tmp_path / "pool", tmp_path / "labeled"
    shutil.copytree(d.pool, pool)
    shutil.copytree(d.labeled, labeled)
    outside = tmp_path / "elsewhere"
    shutil.copytree(d.labeled / sorted(os.listdir(d.labeled))[0], outside / "more_seed")
    (outside / "batch2").mkdir()
    for i in range(4):
        _png(outside / "batch2" / f"extra{i}.png", value=40 * i)
    (pool / "batch2").symlink_to(outside / "batch2", target_is_directory=True)
    first_class = sorted(os.listdir(labeled))[0]
    (labeled / first_class / "linked").symlink_to(outside / "more_seed", target_is_directory=True)
    shutil.copy(next(pool.glob("*.png")), pool / LATIN1_NAME)
    (pool / "notes.txt").write_text("x")
    (labeled / "README.txt").write_text("seed set")

    run = tmp_path / "run"
    with _init(run, d, store, pool=pool, labeled=labeled) as search:
        paths = search.dataset.paths
        pool_names = {Path(paths[i]).name for i in search.split.pool}
        assert {f"extra{i}.png" for i in range(4)} <= pool_names and LATIN1_NAME in pool_names
        n_seed = sum(1 for p in np.asarray(paths)[search.split.train] if "more_seed" in p)
        assert n_seed == len(os.listdir(outside / "more_seed"))  # the linked class subfolder counts
        search.train().propose()
        latin = paths.index(str((pool / LATIN1_NAME).resolve()))
        search.label([latin], [-1])
    rows = {Path(r["path"]).name: r["error"] for r in _failed_rows(run)}
    assert "not an image" in rows["notes.txt"] and "README.txt" in rows
    assert {"corrupt1.png", "corrupt2.jpg", "corrupt3.png"} <= set(rows)
    assert main(["search", "status", str(run)]) == 0  # reopens: the name survived SQLite
    assert main(["search", "export", str(run), "--csv", str(tmp_path / "labels.csv")]) == 0
    exported = (tmp_path / "labels.csv").read_text(encoding="utf-8")  # valid UTF-8 for every spreadsheet
    assert "caf\ufffd.png" in exported  # the byte that is not UTF-8 shown as U+FFFD
    # ... and the name as shown (candidates.html, the CSVs) names the file in an answers CSV
    (tmp_path / "answers.csv").write_text(f"path,label\ncaf\ufffd.png,{d.rare}\n", encoding="utf-8")
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "answers.csv")]) == 0
    with open_search(run, progress=False) as search:
        assert search.store.labels()[latin] == search.dataset.classes.index(d.rare)


@pytest.mark.slow
def test_answers_with_rows_not_reviewed_yet_store_the_others_and_say_so(demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    assert main(["search", "propose", str(run), "--quiet"]) == 0
    rows = (run / "candidates.csv").read_text().splitlines()
    answers = [rows[0] + ",label", rows[1] + ",not", rows[2] + ",", rows[3] + ","]
    (tmp_path / "answers.csv").write_text("\n".join(answers) + "\n")
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "answers.csv")]) == 0
    out = capsys.readouterr()
    assert "Stored 1 label " in out.out and "2 rows have no label and were skipped (lines 3, 4)" in out.err


# -- a command that fails changes nothing -------------------------------------------------------
@pytest.mark.slow
def test_init_with_a_pool_smaller_than_per_class_writes_nothing_and_the_suggested_fix_works(demo, tmp_path, capsys):
    d, store = demo
    small = tmp_path / "small"
    small.mkdir()
    for p in sorted(d.pool.glob("*.png"))[:4]:
        shutil.copy(p, small)
    run = tmp_path / "run"
    args = ["search", "init", str(run), "--labeled", str(d.labeled), "--pool", str(small), "--rare", d.rare]
    args += ["--rare-example", f"{d.rare}={d.rare_example}", "--feature-store", str(store), "--input-size", "32"]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "per_class" in err and "--per-class 4" in err and "nothing was written" in err
    assert not run.exists()
    assert main([*args, "--quiet", "--per-class", "2"]) == 0
    assert json.loads((run / "config.json").read_text())["per_class"] == 2
    assert main(["search", "propose", str(run), "--quiet", "--per-class", "1"]) == 0
    assert main(["search", "status", str(run)]) == 0


@pytest.mark.slow
def test_an_unreadable_rare_example_writes_nothing_and_a_good_one_then_works(demo, tmp_path, capsys):
    d, store = demo
    bad = tmp_path / "example.png"
    bad.write_bytes(b"")
    run = tmp_path / "run"
    with pytest.raises(DataUnavailableError, match="cannot be decoded.*nothing was written"):
        init_search(run, labeled=d.labeled, pool=d.pool, rare=d.rare, rare_examples={d.rare: str(bad)},
                    feature_store=str(store), input_size=32, progress=False)  # fmt: skip
    assert not run.exists()
    _init(run, d, store).close()
    assert (run / "config.json").exists()


@pytest.mark.slow
def test_a_failing_init_leaves_an_existing_folder_as_it_was(demo, tmp_path, monkeypatch):
    d, store = demo
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.md").write_text("mine")
    from rarelab.features import FileFeatures

    def crash(*a, **k):
        raise KeyboardInterrupt  # a person pressing Ctrl-C during the extraction

    monkeypatch.setattr(FileFeatures, "source", crash)
    with pytest.raises(KeyboardInterrupt):
        _init(run, d, store)
    assert _files(run) == ["notes.md"]
    monkeypatch.undo()
    _init(run, d, store).close()
    assert {"config.json", "items.sqlite", "labels.sqlite", "notes.md"} <= set(_files(run))


@pytest.mark.slow
def test_a_killed_init_is_started_over_but_labels_are_never_thrown_away(demo, tmp_path):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    (run / "config.json").unlink()  # what kill -9 during the extraction leaves: no config.json yet
    with pytest.raises(InvalidParameterError, match="config.json is missing"):
        open_search(run, progress=False)
    _init(run, d, store).close()  # the run is made again
    with open_search(run, progress=False) as search:
        search.train().propose()
        search.label(search.candidates_.ids[:1], [-1])
    (run / "config.json").unlink()
    with pytest.raises(InvalidParameterError, match="holds labels but no config.json"):
        _init(run, d, store)
    assert (run / "labels.sqlite").exists()


@pytest.mark.slow
def test_init_again_updates_runtime_settings_and_refuses_other_changes(demo, tmp_path):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    before = (run / "config.json").read_text()
    with pytest.raises(InvalidParameterError, match=r"seed: 0 stored, 3 given.*nothing was changed"):
        _init(run, d, store, seed=3)
    assert (run / "config.json").read_text() == before
    with pytest.warns(UserWarning, match="per_class 5 -> 3"):
        _init(run, d, store, per_class=3).close()
    assert json.loads((run / "config.json").read_text())["per_class"] == 3


# Every option `rarelab search init --help` offers, with a value that must work from the CLI.
INIT_OPTIONS = {
    "--labeled": None,  # every call has it
    "--pool": None,
    "--rare": None,
    "--rare-example": None,
    "--feature-store": None,
    "--input-size": None,
    "--quiet": None,
    "--per-class": ["--per-class", "3"],
    "--val": "VAL",
    "--strategy": ["--strategy", "entropy"],
    "--learner": ["--learner", "partial", "--epochs", "1"],
    "--backbone": ["--backbone", "efficientnet_lite1"],
    "--image-size": ["--image-size", "64"],
    "--epochs": ["--epochs", "2"],
    "--seed": ["--seed", "1"],
    "--engine": "RAY",
    "--ray-address": "RAY",
    "--workers": ["--workers", "0"],
    "--device": ["--device", "cpu"],
}


def test_every_init_option_is_covered_by_the_option_test():
    from rarelab.cli import build_parser

    parser = build_parser()
    search = next(
        a for a in parser._subparsers._group_actions[0].choices["search"]._actions if a.dest == "search_command"
    )
    init = search.choices["init"]
    offered = {s for a in init._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    assert offered == set(INIT_OPTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("option", [k for k, v in INIT_OPTIONS.items() if v is not None and k != "--ray-address"])
def test_every_init_option_works_from_the_cli(option, demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    extra = INIT_OPTIONS[option]
    if extra == "VAL":
        extra = ["--val", str(d.labeled)]
    elif extra == "RAY":  # --engine ray and --ray-address, together
        pytest.importorskip("ray")
        extra = ["--engine", "ray", "--ray-address", "local", "--workers", "1"]
    args = ["search", "init", str(run), "--labeled", str(d.labeled), "--pool", str(d.pool), "--rare", d.rare]
    args += ["--rare-example", f"{d.rare}={d.rare_example}", "--feature-store", str(store), "--input-size", "32"]
    args += ["--per-class", "5", "--quiet", *extra]
    assert main(args) == 0, capsys.readouterr().err
    assert main(["search", "propose", str(run), "--quiet"]) == 0, capsys.readouterr().err


# -- simulations on a labeled tree with damaged files ---------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("learner", ["linear", "partial"])
def test_compare_on_a_tree_with_damaged_files_leaves_them_out_and_lists_them(demo, tmp_path, learner, capsys):
    d, _ = demo
    tree = tmp_path / "tree"
    shutil.copytree(d.labeled, tree)
    rare_dir = tree / d.rare
    rare_dir.mkdir()
    for i in range(6):
        shutil.copy(d.rare_example, rare_dir / f"r{i}.png")
    first = sorted(os.listdir(d.labeled))[0]
    (tree / first / "zero.png").write_bytes(b"")
    (tree / first / "truncated.png").write_bytes((rare_dir / "r0.png").read_bytes()[:60])
    (tree / first / "broken.png").symlink_to(tmp_path / "gone.png")
    (tree / first / "notes.txt").write_text("x")
    out = tmp_path / "out"
    args = ["compare", "--dataset", "image_folder", "--root", str(tree), "--rare-classes", d.rare]
    args += ["--learner", learner, "--input-size", "32", "--strategies", "rare-softmax", "--rounds", "1"]
    args += ["--per-class", "2", "--seeds", "1", "--out", str(out), "--quiet", "--epochs", "1"]
    assert main(args) == 0
    assert "4 files of image_folder:tree cannot be read" in capsys.readouterr().err
    for folder in (out, out / "runs" / "rare-softmax" / "seed0"):
        with open(folder / "failed_files.csv", newline="") as fh:
            rows = {Path(r["path"]).name: r["error"] for r in csv.DictReader(fh)}
            assert sorted(rows) == ["broken.png", "notes.txt", "truncated.png", "zero.png"]
            assert "broken link" in rows["broken.png"] and "not an image" in rows["notes.txt"]
    from rarelab.simulation import open_simulation

    with open_simulation(out / "runs" / "rare-softmax" / "seed0", progress=False) as sim:
        used = {
            Path(sim.dataset.paths[i]).name for part in (sim.split.train, sim.split.val, sim.split.pool) for i in part
        }
        assert "zero.png" not in used and "truncated.png" not in used


@pytest.mark.slow
def test_scan_adds_new_files_and_lists_new_strays(demo, tmp_path):
    d, store = demo
    pool = tmp_path / "pool"
    shutil.copytree(d.pool, pool)
    run = tmp_path / "run"
    with _init(run, d, store, pool=pool) as search:
        n = len(search.split.pool)
    _png(pool / "new.png", value=3)
    (pool / "new.heic").write_bytes(b"x")
    with scan_pool(run, progress=False) as search:
        assert len(search.split.pool) == n + 1
    assert any(Path(r["path"]).name == "new.heic" for r in _failed_rows(run))


@pytest.mark.slow
def test_compare_on_a_manifest_naming_a_missing_file_leaves_it_out(demo, tmp_path, capsys):
    d, _ = demo
    rows = ["\ufeffpath;label"]  # as Excel saves "CSV UTF-8" in Europe
    for folder in sorted(d.labeled.iterdir()):
        rows += [f"{p};{folder.name}" for p in sorted(folder.iterdir())]
    rows += [f"{d.rare_example};{d.rare}"] * 1 + [f"{tmp_path / 'gone.png'};{d.rare}"]
    for i in range(4):
        shutil.copy(d.rare_example, tmp_path / f"r{i}.png")
        rows.append(f"r{i}.png;{d.rare}")  # relative to the manifest's folder
    (tmp_path / "labels.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["compare", "--dataset", "manifest", "--root", str(tmp_path / "labels.csv"), "--rare-classes", d.rare]
    args += ["--learner", "linear", "--input-size", "32", "--strategies", "rare-softmax", "--rounds", "1"]
    args += ["--per-class", "2", "--seeds", "1", "--out", str(out), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    with open(out / "failed_files.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [Path(r["path"]).name for r in rows] == ["gone.png"] and "cannot read" in rows[0]["error"]


# -- what the newcomer review found ----------------------------------------------------------------
@pytest.mark.slow
def test_a_class_folder_whose_name_is_not_utf8_is_a_class(demo, tmp_path, capsys):
    d, store = demo
    labeled = tmp_path / "labeled"
    shutil.copytree(d.labeled, labeled)
    odd = os.fsdecode(b"caf\xe9 signs")
    (labeled / sorted(os.listdir(labeled))[0]).rename(labeled / odd)
    run = tmp_path / "run"
    with _init(run, d, store, labeled=labeled) as search:
        assert odd in search.dataset.classes
        search.train().propose()
        first = int(search.candidates_.ids[0])
    (tmp_path / "a.csv").write_text(f"item_id,label\n{first},caf\ufffd signs\n", encoding="utf-8")  # as shown
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "a.csv")]) == 0, capsys.readouterr().err
    with open_search(run, progress=False) as search:
        assert search.dataset.classes[search.store.labels()[first]] == odd


@pytest.mark.slow
def test_relative_sources_work_from_any_folder_later(demo, tmp_path, monkeypatch, capsys):
    d, store = demo
    shutil.copytree(d.pool, tmp_path / "pool")
    shutil.copytree(d.labeled, tmp_path / "labeled")
    monkeypatch.chdir(tmp_path)
    args = ["search", "init", "run", "--labeled", "labeled", "--pool", "pool", "--rare", d.rare]
    args += ["--rare-example", f"{d.rare}={d.rare_example}", "--feature-store", str(store), "--input-size", "32"]
    assert main([*args, "--per-class", "5", "--quiet"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["search", "scan", str(tmp_path / "run"), "--quiet"]) == 0, capsys.readouterr().err
    again = [a if a not in ("labeled", "pool", "run") else str(tmp_path / a) for a in args]
    assert main([*again, "--per-class", "5", "--quiet"]) == 0, capsys.readouterr().err  # the same search
    rows = _failed_rows(tmp_path / "run")
    assert all(os.path.isabs(r["path"]) for r in rows)


@pytest.mark.slow
def test_an_answer_row_whose_item_id_and_path_disagree_is_refused(demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    assert main(["search", "propose", str(run), "--quiet"]) == 0
    rows = list(csv.DictReader(open(run / "candidates.csv", newline="")))
    (tmp_path / "a.csv").write_text(f"item_id,path,label\n{rows[0]['item_id']},{rows[1]['path']},not\n")
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "a.csv")]) == 2
    assert "name different files" in capsys.readouterr().err
    with open_search(run, progress=False) as search:
        assert not search.store.labels()


@pytest.mark.slow
def test_classes_that_differ_only_in_case_are_two_with_a_warning(demo, tmp_path):
    d, store = demo
    labeled = tmp_path / "labeled"
    shutil.copytree(d.labeled, labeled)
    first = sorted(os.listdir(labeled))[0]
    shutil.copytree(labeled / first, labeled / first.upper())
    with pytest.warns(UserWarning, match="differ only in case"):
        _init(tmp_path / "run", d, store, labeled=labeled).close()


@pytest.mark.slow
def test_propose_refuses_more_candidates_than_the_pool_holds(demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    assert main(["search", "propose", str(run), "--quiet", "--per-class", "500"]) == 2
    assert "Pass --per-class" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_names_files_as_given_and_says_what_it_skipped(demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    with _init(run, d, store) as search:
        search.train().propose()
    new = tmp_path / "new"
    new.mkdir()
    _png(new / "a.png")
    (new / "link.png").symlink_to(d.rare_example)
    (new / "notes.txt").write_text("x")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(new), "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        assert sorted(Path(r["path"]).name for r in csv.DictReader(fh)) == ["a.png", "link.png"]
    assert "skipped" in capsys.readouterr().err


@pytest.mark.slow
def test_the_cli_says_which_answers_corrected_committed_labels(demo, tmp_path, capsys):
    d, store = demo
    run = tmp_path / "run"
    _init(run, d, store).close()
    assert main(["search", "propose", str(run), "--quiet"]) == 0
    first = next(csv.DictReader(open(run / "candidates.csv", newline="")))
    (tmp_path / "a.csv").write_text(f"item_id,label\n{first['item_id']},not\n")
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "a.csv")]) == 0
    assert main(["search", "commit", str(run)]) == 0
    capsys.readouterr()
    (tmp_path / "b.csv").write_text(f"item_id,label\n{first['item_id']},{d.rare}\n")
    assert main(["search", "label", str(run), "--csv", str(tmp_path / "b.csv")]) == 0
    assert "1 correction of committed labels" in capsys.readouterr().out
