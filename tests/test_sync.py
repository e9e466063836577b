"""One source of truth per run: revisions, deliberate commits, corrections with history,
and views that follow the loop (the notebook-safety issue's core, without a browser)."""

import csv
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rarelab import NOT_RARE, create_simulation, open_simulation
from rarelab.exceptions import InvalidParameterError, PhaseError, StaleStateError
from rarelab.widgets import CandidateGallery, LoopStepper


@pytest.fixture
def two_views(tiny_config, tmp_path):
    """Two objects on one run directory, as a notebook and a terminal would hold them."""
    a = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    a.train()
    a.propose()
    b = open_simulation(tmp_path / "run", progress=False)
    yield a, b
    a.close()
    b.close()


def _labeled_round(a):
    """Label every candidate with the oracle, commit, and train and propose the next round."""
    a.label_with_oracle().commit()
    a.train()
    a.propose()


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.train(),
        lambda x: x.propose(),
        lambda x: x.label(x.candidates_.ids[:1], [NOT_RARE]),
        lambda x: x.unlabel(x.candidates_.ids[:1]),
        lambda x: x.correct(x.candidates_.ids[:1], [NOT_RARE]),
        lambda x: x.commit(allow_empty=True),
        lambda x: x.label_with_oracle(),
    ],
    ids=["train", "propose", "label", "unlabel", "correct", "commit", "label_with_oracle"],
)
def test_every_write_on_an_older_state_is_refused(two_views, call):
    a, b = two_views
    old_round = b.round_
    _labeled_round(a)  # the other writer moved the run to round 1
    labels_before = a.store.labels()
    with pytest.raises((StaleStateError, PhaseError), match="refresh|phase"):
        call(b)
    assert a.store.labels() == labels_before and b.round_ == old_round  # nothing was written
    b.refresh()
    assert (b.round_, b.phase_) == (a.round_, a.phase_) and b.revision_ == a.store.revision()


def test_stale_refusal_says_how_to_catch_up(two_views):
    a, b = two_views
    _labeled_round(a)
    with pytest.raises(StaleStateError) as exc:
        b.commit(allow_empty=True)
    msg = str(exc.value)
    assert "round 1" in msg and "round 0" in msg and "refresh()" in msg


def test_labels_of_the_same_round_from_another_writer_reload_and_say_so(two_views):
    a, b = two_views
    first, second = (int(i) for i in a.candidates_.ids[:2])
    a.label([first], [NOT_RARE])
    with pytest.warns(RuntimeWarning, match="Reloaded"):
        b.label([second], [NOT_RARE])
    assert b.pending_labels_ == {first: NOT_RARE, second: NOT_RARE} == a.pending_labels_


def test_two_writers_never_rewrite_a_committed_round(two_views, tmp_path):
    # The notebook holds the run while the terminal labels and commits round 0.
    a, b = two_views
    a.label_with_oracle().commit()
    hits = a.history_[0]["hits"]
    with pytest.raises(StaleStateError):
        b.label(b.candidates_.ids[:1], [NOT_RARE])
    with pytest.raises(StaleStateError):
        b.commit(allow_empty=True)
    reopened = open_simulation(tmp_path / "run", progress=False)
    assert reopened.history_[0]["hits"] == hits and reopened.round_ == 1
    with open(tmp_path / "run" / "metrics.csv") as fh:
        assert int(next(csv.DictReader(fh))["hits"]) == hits


