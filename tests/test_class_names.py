"""Class names as people write them: one matching rule for the command line, the API and CSVs."""

import json
import unicodedata

import numpy as np
import pytest

from rarelab.cli import build_parser, config_from_args, main
from rarelab.data import class_hint, find_class, match_class, resolve_classes, resolve_rare_classes, split_class_names
from rarelab.exceptions import InvalidParameterError
from rarelab.search import SearchConfig, parse_rare_examples, read_labeled_source

COMMA = "no entry, except buses"
NFD = unicodedata.normalize("NFD", "Café")  # as a macOS folder holds it


def small_search(tmp_path, rare=COMMA, extra=()):
    """A search whose rare class has no folder and one example, through the command line."""
    from rarelab.data import write_demo_folders

    demo = write_demo_folders(tmp_path / "demo", n_pool=60, n_seed=4, random_state=2)
    run = tmp_path / "run"
    args = ["search", "init", str(run), "--labeled", str(demo.labeled), "--pool", str(demo.pool)]
    args += ["--rare", rare, "--rare-example", f"{rare}={demo.rare_example}", *extra]
    args += ["--feature-store", str(tmp_path / "store"), "--input-size", "32", "--epochs", "2", "--per-class", "3"]
    assert main([*args, "--workers", "0", "--quiet"]) == 0
    return run, demo


# -- the rule ----------------------------------------------------------------------------------
CLASSES = [COMMA, "Stop", "stop sign", "a", "A", NFD, 'the "big" one', "x=y"]


@pytest.mark.parametrize(
    "written,name",
    [
        (COMMA, COMMA),
        ("  no  entry,  except buses ", COMMA),  # runs of spaces are one space; the comma stays
        (" no entry, except buses ", COMMA),
        ("NO ENTRY, EXCEPT BUSES", COMMA),
        ("stop", "Stop"),
        ("a", "a"),
        ("A", "A"),
        ("a ", "a"),  # spaces before case: 'a ' is 'a', not ambiguous with 'A'
        ("Café", NFD),  # typed NFC
        ("CAFÉ", NFD),
        ('the "big" one', 'the "big" one'),
        ("x=y", "x=y"),
        ("stp", None),
    ],
)
def test_find_class_exact_then_spaces_and_unicode_then_case(written, name):
    i = find_class(written, CLASSES)
    assert (CLASSES[i] if i is not None else None) == name


def test_classes_equal_ignoring_case_need_the_exact_name():
    assert find_class("b", ["B", "b"]) == 1 and find_class("b ", ["B", "b"]) == 1
    assert find_class("B ", ["b", "B"]) == 1
    assert find_class("bee", ["BEE", "Bee"]) is None
    assert "differ only in case" in class_hint("bee", ["BEE", "Bee"])


def test_did_you_mean():
    with pytest.raises(
        InvalidParameterError,
        match=r"'rare' parameter of init_search.*Got 'no entry except buses'.*"
        r"Did you mean 'no entry, except buses'",
    ):
        match_class("no entry except buses", CLASSES, owner="init_search", name="rare")
    assert "Known classes" in class_hint("zzzzzz", ["a", "b"])
    # A number for a zero-padded folder name (GTSRB's 00033) is suggested first.
    assert class_hint("33", ["00000", "00014", "00033"]).startswith("Did you mean '00033'")


def test_comma_lists_split_only_where_every_part_is_a_class():
    assert split_class_names("stop,a", CLASSES) == ["Stop", "a"]
    assert split_class_names([COMMA], CLASSES) == [COMMA]
    assert split_class_names(["no entry, except trams"], CLASSES) == ["no entry, except trams"]  # a new name
    assert split_class_names(["0,1"], ["x", "y"], ids=True) == [0, 1]
    assert "'stpo': Did you mean 'Stop'" in class_hint("a,stpo", CLASSES)


def test_resolve_classes_names_first_then_ids():
    assert resolve_classes([COMMA, " STOP ", 3], CLASSES) == [0, 1, 3]
    assert resolve_classes(["00014"], ["00000", "00014"]) == [1] and resolve_classes(["1"], ["00000", "00014"]) == [1]
    targets = np.repeat(np.arange(len(CLASSES)), 3)
    assert resolve_rare_classes([COMMA], targets, CLASSES) == [0]
    assert resolve_rare_classes("Stop,a", targets, CLASSES) == [1, 3]
    assert resolve_rare_classes(["stop sign", "0"], targets, CLASSES) == [0, 2]
    with pytest.raises(InvalidParameterError, match="Did you mean 'stop sign'"):
        resolve_rare_classes("stop-sign", targets, CLASSES)


