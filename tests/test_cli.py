import csv

import pytest

from rarelab.cli import build_parser, main

TINY = [
    "--learner",
    "linear",
    "--dataset",
    "synth_signs",
    "--n-samples",
    "1500",
    "--rare-classes",
    "rarest:3",
    "--per-class",
    "3",
    "--input-size",
    "32",
    "--epochs",
    "2",
    "--quiet",
]


def test_run_writes_metrics_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["compare", *TINY, "--rounds", "2", "--seeds", "2", "--strategies", "rare-softmax,random", "--out", str(out)]
    )
    assert code == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {"strategy", "seed", "round", "labels_used", "n_rare", "f1_rare", "hits"} <= set(rows[0])
    assert len(rows) == 2 * 2 * 3  # strategies x seeds x (rounds + 1)
    html = (out / "report.html").read_text()
    assert "Fig. 4a" in html and "top " in html and "e-0" in html  # probabilities in 3.1e-03 notation
    assert " 0.00<" not in html
    assert "rare-softmax" in capsys.readouterr().out


def test_rerun_resumes_instead_of_redoing(tmp_path):
    out = tmp_path / "out"
    assert main(["compare", *TINY, "--rounds", "1", "--strategies", "random", "--out", str(out)]) == 0
    assert main(["compare", *TINY, "--rounds", "2", "--strategies", "random", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["round"] for r in rows] == ["0", "1", "2"]


def test_resume_and_report_commands(tmp_path):
    out = tmp_path / "out"
    main(["compare", *TINY, "--rounds", "1", "--strategies", "rare-softmax", "--out", str(out)])
    assert main(["resume", str(out / "runs" / "rare-softmax" / "seed0"), "--rounds", "2", "--quiet"]) == 0
    assert main(["report", str(out)]) == 0
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 3


def test_unknown_class_name_is_a_clear_error(tmp_path, capsys):
    code = main(["compare", *TINY[:-5], "--rare-classes", "stop sign", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "'rare_classes'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "runs").exists()


@pytest.mark.parametrize("command", [[], ["compare"], ["resume"], ["report"], ["list", "datasets"]])
def test_help_is_complete(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: rarelab" in text
    if command == ["compare"]:
        for flag in (
            "--dataset",
            "--root",
            "--rare-classes",
            "--strategies",
            "--rounds",
            "--per-class",
            "--seeds",
            "--backbone",
            "--epochs",
            "--out",
        ):
            assert flag in text


def test_bad_strategy_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--strategies", "magic", "--out", "x"])
    assert "unknown strategies" in capsys.readouterr().err


def test_ranking_hits_interleave_per_class_lists():
    from rarelab.reporting import average_precision, precision_recall, ranking_hits

    cand = [(10, 1, 0.9), (11, 1, 0.8), (20, 2, 0.7), (21, 2, 0.6)]
    labels = {10: 1, 11: 5, 20: 2, 21: 2}
    hits = ranking_hits(cand, labels, [1, 2])
    assert hits.tolist() == [True, True, False, True]  # 10, 20, 11, 21
    prec, rec = precision_recall(hits, 4)
    assert prec.tolist() == [1.0, 1.0, 2 / 3, 0.75] and rec[-1] == 0.75
    assert average_precision(hits, 4) == pytest.approx((1 + 1 + 0.75) / 4)


def test_report_has_pr_curves_and_auc_table(tmp_path):
    out = tmp_path / "out"
    assert main(["compare", *TINY, "--rounds", "1", "--strategies", "rare-softmax,taast", "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "round-0 candidate ranking" in html and "AUC N_rare" in html


def test_wrong_folders_and_settings_get_errors_that_say_what_to_do(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compare", *TINY, "--rounds", "1", "--strategies", "random", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["compare", *TINY, "--learner", "linear", "--views", "3", "--out", str(tmp_path / "v")]) == 2
    assert "does not take ['views']" in capsys.readouterr().err
    assert main(["resume", str(out), "--rounds", "2"]) == 2
    assert "holds a comparison" in capsys.readouterr().err
    sim = next((out / "runs").glob("*/seed*"))
    assert main(["report", str(sim)]) == 2
    assert "not a comparison's folder" in capsys.readouterr().err
    assert main(["search", "status", str(sim)]) == 2
    assert "holds a simulation" in capsys.readouterr().err
    assert main(["predict", str(sim), str(tmp_path / "missing.png")]) == 2
    assert "No such files" in capsys.readouterr().err
