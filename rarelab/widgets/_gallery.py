"""``CandidateGallery``: inspect and label one rare class's top candidates in a notebook."""

from __future__ import annotations

import sqlite3

import anywidget
import numpy as np
import traitlets

from ..exceptions import PhaseError, RarelabError, StaleStateError
from ..loop import NOT_RARE
from ..reporting import format_probability, gallery_html
from ..utils import check_int, param_error
from ._assets import asset
from ._rounds import RoundControls, next_step


class CandidateGallery(RoundControls, anywidget.AnyWidget):
    """The top-k candidates of a rare class as an image grid with inline labeling (Fig. 2).

    A thin view of an :class:`~rarelab.loop.ActiveLoop` in its ``label`` phase: every click
    or key becomes ``loop.label`` / ``loop.unlabel`` / ``loop.commit``, the same
    calls a script makes, so each label is in the run's store the moment it is given.

    Once its round is committed the gallery greys out and takes no new labels, but a click
    on an item with a committed label offers a correction: ``loop.correct(..., source="person")``,
    kept in the store's history and used from the next training on.

    With ``auto_advance`` the rounds run by themselves, learning as you label: labeling
    the last candidate of the round commits it, and the next round is trained and proposed
    in a background thread (:meth:`~rarelab.loop.ActiveLoop.advance_in_background`) while
    this page stays on screen with the training's progress; the new candidates then replace
    it here, and the kernel stays free meanwhile. Small rounds (``per_class=10``) find more
    rare items per label than large ones, and this way they cost no waiting. A label given
    by mistake is committed with its page: correct it with ``loop.correct(ids, labels)``
    (used from the next training on).

    Parameters
    ----------
    loop : ActiveLoop
        A search or a simulation.
    rare_class : int, optional
        Which rare class to show; the first by default.
    k : int
        Show at most this many candidates (best first).
    shortcuts : dict of str to int, optional
        Digit keys that assign other classes, e.g. ``{"1": 14}``.
    thumb_size, preview_size : int
        Sides of the thumbnails (all in one binary message per page) and of the focused
        item's larger preview (sent when the focus moves), decoded from the original files.
    auto_advance : bool
        Commit the page once every candidate of its round has a label and show the next one
        trained in the background (above). The footer's checkbox sets it too. A gallery
        built with it while the run still needs training (a reopened run) starts that job.

    Attributes
    ----------
    next_page_ : concurrent.futures.Future or None
        The page this gallery waits for: its result is the new round's number once its
        candidates are shown here; its exception, the background job's error (which the
        gallery's status shows as well).
    """

    _esm = asset("gallery.js")
    _css = asset("gallery.css")

    pixels = traitlets.Bytes(b"").tag(sync=True)
    thumb_shape = traitlets.List(traitlets.Int(), default_value=[0, 0]).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    rare_class = traitlets.Int(0).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    shortcuts = traitlets.Dict().tag(sync=True)
    reference = traitlets.Bytes(b"").tag(sync=True)
    reference_caption = traitlets.Unicode("training sample").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    # The round this gallery shows, and whether it is still the loop's current labeling round.
    round_shown = traitlets.Int(-1).tag(sync=True)
    stale = traitlets.Bool(False).tag(sync=True)
    pending = traitlets.Int(0).tag(sync=True)  # labels of the round waiting for commit, in every view
    can_advance = traitlets.Bool(False).tag(sync=True)  # its round was the last committed: offer the next
    # Round over: the label each shown item had before its first correction, by item id.
    corrected = traitlets.Dict().tag(sync=True)
    auto_advance = traitlets.Bool(False).tag(sync=True)  # the footer's checkbox writes it as well
    training = traitlets.Unicode("").tag(sync=True)  # what the background job does now; "" when idle

    def __init__(
        self,
        loop,
        *,
        rare_class: int | None = None,
        k: int = 100,
        shortcuts=None,
        thumb_size: int = 96,
        preview_size: int = 256,
        auto_advance: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.loop = loop
        self.k = k
        self.thumb_size = check_int("CandidateGallery", "thumb_size", thumb_size, low=96, high=512)
        self.preview_size = check_int("CandidateGallery", "preview_size", preview_size, low=96, high=1024)
        rare = loop.rare_classes
        rare_class = rare[0] if rare_class is None else rare_class
        if rare_class not in rare:
            raise param_error(
                "CandidateGallery", "rare_class", f"one of the loop.s rare classes {list(rare)}", rare_class
            )
        n_classes = len(loop.dataset.classes)
        shortcuts = {str(d): int(c) for d, c in (shortcuts or {}).items()}
        bad = {d: c for d, c in shortcuts.items() if not (len(d) == 1 and d.isdigit() and 0 <= c < n_classes)}
        if bad:
            raise param_error(
                "CandidateGallery", "shortcuts", f"digit keys mapped to class ids in [0, {n_classes - 1}]", bad
            )
        self.class_names = list(loop.dataset.classes)
        self.shortcuts = shortcuts
        self.rare_class = int(rare_class)
        # (kind, labels before): "label" actions restore pending labels, "correct" committed ones
        self._undo: list[tuple[str, dict[int, int | None]]] = []
        self.on_msg(self._on_message)
        self.auto_advance = bool(auto_advance)
        self.refresh()
        loop.observe(self._on_loop_change)
        if self.auto_advance and (loop.busy_ or loop.phase_ != "label"):
            self._start_job(lambda: loop.propose_in_background(on_epoch=self._on_epoch))

    def candidate_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Item ids and P(rare class) of the candidates shown, best first (the loop's one ranking)."""
        return self.loop.ranked_candidates(self.rare_class, self.k)

    def refresh(self) -> None:
        """Reload candidates and labels from the loop (after propose or commit)."""
        s, ds = self.loop, self.loop.dataset
        ids, p = self.candidate_table()
        side = self.thumb_size
        train = s.split.train[s.split.train_labels == self.rare_class]
        ref_id = s.split.synthetic.get(self.rare_class, train[0] if len(train) else None)
        with self.hold_sync():
            self.thumb_shape = [side, side]
            # Thumbnails come from the original images at display size, read only for this page.
            self.pixels = np.ascontiguousarray(ds.load_images(ids, side)).tobytes()
            self.reference = b"" if ref_id is None else np.ascontiguousarray(ds.load_images([ref_id], side)).tobytes()
            self.reference_caption = "template" if self.rare_class in s.split.synthetic else "training sample"
            self.items = [{"id": int(i), "rank": k + 1, "p": float(q)} for k, (i, q) in enumerate(zip(ids, p))]
            self.title = (
                f"{ds.classes[self.rare_class]}: round {s.round_}, top {len(ids)} candidates"
                if len(ids)
                else f"{ds.classes[self.rare_class]}: no candidates (phase {s.phase_!r})"
            )
            self.round_shown = s.round_ if s.phase_ == "label" else -1
            self.stale = False
            self.can_advance = False
            self.corrected = {}
            self._sync_labels()

    def _sync_labels(self) -> None:
        shown = {it["id"] for it in self.items}
        if self.is_current:
            pending = self.loop.pending_labels_
            self.labels = {str(i): int(y) for i, y in pending.items() if i in shown}
            self.pending = len(pending)
            return
        # Round over: the labels its items have now in training, and which were corrected.
        committed = self.loop.store.labels(committed=True)
        self.labels = {str(i): int(y) for i, y in committed.items() if i in shown}
        first = {}
        for h in self.loop.store.history():
            if h["action"] == "correct" and h["item_id"] in shown:
                first.setdefault(h["item_id"], h["old_label"])
        self.corrected = {str(i): y for i, y in first.items() if committed.get(i) != y}  # undone: not marked

    @property
    def is_current(self) -> bool:
        """Whether this gallery shows the loop's current labeling round (it accepts input)."""
        return self.round_shown >= 0 and self.loop.round_ == self.round_shown and self.loop.phase_ == "label"

    def _on_loop_change(self, loop, event: str) -> None:
        # Any view or process changed the run: mirror it, or grey out once this round is over.
        if self._turn_page(loop, event):
            return
        if self.is_current:
            self._sync_labels()
            return
        with self.hold_sync():
            self.stale = True
            self.can_advance = self.round_shown >= 0 and loop.round_ == self.round_shown + 1
            if self.round_shown >= 0:
                self._sync_labels()
                if event != "correct":  # a correction's own status says what it did
                    self.status = (
                        f"This gallery shows round {self.round_shown}, which is over: the run is in round "
                        f"{loop.round_}, phase {loop.phase_!r}. {next_step(loop)} Click a labeled item to "
                        "correct its committed label."
                    )

    def _check_current(self) -> None:
        if not self.is_current:
            self._on_loop_change(self.loop, "check")
            raise PhaseError(self.status or f"No candidates to label: {next_step(self.loop)}")

    # Every handler calls the core; the widget only mirrors what the store holds.
    def label(self, ids, label: int) -> None:
        """Label the items ``ids`` (this gallery's round only); undoable with :meth:`undo`."""
        self._check_current()
        ids = np.asarray(ids, dtype=np.int64)
        before = self.loop.pending_labels_
        self.loop.label(ids, np.full(len(ids), int(label)), source="person")
        self._undo.append(("label", {int(i): before.get(int(i)) for i in ids}, {int(i): int(label) for i in ids}))
        self._sync_labels()
        self._maybe_advance()

    def unlabel(self, ids) -> None:
        """Withdraw the labels of ``ids`` given this round; undoable with :meth:`undo`."""
        self._check_current()
        ids = np.asarray(ids, dtype=np.int64)
        before = self.loop.pending_labels_
        self.loop.unlabel(ids)
        self._undo.append(("label", {int(i): before.get(int(i)) for i in ids}, {int(i): None for i in ids}))
        self._sync_labels()

    def correct(self, ids, label: int) -> None:
        """Correct the committed labels of ``ids``, items of this gallery's round, which is
        over; undoable with :meth:`undo`.

        The same call as ``loop.correct(ids, labels, source="person")``: the store keeps the
        old and new label, when and by whom, and the next training uses the new label. An
        item without a committed label is refused: a round that is over takes no new labels.
        """
        if self.is_current:
            raise PhaseError(
                f"Round {self.round_shown} is still open: label its items (click or keys); corrections are for "
                "labels committed in rounds that are over."
            )
        ids = [int(i) for i in np.atleast_1d(ids)]
        shown = {it["id"] for it in self.items}
        if not set(ids) <= shown:
            raise param_error(
                "CandidateGallery.correct", "ids", "items shown in this gallery", sorted(set(ids) - shown)
            )
        committed = self.loop.store.labels(committed=True)
        unlabeled = [i for i in ids if i not in committed]
        if unlabeled:
            raise PhaseError(
                f"Item(s) {unlabeled} of round {self.round_shown} have no committed label, and a round that is over "
                f"takes no new labels; nothing was stored. {next_step(self.loop)}"
            )
        self.loop.correct(ids, [int(label)] * len(ids), source="person")
        self._undo.append(("correct", {i: committed[i] for i in ids}, {i: int(label) for i in ids}))
        self._sync_labels()

    def undo(self) -> int:
        """Undo this gallery's last action (label, unlabel or correction); returns how many
        items it restored."""
        if not self.is_current and self.round_shown >= 0:
            if not self._undo or self._undo[-1][0] != "correct":
                raise PhaseError(
                    f"Nothing to undo: round {self.round_shown} is over, and this gallery made no correction since."
                )
            previous = self._undoable(self.loop.store.labels(committed=True))
            for y in set(previous.values()):
                back = [i for i, v in previous.items() if v == y]
                self.loop.correct(back, [y] * len(back), source="person")
            self._sync_labels()
            return len(previous)
        self._check_current()
        if not self._undo or self._undo[-1][0] != "label":
            raise PhaseError("Nothing to undo in this gallery.")
        previous = self._undoable(self.loop.pending_labels_)
        back = [i for i, y in previous.items() if y is None]
        if back:
            self.loop.unlabel(back)
        for y in {y for y in previous.values() if y is not None}:
            self.loop.label([i for i, v in previous.items() if v == y], [y] * sum(v == y for v in previous.values()))
        self._sync_labels()
        return len(previous)

    def _undoable(self, current: dict) -> dict:
        """The labels the last action replaced, if no view or process changed its items since
        (undo never erases a newer decision); pops the action."""
        self.poll()
        _, previous, after = self._undo[-1]
        changed = {i: current.get(i) for i, y in after.items() if current.get(i) != y}
        if changed:
            now = ", ".join(f"item {i}: {self._name(y) if y is not None else 'unlabeled'}" for i, y in changed.items())
            raise StaleStateError(
                f"Not undone: another view or process changed these items since this gallery's last action ({now}). "
                "Nothing was changed; label them again if needed."
            )
        self._undo.pop()
        return previous

    def _on_message(self, _widget, content, _buffers) -> None:
        kind = content.get("type")
        try:
            if kind == "label":
                shown = self.round_shown
                self.label(content["ids"], content["label"])
                if self.is_current and self.round_shown == shown:  # else the page was committed, and said so
                    name = "rare" if content["label"] == self.rare_class else self._name(content["label"])
                    note = f" · {self._page_note}" if self._page_note else ""
                    self.status = f"labeled {len(content['ids'])} as {name}{note}"
            elif kind == "unlabel":
                self.unlabel(content["ids"])
                self.status = f"removed {len(content['ids'])} labels"
            elif kind == "correct":
                old = {int(k): v for k, v in self.labels.items()}
                self.correct(content["ids"], content["label"])
                was = ", ".join(sorted({self._name(old[int(i)]) for i in content["ids"]}))
                self.status = (
                    f"corrected {len(content['ids'])} committed label(s) of round {self.round_shown}: {was} → "
                    f"{self._name(content['label'])}; used from the next training on (kept in the label history)"
                )
            elif kind == "undo":
                self.status = f"undid the last action ({self.undo()} items)"
            elif kind == "commit":
                self.commit(allow_empty=bool(content.get("allow_empty", False)))
            elif kind == "next":
                self.next_round()
            elif kind in ("preview", "poll"):
                if kind == "preview":
                    self.send_preview(int(content["id"]))
                else:
                    self.poll()
                return  # no action of the person's: no status, no acknowledgement
            else:
                raise param_error(
                    "CandidateGallery", "message", "a label, unlabel, correct, undo or commit message", kind
                )
        except (RarelabError, ValueError) as exc:
            # Shown in the widget, in red: a person must see why their action did nothing.
            self.status = f"error: {exc}"
        except (sqlite3.Error, OSError) as exc:  # database locked, disk full: the label is not in the store
            self._sync_labels()
            self.status = f"error: label not stored ({type(exc).__name__}: {exc}); the item stays unlabeled"
        self.send({"type": "ack", "t0": content.get("t0")})

    def static_html(self) -> str:
        """The gallery as plain HTML (thumbnails, rank, probability, label): what a page
        without a kernel shows, e.g. the documentation site."""
        side = self.thumb_size
        pixels = np.frombuffer(self.pixels, np.uint8).reshape(-1, side, side, 3) if self.pixels else []
        labels = {int(k): v for k, v in self.labels.items()}
        captions, marks = [], []
        for it in self.items:
            lab = labels.get(it["id"])
            tag = "" if lab is None else ("rare" if lab == self.rare_class else self._name(lab))
            captions.append([f"#{it['rank']} {format_probability(it['p'])}", *([tag] if tag else [])])
            marks.append(None if lab is None else ("hit" if lab == self.rare_class else "miss"))
        return gallery_html(list(pixels), captions, title=self.title, marks=marks, size=side)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        # Front ends with a kernel show the live widget; static pages fall back to this picture.
        data["text/html"] = self.static_html()
        return bundle

    def send_preview(self, item: int) -> None:
        """Send the focused item's larger image, as one binary buffer."""
        side = self.preview_size
        image = self.loop.dataset.load_images([item], side)[0]
        self.send(
            {"type": "preview", "id": item, "shape": [side, side]}, buffers=[np.ascontiguousarray(image).tobytes()]
        )

    def _name(self, label: int) -> str:
        return "not rare" if label == NOT_RARE else self.class_names[label]
