"""The active loop's state transitions, durability of labels and determinism."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rarelab import NOT_RARE, create_simulation, open_simulation
from rarelab.exceptions import InvalidParameterError, PhaseError


def test_phases_run_in_order(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    assert (s.round_, s.phase_) == (0, "train")
    with pytest.raises(PhaseError, match="Call train"):
        s.propose()
    s.train()
    assert s.phase_ == "propose" and s.history_[0]["n_rare"] == 1.0
    with pytest.raises(PhaseError, match="propose"):
        s.commit()
    cand = s.propose()
    assert len(cand) == 9 and s.phase_ == "label"
    assert s.candidate_proba_.shape == (9, 3) and (s.candidate_proba_ < 1).all()
    s.label_with_oracle().commit()
    assert (s.round_, s.phase_) == (1, "train")
    rec = s.history_[0]
    assert rec["labels_used"] == 0 and rec["n_candidates"] == 9
    assert rec["hits"] == sum(rec["hits_per_class"].values())
    assert len(s.train_ids_) == len(s.split.train) + 9
    assert not set(cand.ids) & set(s.pool_ids_)


def test_run_calls_step_and_trains_the_final_model(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False).simulate(2)
    assert [r["round"] for r in s.history_] == [0, 1, 2]
    assert [r["labels_used"] for r in s.history_] == [0, 9, 18]
    assert s.history_[-1]["hits"] is None  # the last model has not queried yet
    n_rare = [r["n_rare"] for r in s.history_]
    assert n_rare == sorted(n_rare) and n_rare[-1] == n_rare[0] + sum(r["hits"] for r in s.history_[:-1]) / 3
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["strategy", "seed", "round", "labels_used", "n_rare", "f1_rare", "hits"]


def test_person_labels_partial_relabel_and_not_rare(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    s.label(cand.ids[:2], [cand.target[0], NOT_RARE])
    s.label(cand.ids[:1], [0])  # a person changes their mind before commit
    assert s.pending_labels_ == {int(cand.ids[0]): 0, int(cand.ids[1]): NOT_RARE}
    s.unlabel(cand.ids[1:2])
    assert int(cand.ids[1]) not in s.pending_labels_
    s.label(cand.ids[1:2], [NOT_RARE]).commit()
    assert int(cand.ids[0]) in s.train_ids_ and int(cand.ids[1]) not in s.train_ids_  # -1 leaves pool, not trained
    assert int(cand.ids[1]) not in s.pool_ids_
    assert int(cand.ids[2]) in s.pool_ids_  # unlabeled candidates stay in the pool


def test_label_validation(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    with pytest.raises(InvalidParameterError, match="'ids' parameter"):
        s.label([int(s.split.train[0])], [0])
    with pytest.raises(InvalidParameterError, match="'labels' parameter"):
        s.label(cand.ids[:1], [999])
    with pytest.raises(InvalidParameterError, match="'labels' parameter"):
        s.label(cand.ids[:2], [0.5, 1.0])


def test_no_oracle_means_a_person_labels(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.oracle = None
    s.train()
    s.propose()
    with pytest.raises(PhaseError, match="no oracle"):
        s.step()


def test_reopen_restores_labels_round_and_candidates(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False).simulate(1)
    s.train()
    cand = s.propose()
    s.label(cand.ids[:4], s.oracle(cand.ids[:4]))
    s.close()
    r = open_simulation(tmp_path / "run", progress=False)
    assert (r.round_, r.phase_) == (1, "label")
    assert np.array_equal(r.candidates_.ids, cand.ids)
    assert r.pending_labels_ == {int(i): int(y) for i, y in zip(cand.ids[:4], s.oracle(cand.ids[:4]))}
    assert len(r.history_) == 2
    r.label_with_oracle().commit()
    assert r.round_ == 2 and r.history_[1]["n_candidates"] == 9


def test_same_seed_same_metrics_other_seed_other_split(tiny_config, tmp_path):
    a = create_simulation(tiny_config(), tmp_path / "a", progress=False).simulate(2)
    b = create_simulation(tiny_config(), tmp_path / "b", progress=False).simulate(2)
    c = create_simulation(tiny_config(seed=1), tmp_path / "c", progress=False)
    strip = lambda h: [{k: v for k, v in r.items() if k not in ("train_seconds",)} for r in h]  # noqa: E731
    assert strip(a.history_) == strip(b.history_)
    assert (tmp_path / "a" / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
    assert not np.array_equal(a.split.pool, c.split.pool)


def test_run_dir_with_other_config_is_refused(tiny_config, tmp_path):
    create_simulation(tiny_config(), tmp_path / "run", progress=False)
    with pytest.raises(InvalidParameterError, match="another config"):
        create_simulation(tiny_config(per_class=2), tmp_path / "run", progress=False)


def test_bad_config_writes_nothing(tiny_config, tmp_path):
    with pytest.raises(InvalidParameterError, match="Did you mean"):
        create_simulation(tiny_config(rare_classes="stpo"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(InvalidParameterError, match="'per_class' parameter of ActiveLoop"):
        create_simulation(tiny_config(per_class=10_000), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_rare_class_without_pool_items_is_refused(tiny_signs, tmp_path):
    from rarelab import ActiveLoop, LinearProbe, RareSoftmax, SimulatedOracle, Split

    y = tiny_signs.targets
    rare = int(np.argmin(tiny_signs.class_counts()))
    ids = np.flatnonzero(y == rare)
    others = np.flatnonzero(y != rare)
    train = np.sort(np.r_[ids[:1], others[:100]])
    split = Split(
        train=train,
        val=ids[1:],
        pool=others[100:200],
        rare_classes=(rare,),
        train_labels=y[train],
        val_labels=y[ids[1:]],
    )
    with pytest.raises(InvalidParameterError, match="no pool items"):
        ActiveLoop(
            dataset=tiny_signs,
            split=split,
            learner=LinearProbe(dataset=tiny_signs),
            strategy=RareSoftmax(),
            per_class=2,
            oracle=SimulatedOracle(y),
        )


def test_killed_process_loses_no_committed_label(tiny_config, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config()
    create_simulation(cfg, run, progress=False).close()
    script = textwrap.dedent(f"""
        import os, signal
        from rarelab import open_simulation
        s = open_simulation({str(run)!r}, progress=False)
        s.train()
        cand = s.propose()
        for i in cand.ids[:5]:
            s.label([i], s.oracle([i]))   # a person labels one item at a time
        os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies with no chance to clean up
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    s = open_simulation(run, progress=False)
    assert (s.round_, s.phase_) == (0, "label")
    assert len(s.pending_labels_) == 5
    assert set(s.pending_labels_) <= set(s.candidates_.ids.tolist())
    rows = s.store.label_rows()
    assert all(r[3] == "person" and r[5] == 0 for r in rows)
    s.commit()
    assert set(s.store.labels(committed=True)) == {r[0] for r in rows}
    assert json.loads((run / "config.json").read_text())["seed"] == 0


