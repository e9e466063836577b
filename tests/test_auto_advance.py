"""Learning as you label: a fully labeled page is committed and the next round is trained
and proposed in a background thread, while the person keeps looking at the page.

Every wait is on a Future or an Event with a timeout; a gate in the learner's epoch
callbacks holds the background job mid-training for as long as a test looks at it.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from rarelab import NOT_RARE, create_simulation, open_simulation
from rarelab.exceptions import PhaseError, StaleStateError
from rarelab.widgets import CandidateGallery, LoopStepper

WAIT = 120  # seconds; a job on the test data takes about one


def _sim(tiny_config, path, **kw):
    cfg = tiny_config(**{"rare_classes": "rarest:1", "per_class": 5, **kw})
    return create_simulation(cfg, path, progress=False)


class Gate:
    """An epoch callback that holds training in its first epoch until ``open()``."""

    def __init__(self):
        self.reached, self.opened = threading.Event(), threading.Event()
        self.threads = set()

    def __call__(self, epoch, loss):
        self.threads.add(threading.current_thread().name)
        self.reached.set()
        assert self.opened.wait(WAIT), "the test never opened the gate"

    def open(self):
        self.opened.set()


@pytest.fixture
def labeled(tiny_config, tmp_path):
    """Round 0 proposed and fully labeled by the oracle, a gate in the learner."""
    s = _sim(tiny_config, tmp_path / "run")
    s.train()
    s.propose()
    s.label_with_oracle()
    gate = Gate()
    s.learner.callbacks = [gate]
    yield s, gate
    gate.open()
    s.close()


def test_advance_commits_now_and_trains_the_next_round_in_a_thread(labeled, tiny_config, tmp_path):
    s, gate = labeled
    given = s.pending_labels_
    job = s.advance_in_background(round=0)
    # The commit happened in this thread: the labels are training labels before it returned.
    assert s.store.labels(committed=True) == given and (s.round_, s.phase_) == (1, "train")
    assert gate.reached.wait(WAIT) and s.busy_ and not job.done()
    assert gate.threads == {"rarelab round 1"}  # training runs in the job's thread, not here

    # Meanwhile this thread is free: it reads, and every write is refused with a reason.
    assert len(s.train_ids_) == len(s.split.train) + sum(y != NOT_RARE for y in given.values())
    for call in (
        lambda: s.train(),
        lambda: s.refresh(),
        lambda: s.label(s.pool_ids_[:1], [NOT_RARE]),
        lambda: s.commit(allow_empty=True),
        lambda: s.correct(list(given)[:1], [NOT_RARE]),
    ):
        with pytest.raises(PhaseError, match="in the background"):
            call()
    assert s.commit(round=0) is s  # a committed round again: still a no-op
    assert s.propose_in_background() is job and s.advance_in_background(round=0) is job  # one job at a time

    # What a kernel restart would see now: the labels, and a round that trains again.
    other = open_simulation(tmp_path / "run", progress=False)
    assert (other.round_, other.phase_) == (1, "train") and other.store.labels(committed=True) == given
    other.close()

    gate.open()
    cand = job.result(timeout=WAIT)
    assert (s.round_, s.phase_) == (1, "label") and not s.busy_ and cand is s.candidates_
    assert not set(cand.ids) & set(given)  # the labeled page left the pool
    assert s.history_[1]["train_size"] == len(s.train_ids_)  # round 1's model saw the new labels

    # The same candidates as the same round run in one thread: they come from the retrained model.
    ref = _sim(tiny_config, tmp_path / "ref")
    ref.train()
    ref.propose()
    ref.label(list(given), list(given.values())).commit()
    assert np.array_equal(ref.propose_if_needed().ids, cand.ids)
    assert np.allclose(ref.learner.predict_proba(cand.ids), s.learner.predict_proba(cand.ids))
    ref.close()


def test_errors_of_the_job_reach_its_future_and_leave_a_phase_to_repeat(labeled, monkeypatch):
    s, gate = labeled
    gate.open()

    def broken(*args, **kwargs):
        raise RuntimeError("the strategy broke")

    monkeypatch.setattr(s.strategy, "query", broken)
    job = s.advance_in_background(round=0)
    assert isinstance(job.exception(timeout=WAIT), RuntimeError)
    assert (s.round_, s.phase_) == (1, "propose") and not s.busy_  # trained, saved: only propose is left
    monkeypatch.undo()
    assert len(s.propose_in_background().result(timeout=WAIT)) and s.phase_ == "label"


def test_another_process_writing_meanwhile_fails_the_job_with_stale_state(labeled, tmp_path):
    s, gate = labeled
    job = s.advance_in_background(round=0)
    assert gate.reached.wait(WAIT)
    terminal = open_simulation(tmp_path / "run", progress=False)  # `rarelab` on the same run dir
    terminal.train()
    gate.open()
    with pytest.raises(StaleStateError, match="refresh"):
        job.result(timeout=WAIT)  # the job's write is refused, not lost, and not silent
    assert s.refresh() and s.phase_ == "propose"
    assert len(s.propose_in_background().result(timeout=WAIT))
    terminal.close()


@pytest.mark.parametrize("where", ["training", "proposing"])
def test_a_kernel_killed_mid_job_loses_no_label(tiny_config, tmp_path, where):
    run = tmp_path / "run"
    _sim(tiny_config, run).close()
    die = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    script = textwrap.dedent(f"""
        from rarelab import open_simulation
        s = open_simulation({str(run)!r}, progress=False)
        s.propose_if_needed()
        s.label_with_oracle()
        def die(*args, **kwargs):
            {die}
        if {where!r} == "training":
            s.learner.callbacks = [die]
        else:
            s.strategy.query = die
        s.advance_in_background(round=0).result(timeout={WAIT})
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    s = open_simulation(run, progress=False)
    assert (s.round_, s.phase_) == (1, "train" if where == "training" else "propose")
    assert len(s.store.labels(committed=True)) == 5 and not s.pending_labels_
    assert len(s.propose_if_needed()) == 5
    s.close()


