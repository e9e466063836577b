"""How a :class:`CandidateGallery` ends its page and turns to the next: commit, next round,
catching up with other processes, and ``auto_advance`` (train the next page in the
background once every candidate of the round has a label)."""

from __future__ import annotations

import time
from concurrent.futures import Future, InvalidStateError

from ..exceptions import PhaseError


class RoundControls:
    """The part of :class:`CandidateGallery` that moves between rounds.

    Expects ``loop``, ``items``, ``round_shown``, ``status``, ``stale``, ``can_advance``,
    ``auto_advance``, ``training``, ``_undo``, ``refresh()``, ``is_current``,
    ``_check_current()`` and ``_sync_labels()`` on the object.
    """

    next_page_: Future | None = None  # see CandidateGallery's docstring
    _follow = False  # show the run's next labeling round here as soon as it exists
    _job_error: str | None = None
    _t_commit: float | None = None
    _page_note = ""  # after a label with auto_advance: how much of the page is left

    def commit(self, *, allow_empty: bool = False) -> None:
        """Commit this gallery's round (every label of it, from any view); see ``ActiveLoop.commit``.

        With ``auto_advance``, the next round is then trained and proposed in the background
        and shown here. A round that is committed already (a second click, another view) is
        a no-op."""
        if self.round_shown >= 0 and self.loop.round_ > self.round_shown:
            return
        self._check_current()
        n = len(self.loop.pending_labels_)
        if self.auto_advance:
            self._advance(allow_empty=allow_empty)
            return
        self.loop.commit(round=self.round_shown, allow_empty=allow_empty)
        self._undo.clear()
        self.status = (
            f"committed {n} labels of round {self.round_shown}; now round {self.loop.round_}. Press 'Next round' "
            "to train and see its candidates here (or call propose_if_needed() in Python)."
        )

    def next_round(self) -> None:
        """Train on the committed labels, propose, and show the new round's candidates here.

        Another process may have trained or proposed meanwhile: the store is read first, and
        only what the round still needs is done. With ``auto_advance``, or while a
        background job already trains the round, this returns at once and the candidates
        show here when they are ready (:attr:`next_page_`).
        """
        busy = self.loop.busy_
        if not busy:
            self.poll()
        behind = self.round_shown >= 0 and self.loop.round_ == self.round_shown + 1
        if not (behind or (self.round_shown < 0 and self.auto_advance)):
            raise PhaseError(f"This gallery cannot start the next round: {next_step(self.loop)}")
        if self.auto_advance or busy:
            self._start_job(lambda: self.loop.propose_in_background(on_epoch=self._on_epoch))
            return
        self.status = f"training and proposing round {self.loop.round_}..."
        self.loop.propose_if_needed()
        self._undo.clear()
        self.refresh()
        self.status = f"round {self.round_shown}: {len(self.items)} new candidates"

    def poll(self) -> bool:
        """Catch up with writes of other processes (the front end asks every few seconds).

        Nothing to do while a background job runs: it is the run's writer then, and its
        events repaint every view."""
        if self.loop.busy_:
            return False
        if self.loop.store.revision() != self.loop.revision_:
            self.loop.refresh()  # notifies every view of this loop, this one included
            return True
        return False

    # -- auto_advance ----------------------------------------------------------------------
    def _maybe_advance(self) -> None:
        """After this gallery labeled items: with ``auto_advance``, turn a complete page."""
        self._page_note = ""
        cand = self.loop.candidates_
        if not (self.auto_advance and self.is_current) or cand is None or not len(cand.ids):
            return
        pending = self.loop.pending_labels_
        left = [int(i) for i in cand.ids if int(i) not in pending]
        if not left:
            self._advance()
            return
        hidden = len(set(left) - {it["id"] for it in self.items})
        self._page_note = (
            f"{len(left)} of {len(cand.ids)} candidates of round {self.round_shown} left"
            + (f" ({hidden} not in this gallery: other rare classes or beyond k)" if hidden else "")
            + "; the next page trains when every one has a label"
        )

    def _advance(self, *, allow_empty: bool = False) -> None:
        r, n = self.round_shown, len(self.loop.pending_labels_)
        self.status = (
            f"committed {n} labels of round {r}; training the next page in the background (it shows here by "
            "itself; the kernel stays free)"
        )
        self._t_commit = time.perf_counter()
        self._start_job(
            lambda: self.loop.advance_in_background(round=r, allow_empty=allow_empty, on_epoch=self._on_epoch)
        )
        self._undo.clear()

    def _start_job(self, start) -> None:
        """Start (or join) the loop's background job; this gallery shows its outcome."""
        self._follow, self._job_error = True, None
        self.next_page_ = Future()
        try:
            job = start()
        except Exception as exc:
            self._follow = False
            self.next_page_.set_exception(exc)
            raise
        if job.done() and not self.loop.busy_:
            self._turn_page(self.loop, "started")  # no thread was needed, or it is over already

    def _on_epoch(self, epoch: int, _loss: float) -> None:
        epochs = getattr(self.loop.learner, "epochs", None)
        self.training = f"training round {self.loop.round_}: epoch {epoch + 1}" + (f" of {epochs}" if epochs else "")

    def _turn_page(self, loop, event: str) -> bool:
        """Follow the run with ``auto_advance`` (or after 'Next round' started a background
        job): say what the job does, show its page when it is ready, or its error. Returns
        whether the change was handled here."""
        if not (self.auto_advance or self._follow):
            return False
        if loop.phase_ == "label" and loop.round_ > self.round_shown:  # the next page exists: show it
            self._follow = False
            self._undo.clear()
            self.refresh()
            with self.hold_sync():
                self.training = ""
                self.status = self._arrived(loop)
            self._t_commit = self._job_error = None
            self._resolve_page(loop.round_)
            return True
        failed = event == "background" and not loop.busy_ and loop.background_error_ is not None
        # A failed job's error stays on screen until the page arrives or the person acts.
        if not (loop.busy_ or failed or self._job_error or (self._follow and event == "commit")):
            self.training = ""
            return False
        with self.hold_sync():
            self.stale = True
            self.can_advance = loop.phase_ != "label" and (self.round_shown < 0 or loop.round_ == self.round_shown + 1)
            if self.round_shown >= 0:
                self._sync_labels()
            if loop.busy_:
                self.can_advance = False
                if loop.phase_ == "propose":
                    self.training = f"proposing round {loop.round_} in the background…"
                elif not self.training.startswith(f"training round {loop.round_}: epoch"):
                    self.training = f"training round {loop.round_} in the background…"
                if not self._follow:  # another view started the job; this gallery shows its page too
                    self.status = (
                        f"round {loop.round_ - 1} is committed; round {loop.round_}'s candidates are being trained "
                        "in the background and show here when they are ready"
                    )
            elif failed:
                exc = loop.background_error_
                self.training = ""
                self._job_error = f"{type(exc).__name__}: {exc}"
                self.status = (
                    f"error: training the next page failed ({self._job_error}). Every label is kept; the run is in "
                    f"round {loop.round_}, phase {loop.phase_!r}: press 'Next round' to try again."
                )
                self._resolve_page(error=exc)
        return True

    def _arrived(self, loop) -> str:
        """The status of a page that just arrived: from which model, how long after the commit."""
        text = f"round {loop.round_}: {len(self.items)} new candidates"
        records = [h for h in loop.history_ if h["round"] == loop.round_]
        if records:
            text += f", ranked by the model retrained with {records[0]['labels_used']} labels"
        if self._t_commit is not None:
            text += f" ({time.perf_counter() - self._t_commit:.1f} s after the commit)"
        if self._job_error:  # the page came another way (the command line, say): the failure is still news
            text += f". The background job had failed before: {self._job_error}"
        return text

    def _resolve_page(self, round: int | None = None, *, error: BaseException | None = None) -> None:
        page = self.next_page_
        if page is None or page.done():
            return
        try:
            page.set_result(round) if error is None else page.set_exception(error)
        except InvalidStateError:  # resolved meanwhile from the job's thread
            pass


def next_step(loop) -> str:
    """What to run next, in a sentence a notebook user can act on."""
    if loop.busy_:
        return (
            f"Round {loop.round_} is being trained in the background: press 'Next round' to see its candidates "
            "here when they are ready."
        )
    return {
        "train": "Press 'Next round' in the gallery of the round just committed (or call propose_if_needed() "
        "in Python), then show the new candidates.",
        "propose": "Press 'Next round' in the gallery of the round just committed (or call propose_if_needed() "
        "in Python).",
        "label": f"Round {loop.round_}'s candidates are in a newer gallery (or show them with a new "
        "CandidateGallery of your loop or search).",
    }[loop.phase_]
