"""One source of truth per run: an :class:`ActiveLoop` writes only on top of the store's
revision it last read, and tells the views that follow it about every change."""

from __future__ import annotations

import contextlib
import warnings
import weakref

from ..exceptions import StaleStateError


class RevisionSync:
    """The part of :class:`ActiveLoop` that keeps it in step with its run's store.

    Expects ``store``, ``log``, ``run_dir``, ``round_``, ``phase_``, ``revision_``,
    ``_observers``, ``_restore()`` and ``_refuse_if_busy()`` on the object.
    """

    # -- one source of truth: the store's revision ---------------------------------------
    def refresh(self) -> bool:
        """Re-read round, phase, candidates, records and model from the store; returns
        whether another view or process had written since this object last read it.
        Refused (``PhaseError``) outside a running background job: a reload would swap the
        model under the job's feet."""
        self._refuse_if_busy()
        changed = self.store.revision() != self.revision_
        self._restore()
        self.log.refresh(write=False)
        self.revision_ = self.store.revision()
        self._notify("refresh")
        return changed

    def observe(self, callback) -> None:
        """Call ``callback(loop, event)`` after every change this object makes or reads
        (``event``: train, propose, label, unlabel, correct, commit, refresh, or background
        when a background job starts or ends). Views repaint from it; bound methods are held
        weakly, so a closed view is dropped. During a background job the callbacks run in
        its thread."""
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else (lambda: callback)
        self._observers.append(ref)

    def _notify(self, event: str) -> None:
        # A snapshot, pruned in place: a view may subscribe from another thread meanwhile.
        for ref in list(self._observers):
            fn = ref()
            if fn is None:
                with contextlib.suppress(ValueError):  # pruned by another thread already
                    self._observers.remove(ref)
                continue
            try:
                fn(self, event)
            except Exception as exc:  # noqa: BLE001 - a broken view must not undo a stored write
                warnings.warn(f"a view of this ActiveLoop failed on {event!r}: {exc}", RuntimeWarning, stacklevel=2)

    def _guard(self, *, reload_if_same_phase: bool = False) -> None:
        """Before a write: the store must hold what this object last read. Labels may be
        given after another writer's labels of the same round (the object reloads and says
        so); anything else based on an older state is refused, and so is every write from
        outside a running background job."""
        self._refuse_if_busy()
        rev = self.store.revision()
        if rev == self.revision_:
            return
        stored = (self.store.get("round", 0), self.store.get("phase", "train"))
        if reload_if_same_phase and stored == (self.round_, self.phase_):
            self.refresh()
            warnings.warn(
                f"Reloaded the run (revision {rev}): another view or process had labeled items of round "
                f"{self.round_} meanwhile.",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        raise StaleStateError(
            f"The run in {str(self.run_dir)!r} is at round {stored[0]}, phase {stored[1]!r} (revision {rev}); this "
            f"object last read round {self.round_}, phase {self.phase_!r} (revision {self.revision_}): another view "
            "or process wrote to it. Call refresh() to catch up, then repeat (a `rarelab` command: run it again)."
        )

    def _wrote(self, event: str) -> None:
        self.revision_ = self.store.last_revision
        self._notify(event)