def _msg(gallery, **content):
    gallery._on_message(gallery, content, [])


def test_a_gallery_with_auto_advance_shows_the_next_page_trained_in_the_background(tiny_config, tmp_path):
    s = _sim(tiny_config, tmp_path / "run")
    s.train()
    s.propose()
    g = CandidateGallery(s, auto_advance=True)
    other = CandidateGallery(s, auto_advance=True)  # a second view of the same run
    stepper = LoopStepper(s)
    gate = Gate()
    s.learner.callbacks = [*s.learner.callbacks, gate]
    ids = [it["id"] for it in g.items]
    assert len(ids) == 5 and g.auto_advance and not g.training

    _msg(g, type="label", ids=ids[:2], label=g.rare_class, t0=1.0)
    assert s.phase_ == "label" and "3 of 5 candidates of round 0 left" in g.status
    _msg(g, type="label", ids=ids[2:], label=NOT_RARE, t0=1.0)  # the page is complete
    # The handler returned while the job trains: the kernel is free, the page stays on screen.
    assert gate.reached.wait(WAIT) and s.busy_ and not gate.opened.is_set()
    assert s.store.labels(committed=True) == {**dict.fromkeys(ids[:2], g.rare_class), **dict.fromkeys(ids[2:], -1)}
    assert [it["id"] for it in g.items] == ids and g.stale and not g.can_advance
    assert g.training.startswith("training round 1") and "committed 5 labels of round 0" in g.status
    assert other.training.startswith("training round 1") and "background" in other.status
    assert all(b.disabled for b in stepper.buttons.values()) and "background" in stepper.state.value
    _msg(g, type="poll")  # the front end's poll changes nothing while the job writes
    _msg(g, type="correct", ids=ids[:1], label=NOT_RARE, t0=1.0)
    assert g.status.startswith("error:") and "in the background" in g.status  # refused, and says so
    assert s.store.labels(committed=True)[ids[0]] == g.rare_class

    gate.open()
    assert g.next_page_.result(timeout=WAIT) == 1
    s.background_.result(timeout=WAIT)
    assert g.round_shown == other.round_shown == 1 and not g.stale and g.training == "" and g.is_current
    new, _ = s.ranked_candidates(g.rare_class, g.k)
    assert [it["id"] for it in g.items] == new.tolist() and not set(new.tolist()) & set(ids)
    assert "round 1: 5 new candidates" in g.status and "retrained with 5 labels" in g.status
    assert g.pending == 0 and g.labels == {}
    assert not stepper.buttons["commit"].disabled and stepper.gallery.round_shown == 1


def test_a_failed_job_is_shown_in_the_gallery_and_next_round_retries(tiny_config, tmp_path, monkeypatch):
    s = _sim(tiny_config, tmp_path / "run")
    s.train()
    s.propose()
    g = CandidateGallery(s, auto_advance=True)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(s.strategy, "query", broken)
    _msg(g, type="label", ids=[it["id"] for it in g.items], label=NOT_RARE, t0=1.0)
    with pytest.raises(RuntimeError):
        g.next_page_.result(timeout=WAIT)
    s.background_.exception(timeout=WAIT)
    assert g.status.startswith("error: training the next page failed (RuntimeError: out of memory, say)")
    assert "press 'Next round'" in g.status and g.can_advance and g.training == ""
    assert (s.round_, s.phase_) == (1, "propose")
    monkeypatch.undo()
    _msg(g, type="next", t0=1.0)
    assert g.next_page_.result(timeout=WAIT) == 1 and g.round_shown == 1 and g.is_current
    assert g.status.startswith("round 1: 5 new candidates")


