"""Driving an :class:`ActiveLoop` through its phases: in the calling thread
(``propose_if_needed``, ``step``, ``simulate``) or in one background thread
(``propose_in_background``, ``advance_in_background``) while a person keeps looking at
the page they just labeled."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future

from ..exceptions import PhaseError
from ..strategies import Candidates
from ..utils import check_int

_START = threading.Lock()  # two views asking at once start one job


class LoopDrivers:
    """The part of :class:`ActiveLoop` that runs whole phases or rounds.

    Expects ``train``, ``propose``, ``commit``, ``label_with_oracle``, ``learner``,
    ``phase_``, ``round_``, ``candidates_``, ``_guard`` and ``_notify`` on the object.
    """

    background_: Future | None = None  # the last background job (see propose_in_background)
    background_error_: BaseException | None = None  # what the last background job raised, if anything
    _job_thread: threading.Thread | None = None  # set while a job runs, cleared before its Future resolves
    _job_last: threading.Thread | None = None  # the last job's thread, until it has exited

    # -- in this thread ----------------------------------------------------------------
    def propose_if_needed(self) -> Candidates:
        """Train and propose where the phase asks for it; in the ``label`` phase a no-op.

        Returns the current round's candidates. Safe to run again (a notebook's Run All).
        While a background job trains the round, waits for it and returns its candidates.
        """
        if self._in_other_job():
            return self.background_.result()
        if self.phase_ == "train":
            self.train()
        if self.phase_ == "propose":
            self.propose()
        return self.candidates_

    def step(self):
        """One full round with the oracle: train, propose, label, commit."""
        if self.phase_ == "train":
            self.train()
        if self.phase_ == "propose":
            self.propose()
        self.label_with_oracle()
        return self.commit()

    def simulate(self, rounds: int):
        """Run query rounds with the oracle until round ``rounds``, then train once more to
        measure the final model (the paper's protocol)."""
        rounds = check_int("ActiveLoop.simulate", "rounds", rounds, low=0)
        while self.round_ < rounds:
            self.step()
        if self.phase_ == "train":
            self.train()
        return self

    # -- in a background thread --------------------------------------------------------
    @property
    def busy_(self) -> bool:
        """Whether a background job (:meth:`propose_in_background`) is training or proposing."""
        return self._job_thread is not None

    def propose_in_background(self, *, on_epoch=None) -> Future:
        """Train and propose where the phase asks for it, in a background thread.

        Returns a :class:`concurrent.futures.Future` whose result is the round's
        :class:`~rarelab.strategies.Candidates` (what :meth:`propose_if_needed` returns), or
        whose exception is what training or proposing raised; the run's phase then says
        what is left to do (``train`` or ``propose``), as after the same error in this
        thread. One job at a time: while one runs, this returns its Future. In the ``label``
        phase the Future is done at once.

        While the job runs, every write through this object from another thread (labels,
        commits, ``train``, ``refresh``) is refused with a :class:`PhaseError` (reads are
        fine, and :meth:`propose_if_needed` waits for the job). Views hear ``"background"``
        when the job starts and, in its thread, when it has ended (``busy_`` is then false
        and ``background_error_`` holds its exception or ``None``), before its Future
        resolves: whoever waits on the Future finds every view repainted. The
        learner's progress bars are off during the job (a bar drawn from a thread lands in
        whichever notebook cell ran last); ``on_epoch(epoch, mean_loss)`` is called after
        each training epoch instead.

        Raises
        ------
        StaleStateError
            Another view or process wrote to the run since this object last read it (raised
            here, before any thread starts).
        """
        with _START:
            if self.busy_:
                return self.background_
            fut = Future()
            if self.phase_ == "label":
                fut.set_result(self.candidates_)
                return fut
            self._guard()  # a stale object fails here, in the caller's thread, not in the job
            self.background_ = fut
            thread = threading.Thread(
                target=self._run_job, args=(fut, on_epoch), name=f"rarelab round {self.round_}", daemon=True
            )
            self._job_thread = self._job_last = thread
        self._notify("background")  # before the thread starts: views never hear it from two threads at once
        thread.start()
        return fut

    def advance_in_background(self, *, round: int | None = None, allow_empty: bool = False, on_epoch=None) -> Future:
        """Commit the round now, then train and propose the next one in a background thread.

        The commit is :meth:`commit` in the calling thread (its errors are raised here, and
        the labels are in training before this returns); the rest is
        :meth:`propose_in_background`, whose Future this returns. Small, frequent rounds
        find more rare items per label; this keeps them from costing the person a wait.

        Examples
        --------
        >>> job = loop.advance_in_background(round=0)  # doctest: +SKIP
        >>> job.result(timeout=600).ids  # the next round's candidates  # doctest: +SKIP
        """
        self.commit(round=round, allow_empty=allow_empty)  # refused while another job runs, unless committed
        return self.propose_in_background(on_epoch=on_epoch)

    def _run_job(self, fut: Future, on_epoch) -> None:
        if not fut.set_running_or_notify_cancel():
            self._job_thread = None
            self._notify("background")
            return
        result = error = None
        try:
            with _quiet(self.learner, on_epoch):
                result = self.propose_if_needed()
        except BaseException as exc:  # noqa: BLE001 - handed to the Future, never lost
            error = exc
        self.background_error_ = error
        self._job_thread = None  # the run is free again before anyone hears the job is over
        self._notify("background")  # every view has heard the outcome by the time the Future resolves
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)

    def _in_other_job(self) -> bool:
        return self._job_thread is not None and threading.current_thread() is not self._job_thread

    def _busy_error(self) -> PhaseError:
        return PhaseError(
            f"Round {self.round_} is being trained and proposed in the background (phase {self.phase_!r}); nothing "
            "was changed. Wait for it (loop.background_.result(); propose_if_needed() waits too), then repeat."
        )

    def _refuse_if_busy(self) -> None:
        """Before a write or a reload from outside the background job: refuse while it runs."""
        if self._in_other_job():
            raise self._busy_error()

    def _wait_for_job(self) -> None:
        thread = self._job_last  # joined, not just done: its last views may still be repainting
        if thread is not None and thread is not threading.current_thread():
            thread.join()


@contextlib.contextmanager
def _quiet(learner, on_epoch):
    """No progress bars during a background job, and ``on_epoch`` among the learner's callbacks."""
    progress, callbacks = getattr(learner, "progress", None), getattr(learner, "callbacks", None)
    if progress is not None:
        learner.progress = False
    if on_epoch is not None:
        learner.callbacks = [*(callbacks or []), on_epoch]
    try:
        yield
    finally:
        if progress is not None:
            learner.progress = progress
        if on_epoch is not None:
            learner.callbacks = callbacks