def test_a_write_from_another_process_is_refused(tiny_config, tmp_path):
    a = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    a.train()
    a.propose()
    script = textwrap.dedent(f"""
        from rarelab import open_simulation
        s = open_simulation({str(tmp_path / "run")!r}, progress=False)
        s.label_with_oracle().commit()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    with pytest.raises(StaleStateError):
        a.commit(allow_empty=True)
    assert a.refresh() and (a.round_, a.phase_) == (1, "train")


def test_commit_is_deliberate_and_idempotent(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    with pytest.raises(PhaseError, match="No labels to commit.*allow_empty=True"):
        s.commit()
    s.label(cand.ids[:1], [NOT_RARE])
    s.commit(round=0)
    assert s.round_ == 1
    rev = s.store.revision()
    s.commit(round=0)  # the notebook cell run again (Run All): nothing changes
    assert s.round_ == 1 and s.store.revision() == rev
    with pytest.raises(PhaseError, match="Round 3 has not started"):
        s.commit(round=3)
    s.train()
    s.propose()
    s.commit(round=1, allow_empty=True)  # an explicit empty round
    assert s.round_ == 2 and s.history_[1]["hits"] == 0


def test_corrections_keep_history_and_apply_from_the_next_training(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    cand = s.propose()
    item, rare = int(cand.ids[0]), int(cand.target[0])
    s.label([item], [NOT_RARE]).commit()
    assert item not in s.train_ids_  # not rare: out of the pool, not trained on
    hits = s.history_[0]["hits"]
    s.correct([item], [rare])  # allowed after commit, in any phase
    labels = dict(zip(s.train_ids_.tolist(), s.train_labels_.tolist()))
    assert labels[item] == rare
    assert s.history_[0]["hits"] == hits  # the past round's record stays as it was
    changes = [(h["action"], h["old_label"], h["new_label"]) for h in s.store.history(item)]
    assert changes == [("label", None, NOT_RARE), ("correct", NOT_RARE, rare)]
    assert all(h["source"] == "person" and h["ts"] > 0 for h in s.store.history(item))
    s.train()
    s.propose()
    with pytest.raises(InvalidParameterError, match=r"correct\(\)"):
        s.label([item], [NOT_RARE])  # label() is for pool items; correct() changes committed ones
    reopened = open_simulation(tmp_path / "run", progress=False)
    assert reopened.store.labels(committed=True)[item] == rare


def test_gallery_of_an_old_round_refuses_input_and_says_what_to_run(two_views):
    a, _ = two_views
    old = CandidateGallery(a)
    item = old.items[0]["id"]
    a.label([item], [NOT_RARE])
    assert old.labels[str(item)] == NOT_RARE  # a label from another view appears at once
    a.commit()
    a.train()
    a.propose()
    new = CandidateGallery(a)
    assert old.stale and not new.stale and "round 0, which is over" in old.status
    before = a.store.labels()
    old._on_message(old, {"type": "label", "ids": [new.items[0]["id"]], "label": old.rare_class}, [])
    assert old.status.startswith("error:") and a.store.labels() == before


def test_gallery_undo_undoes_the_last_action(two_views):
    a, _ = two_views
    g = CandidateGallery(a)
    x, y = g.items[0]["id"], g.items[1]["id"]
    g.label([x], g.rare_class)
    g.label([x, y], NOT_RARE)
    assert a.pending_labels_ == {x: NOT_RARE, y: NOT_RARE}
    assert g.undo() == 2
    assert a.pending_labels_ == {x: g.rare_class}
    g.undo()
    assert a.pending_labels_ == {}
    with pytest.raises(PhaseError, match="Nothing to undo"):
        g.undo()


def test_gallery_poll_catches_up_with_another_process(two_views):
    a, b = two_views
    g = CandidateGallery(b)
    item = g.items[0]["id"]
    a.label([item], [g.rare_class])  # another process (here: another object) writes
    assert str(item) not in g.labels
    assert g.poll() and g.labels == {str(item): g.rare_class} and g.pending == 1
    a.commit()
    assert g.poll() and g.stale


def test_stepper_follows_its_own_gallery(two_views):
    a, _ = two_views
    stepper = LoopStepper(a)
    gallery = stepper.gallery
    gallery.label([gallery.items[0]["id"]], gallery.rare_class)
    assert "labels waiting for commit 1" in stepper.state.value
    gallery.commit()
    assert "round 1" in stepper.state.value and "phase <b>train</b>" in stepper.state.value
    assert stepper.buttons["commit"].disabled and not stepper.buttons["train"].disabled


def _proposed_search(search_folders, tmp_path):
    """A search of the demo folders with round 0's candidates proposed; ``(search, rare name)``."""
    from rarelab.search import init_search

    root, rare, example, _ = search_folders
    s = init_search(
        tmp_path / "run",
        labeled=root / "labeled",
        pool=root / "pool",
        rare=rare,
        rare_examples={rare: str(example)},
        feature_store=str(tmp_path / "store"),
        input_size=64,
        per_class=5,
        progress=False,
    )
    s.propose_if_needed()
    return s, rare


def _csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(rows)
    return path


def test_answers_csv_conflicts_are_reported_by_path_and_corrections_go_through(search_folders, tmp_path):
    from rarelab.search import label_from_csv

    s, rare = _proposed_search(search_folders, tmp_path)
    paths = [s.dataset.paths[int(i)] for i in s.candidates_.ids[:2]]
    bad = _csv(tmp_path / "bad.csv", [(paths[0], rare), (paths[1], "not"), (paths[0], "not")])
    with pytest.raises(InvalidParameterError, match=r"lines 2 and 4 give .*different labels") as exc:
        label_from_csv(s, bad)
    assert paths[0] in str(exc.value) and s.pending_labels_ == {}
    seed = _csv(tmp_path / "seed.csv", [(s.dataset.paths[int(s.split.train[0])], "not")])
    with pytest.raises(InvalidParameterError, match="is not a pool file"):
        label_from_csv(s, seed)
    same_twice = _csv(tmp_path / "ok.csv", [(paths[0], rare), (paths[0], rare), (paths[1], "not")])
    assert label_from_csv(s, same_twice) == 2
    s.commit()
    fix = _csv(tmp_path / "fix.csv", [(paths[0], "not")])
    assert label_from_csv(s, fix) == 1  # after commit: a correction
    first = s.dataset.paths.index(paths[0])
    assert s.store.labels(committed=True)[first] == NOT_RARE
    assert [h["action"] for h in s.store.history(first)] == ["label", "correct"]
    s.close()


def test_history_and_export_name_every_change(two_views, tmp_path):
    a, _ = two_views
    x = int(a.candidates_.ids[0])
    a.label([x], [NOT_RARE]).unlabel([x]).label([x], [0])
    assert [h["action"] for h in a.store.history(x)] == ["label", "unlabel", "label"]
    assert np.isin(x, list(a.pending_labels_))


def test_a_gallery_offers_the_next_round_after_its_commit(two_views):
    a, _ = two_views
    g = CandidateGallery(a)
    g.label([g.items[0]["id"]], g.rare_class)
    g.commit()
    assert g.stale and g.can_advance and "Next round" in g.status
    g._on_message(g, {"type": "next"}, [])
    assert not g.stale and g.round_shown == 1 and a.phase_ == "label" and g.items
    a.label([g.items[0]["id"]], g.rare_class).commit()
    a.train()
    a.propose()
    older = CandidateGallery(a)
    older.round_shown = 0  # a gallery two rounds behind offers nothing
    older._on_loop_change(a, "refresh")
    assert older.stale and not older.can_advance


def test_next_round_reads_what_another_process_did_first(two_views):
    a, b = two_views
    g = CandidateGallery(b)
    g.label([g.items[0]["id"]], g.rare_class)
    b.refresh()
    a.refresh()
    a.commit()  # the terminal commits, then trains and proposes the next round
    a.train()
    a.propose()
    g.poll()
    assert g.stale and g.can_advance  # the next round exists already: the gallery offers to show it
    g.next_round()
    assert not g.stale and g.round_shown == 1 and b.round_ == 1 and b.phase_ == "label"


def test_answers_in_the_wrong_phase_store_nothing(search_folders, tmp_path):
    from rarelab.exceptions import PhaseError
    from rarelab.search import label_from_csv

    s, rare = _proposed_search(search_folders, tmp_path)
    first = int(s.candidates_.ids[0])
    s.label([first], [NOT_RARE]).commit()
    other = int(s.pool_ids_[0])
    answers = _csv(tmp_path / "a.csv", [(s.dataset.paths[first], rare), (s.dataset.paths[other], "not")])
    rev = s.store.revision()
    with pytest.raises(PhaseError, match="nothing was stored"):
        label_from_csv(s, answers)  # round 1 has no candidates yet: the new item cannot be labeled
    assert s.store.revision() == rev and s.store.labels(committed=True)[first] == NOT_RARE
    s.close()


def test_commit_of_a_round_another_process_committed_is_a_no_op(two_views):
    a, b = two_views
    a.label_with_oracle().commit()
    assert b.commit(round=0) is b and b.round_ == 1  # caught up, nothing written
