"""The feature study's figures are those of ordinary runs (one shared round-0 model is honest)."""

import csv

import numpy as np

from benchmarks.feature_study import FIELDS, main, study_seed, table
from rarelab import create_simulation


def test_round_one_figures_equal_separate_runs(tiny_config, tmp_path):
    config = tiny_config(learner="linear", per_class=5)
    figures = study_seed(config, None, rounds=3)
    n_rare = 3
    for strategy, key in (("rare-softmax", "rare_softmax_r1"), ("entropy", "entropy_r1"), ("random", "random_r1")):
        run = create_simulation(
            tiny_config(learner="linear", per_class=5, strategy=strategy), tmp_path / strategy, progress=False
        )
        run.simulate(1)
        assert figures[key] == run.history_[0]["hits"] / n_rare, strategy
    full = create_simulation(tiny_config(learner="linear", per_class=5), tmp_path / "three", progress=False).simulate(3)
    assert np.isclose(figures["f1_after_3"], full.history_[-1]["f1_rare"])
    found = full.history_[0]["hits"] + full.history_[1]["hits"]
    pool_truth = full.oracle(full.split.pool)
    findable = sum(min(50, int(np.sum(pool_truth == c))) for c in full.rare_classes)
    assert np.isclose(figures["found_after_2"], found / findable)
    # Two rounds: the same figures but F1 after 3, which it does not train for.
    short = study_seed(config, None, rounds=2)
    assert short["f1_after_3"] is None
    for key in ("rare_softmax_r1", "entropy_r1", "random_r1", "found_after_2"):
        assert short[key] == figures[key], key


def test_cli_appends_rows_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "study.csv"
    args = [
        "--dataset",
        "synth_signs",
        "--rare-classes",
        "rarest:3",
        "--seeds",
        "1",
        "--learner",
        "linear",
        "--epochs",
        "2",
        "--input-size",
        "32",
        "--row",
        "tiny",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert main(args) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 2 and set(rows[0]) == set(FIELDS) and rows[0]["row"] == "tiny"
    assert rows[0]["command"].startswith("python -m benchmarks.feature_study --dataset synth_signs")
    assert float(rows[0]["seeds"]) == 1
    text = table(out)
    assert text.count("| tiny |") == 2 and "round 1: rare-softmax / entropy / random" in text
    assert main([*args[:-4], "--rounds", "2", "--row", "short", "--out", str(out)]) == 0
    assert "| short |" in table(out) and "| n/a |" in table(out)


def test_table_says_what_a_row_cached(tmp_path):
    out = tmp_path / "study.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        base = dict(rare_softmax_r1=1, entropy_r1=1, random_r1=1, found_after_2=0.1, f1_after_3="", round_s=200)
        for name, caching in (("cold", 600), ("warm", 0.5), ("whole", "")):
            w.writerow({**base, "row": name, "caching_s": caching, "seeds": 1, "command": "x"})
    text = table(out)
    assert "| 10 min 0 s, 3 min 20 s |" in text
    assert "| reused, 3 min 20 s |" in text and "| nothing cached, 3 min 20 s |" in text