def test_export_labels_csv(tiny_config, tmp_path):
    import csv

    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    s.label(cand.ids[:2], [int(cand.target[0]), NOT_RARE])
    rows = list(csv.DictReader(open(s.export_labels(tmp_path / "labels.csv"))))
    assert sorted(int(r["item_id"]) for r in rows) == sorted(cand.ids[:2].tolist())
    by_id = {int(r["item_id"]): r for r in rows}
    assert (
        by_id[int(cand.ids[0])]["label"] == str(int(cand.target[0]))
        and by_id[int(cand.ids[1])]["class_name"] == "not rare"
    )
    assert all(r["source"] == "person" and r["committed"] == "0" for r in rows)
    assert {r["class_name"] for r in rows} == {s.dataset.classes[int(cand.target[0])], "not rare"}
    assert all(r["source"] == "person" and r["committed"] == "0" for r in rows)


def test_resumed_run_matches_an_uninterrupted_one(tiny_config, tmp_path):
    whole = create_simulation(tiny_config(), tmp_path / "whole", progress=False).simulate(2)
    part = create_simulation(tiny_config(), tmp_path / "part", progress=False).simulate(1)
    part.close()
    resumed = open_simulation(tmp_path / "part", progress=False).simulate(2)  # a new process would do the same
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_seconds"} for r in h]  # noqa: E731
    assert strip(resumed.history_) == strip(whole.history_)
    assert np.allclose(resumed.learner.predict_proba(resumed.split.val), whole.learner.predict_proba(whole.split.val))
