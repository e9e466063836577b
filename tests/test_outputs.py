"""Outputs people rely on: readable files, clear errors, honest numbers, quiet logs."""

import json
import os
import stat

import numpy as np
import pytest

from rarelab import create_simulation, open_simulation
from rarelab.cli import main
from rarelab.data import resolve_rare_classes
from rarelab.exceptions import InvalidParameterError
from rarelab.utils import write_atomic


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_honour_the_umask_and_keep_a_files_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.html", "<p>hi</p>")
        assert _mode(tmp_path / "report.html") == 0o644  # mkstemp alone gives 0600
        os.chmod(tmp_path / "report.html", 0o664)
        write_atomic(tmp_path / "report.html", "<p>again</p>")
        assert _mode(tmp_path / "report.html") == 0o664 and (tmp_path / "report.html").read_text() == "<p>again</p>"
    finally:
        os.umask(old)


def test_run_outputs_are_readable_by_teammates(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("RARELAB_CACHE_DIR", str(tmp_path / "cache"))
    old = os.umask(0o022)
    try:
        s = create_simulation(tiny_config(epochs=1), tmp_path / "run", progress=False)
        s.train()
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.csv", "model.pt"):
        assert _mode(tmp_path / "run" / name) == 0o644, name
    cached = list((tmp_path / "cache").rglob("*.npz"))
    assert cached and all(_mode(p) == 0o644 for p in cached)


def test_digit_class_names_are_names_first():
    classes = [f"{i:05d}" for i in range(62)]
    assert resolve_rare_classes("00058", None, classes) == [58]
    tricky = ["7", "3", "x", "y", "z", "w", "v", "u"]  # "7" is class 0's name and class 7's id
    assert resolve_rare_classes("7", None, tricky) == [0]
    assert resolve_rare_classes("5", None, tricky) == [5]  # not a name: an id
    with pytest.raises(InvalidParameterError, match="class names, or class ids in \\[0, 61\\]"):
        resolve_rare_classes("00099", None, classes)


def test_report_skips_an_interrupted_run(tiny_config, tmp_path, capsys):
    out = tmp_path / "out"
    done = create_simulation(tiny_config(epochs=1), out / "runs" / "rare-softmax" / "seed0", progress=False)
    done.simulate(1)
    create_simulation(tiny_config(epochs=1, seed=1), out / "runs" / "rare-softmax" / "seed1", progress=False)
    assert not (out / "runs" / "rare-softmax" / "seed1" / "metrics.csv").exists()  # stopped before training
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    empty = tmp_path / "empty"
    (empty / "runs" / "entropy" / "seed0").mkdir(parents=True)
    assert main(["report", str(empty)]) == 2
    assert "No finished rounds" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["bad json", "unknown key", "a folder"])
def test_a_damaged_run_is_one_clear_line_and_exit_code_2(damage, tiny_config, tmp_path, capsys):
    run = tmp_path / "run"
    create_simulation(tiny_config(epochs=1), run, progress=False)
    cfg = run / "config.json"
    if damage == "bad json":
        cfg.write_text("{not json")
    elif damage == "unknown key":
        cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "colour": "blue"}))
    else:
        cfg.unlink()
        cfg.mkdir()
    assert main(["resume", str(run), "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rarelab: error:") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_precision_counts_only_proposed_candidates(tiny_config, tmp_path):
    s = create_simulation(tiny_config(epochs=1), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    rare = s.rare_classes[0]
    others = np.setdiff1d(s.pool_ids_, cand.ids)[:20]  # a lasso in the projection view, far from the query
    s.label(others, np.full(len(others), rare))
    s.label(cand.ids, np.full(len(cand.ids), -1))
    s.commit()
    record = s.history_[0]
    assert record["precision"] == 0.0 and record["hits"] == 20


def test_learner_and_search_must_share_one_dataset(tiny_signs):
    from rarelab import ActiveLoop, ArrayDataset, LinearProbe, RareSoftmax, rare_class_split

    copy = ArrayDataset(tiny_signs.images, tiny_signs.targets, tiny_signs.classes)
    split = rare_class_split(tiny_signs.targets, [int(np.argmin(tiny_signs.class_counts()))], random_state=0)
    with pytest.raises(InvalidParameterError, match="same dataset"):
        ActiveLoop(
            dataset=tiny_signs, split=split, learner=LinearProbe(dataset=copy), strategy=RareSoftmax(), per_class=2
        )


def test_short_training_loops_stay_silent_in_a_log(tiny_config, tmp_path, capsys):
    s = create_simulation(tiny_config(epochs=3), tmp_path / "run", progress=True)
    capsys.readouterr()
    s.train()  # captured stderr is not a terminal: no "training head" bar per round
    assert "training head" not in capsys.readouterr().err
    reopened = open_simulation(tmp_path / "run", progress=False)
    assert reopened.phase_ == "propose"