# -- the command line ---------------------------------------------------------------------------
def test_compare_rare_classes_is_repeatable_and_takes_names_whole(capsys):
    base = ["compare", "--dataset", "synth_signs", "--out", "o"]
    a = build_parser().parse_args(base)
    assert config_from_args(a, "random", 0).rare_classes == "rarest:10"
    a = build_parser().parse_args([*base, "--rare-classes", COMMA, "--rare-classes", "x,y"])
    assert config_from_args(a, "random", 0).rare_classes == [COMMA, "x,y"]
    a = build_parser().parse_args([*base, "--rare-classes", "rarest:3"])
    assert config_from_args(a, "random", 0).rare_classes == "rarest:3"


def test_help_says_how_to_name_a_class_with_a_comma(capsys):
    with pytest.raises(SystemExit):
        main(["search", "init", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "repeat for several" in out and "--rare 'no entry, except buses'" in out


def test_rare_names_follow_the_labeled_folders(tmp_path):
    for c in [COMMA, "Stop", "yield", NFD]:
        (tmp_path / "seed" / c).mkdir(parents=True)
    seed = tmp_path / "seed"
    assert SearchConfig.rare_names(COMMA, labeled=seed) == [COMMA]
    assert SearchConfig.rare_names(["stop,yield"], labeled=seed) == ["Stop", "yield"]
    assert SearchConfig.rare_names(["stop", "Stop "], labeled=seed) == ["Stop"]
    assert SearchConfig.rare_names(["café"], labeled=seed) == [NFD]
    assert SearchConfig.rare_names(["  a   new one "], labeled=seed) == ["a new one"]
    assert SearchConfig.rare_names(['say "hi"'], labeled=seed) == ['say "hi"']
    # "x,y" is no folder: the example names it, so it is one class, not two
    assert SearchConfig.rare_names(["x,y"], labeled=seed, rare_examples=["x,y=f.png"]) == ["x,y"]
    assert SearchConfig.rare_names(["yield,x"], labeled=seed, rare_examples=["x=f.png"]) == ["yield", "x"]


def test_rare_examples_match_names_holding_equals_and_commas(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files on a command line are read from the current folder
    f = tmp_path / "b=c.png"
    f.write_bytes(b"")
    got = parse_rare_examples(["a=b=c.png", f"{COMMA}={f}"], ["a", "a=b", COMMA])
    assert got == {"a": [str(f.resolve())], COMMA: [str(f.resolve())]}  # the split whose file exists
    assert parse_rare_examples([f"A=B={f.name}"], ["a=b"]) == {"a=b": [str(f.resolve())]}
    assert parse_rare_examples({"STOP": str(f)}, ["stop"]) == {"stop": [str(f.resolve())]}
    assert parse_rare_examples([str(f)], ["a=b"]) == {"a=b": [str(f.resolve())]}  # a bare file with '=' in its name
    with pytest.raises(InvalidParameterError, match="Did you mean 'stop'"):
        parse_rare_examples(["stp=x.png"], ["stop"])
    with pytest.raises(InvalidParameterError, match="Did you mean 'stop'"):
        parse_rare_examples({"stp": "x.png"}, ["stop"])


def test_a_labeled_manifest_cleans_label_spaces(tmp_path):
    (tmp_path / "m.csv").write_text("path,Label\na.png, Stop \nb.png,Stop\nc.png,stop\n")
    assert read_labeled_source(tmp_path / "m.csv")[1] == ["Stop", "Stop", "stop"]  # case stays: a and A may be two
    (tmp_path / "e.csv").write_text("path,label\na.png,Stop\nb.png, \n")
    with pytest.raises(InvalidParameterError, match="line 3, column 'label': the label is empty"):
        read_labeled_source(tmp_path / "e.csv")


@pytest.mark.slow
def test_a_class_with_a_comma_is_named_on_the_command_line(tmp_path):
    run, demo = small_search(tmp_path)
    config = json.loads((run / "config.json").read_text())
    assert config["rare"] == [COMMA] and list(config["rare_examples"]) == [COMMA]
    from rarelab.search import open_search

    with open_search(run, progress=False) as search:
        assert [search.dataset.classes[c] for c in search.rare_classes] == [COMMA]