def test_a_gallery_follows_the_command_line_after_its_job_was_refused_as_stale(tiny_config, tmp_path):
    s = _sim(tiny_config, tmp_path / "run")
    s.propose_if_needed()
    g = CandidateGallery(s, auto_advance=True)
    gate = Gate()
    s.learner.callbacks = [gate]
    _msg(g, type="label", ids=[it["id"] for it in g.items], label=NOT_RARE, t0=1.0)
    assert gate.reached.wait(WAIT)
    terminal = open_simulation(tmp_path / "run", progress=False)  # `rarelab search propose` meanwhile
    terminal.propose_if_needed()
    gate.open()
    with pytest.raises(StaleStateError):
        g.next_page_.result(timeout=WAIT)
    s.background_.exception(timeout=WAIT)
    assert g.status.startswith("error: training the next page failed (StaleStateError:") and "refresh()" in g.status
    _msg(g, type="poll")  # the front end's next poll: the gallery catches up and shows the terminal's page
    assert g.round_shown == 1 and g.is_current and s.phase_ == "label"
    assert [it["id"] for it in g.items] == terminal.ranked_candidates(g.rare_class, g.k)[0].tolist()
    assert "The background job had failed before: StaleStateError" in g.status  # still said, once
    terminal.close()


def test_a_gallery_built_with_auto_advance_on_a_run_that_needs_training_starts_it(tiny_config, tmp_path):
    s = _sim(tiny_config, tmp_path / "run")  # a reopened run in phase 'train' looks the same
    g = CandidateGallery(s, auto_advance=True)
    assert g.next_page_.result(timeout=WAIT) == 0 and g.round_shown == 0 and len(g.items) == 5
    plain = CandidateGallery(s)  # without the option nothing starts by itself, and the commit waits for 'Next round'
    _msg(plain, type="label", ids=[it["id"] for it in plain.items], label=NOT_RARE, t0=1.0)
    assert s.phase_ == "label" and plain.is_current


def test_in_a_real_kernel_the_thread_paints_the_next_page_while_cells_run(tiny_config, tmp_path):
    """ipykernel: the front end's label message returns at once, a cell runs while the job
    trains, and the new page reaches the front end as comm updates sent from the job's thread."""
    from jupyter_client.manager import start_new_kernel

    run = tmp_path / "run"
    _sim(tiny_config, run).close()
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    seen = []  # every message the kernel published, whatever its parent

    def execute(code) -> str:
        """Run a cell; its printed text. Comm updates sent meanwhile, from any thread, go to ``seen``."""
        msg_id, text = kc.execute(code), ""
        while True:
            msg = kc.get_iopub_msg(timeout=WAIT)
            seen.append(msg)
            mine = msg["parent_header"].get("msg_id") == msg_id
            if mine and msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            if mine and msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            if mine and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return text

    try:
        words = execute(
            textwrap.dedent(f"""
            import threading
            from rarelab import open_simulation
            from rarelab.widgets import CandidateGallery
            s = open_simulation({str(run)!r}, progress=False)
            s.propose_if_needed()
            g = CandidateGallery(s, auto_advance=True)
            gate, main = threading.Event(), threading.current_thread()
            s.learner.callbacks = [lambda epoch, loss: gate.wait({WAIT})]
            print("COMM", g.comm.comm_id, *[it["id"] for it in g.items])
            """)
        ).split()
        comm_id, ids = words[1], [int(w) for w in words[2:]]
        # What the page sends when the person labels the last items: a comm message, as a click does.
        content = {"type": "label", "ids": ids, "label": NOT_RARE, "t0": 1.0}
        kc.shell_channel.send(
            kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})
        )
        busy = execute("print(s.busy_, s.background_.done(), g.training, sep='|')")  # runs while the job trains
        assert busy.strip() == "True|False|training round 1 in the background…", busy
        seen.clear()
        execute("gate.set(); g.next_page_.result(timeout=60)")
        states = [
            m["content"]["data"]["state"]
            for m in seen
            if m["msg_type"] == "comm_msg"
            and m["content"]["comm_id"] == comm_id
            and m["content"]["data"].get("method") == "update"
        ]
        assert any(st.get("round_shown") == 1 for st in states)
        assert any(st.get("items") and not {it["id"] for it in st["items"]} & set(ids) for st in states)
        assert any(st.get("status", "").startswith("round 1: 5 new candidates") for st in states)
        assert any(st.get("training", None) == "" for st in states)
        after = execute("print(threading.current_thread() is main, s.phase_, g.round_shown, s.busy_, sep='|')")
        assert after.strip() == "True|label|1|False"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
