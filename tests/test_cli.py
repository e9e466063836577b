import csv

import pytest

from rarelab.cli import build_parser, main

TINY = ["--dataset", "synth_signs", "--n-samples", "1500", "--rare-classes", "rarest:3", "--per-class", "3",
        "--input-size", "32", "--epochs", "2", "--quiet"]


def test_run_writes_metrics_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", *TINY, "--rounds", "2", "--seeds", "2", "--strategies", "rare-softmax,random",
                 "--out", str(out)])
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
    assert main(["run", *TINY, "--rounds", "1", "--strategies", "random", "--out", str(out)]) == 0
    assert main(["run", *TINY, "--rounds", "2", "--strategies", "random", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["round"] for r in rows] == ["0", "1", "2"]


def test_resume_and_report_commands(tmp_path):
    out = tmp_path / "out"
    main(["run", *TINY, "--rounds", "1", "--strategies", "rare-softmax", "--out", str(out)])
    assert main(["resume", str(out / "runs" / "rare-softmax" / "seed0"), "--rounds", "2", "--quiet"]) == 0
    assert main(["report", str(out)]) == 0
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 3


def test_unknown_class_name_is_a_clear_error(tmp_path, capsys):
    code = main(["run", *TINY[:-5], "--rare-classes", "stop sign", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "'rare_classes'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "runs").exists()


@pytest.mark.parametrize("command", [[], ["run"], ["resume"], ["report"], ["datasets"]])
def test_help_is_complete(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: rarelab" in text
    if command == ["run"]:
        for flag in ("--dataset", "--root", "--rare-classes", "--strategies", "--rounds", "--per-class", "--seeds",
                     "--backbone", "--epochs", "--out"):
            assert flag in text


def test_bad_strategy_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--strategies", "magic", "--out", "x"])
    assert "unknown strategies" in capsys.readouterr().err
