"""``LoopStepper``: run the active loop.s phases one button at a time, with live plots."""

from __future__ import annotations

import ipywidgets as W
import plotly.graph_objects as go

from ..reporting import curve_figure, loss_figure, read_metrics
from ..utils import choose_device, describe
from ._common import shows_errors, themed
from ._gallery import CandidateGallery


class LoopStepper(W.VBox):
    """One panel for the rounds of an :class:`~rarelab.ActiveLoop`.

    Buttons call ``train``, ``propose``, ``label_with_oracle`` and ``commit`` (the same
    calls a script makes); a progress bar and a live loss plot follow training; the Fig. 4
    curves show the history, with baseline runs (e.g. entropy and random run directories)
    drawn beside it.

    Parameters
    ----------
    loop : ActiveLoop
    baselines : list of paths to ``metrics.csv`` files or run directories, optional
    gallery_k : int
        Candidates shown in the embedded gallery.
    """

    def __init__(self, loop, *, baselines=(), gallery_k: int = 100):
        self.loop = loop
        self.baselines = list(baselines)
        self.gallery_k = gallery_k
        self.out = W.Output()
        self.state = W.HTML()
        self.progress = W.IntProgress(min=0, max=max(1, loop.learner.epochs), description="epochs")
        self.loss = go.FigureWidget(loss_figure().update_layout(width=340))
        self.curves = [
            go.FigureWidget(curve_figure([], "n_rare", title="N_rare (Fig. 4a)").update_layout(width=460)),
            go.FigureWidget(curve_figure([], "f1_rare", title="rare F1 (Fig. 4c)").update_layout(width=460)),
        ]
        buttons = {
            name: W.Button(description=name, layout=W.Layout(width="auto"))
            for name in ("train", "propose", "label with oracle", "commit", "step", "run")
        }
        self.rounds = W.BoundedIntText(
            value=max(loop.round_ + 1, 3), min=1, max=100, description="to round", layout=W.Layout(width="150px")
        )
        self.class_pick = W.Dropdown(
            options=[(loop.dataset.classes[c], c) for c in loop.rare_classes], description="rare class"
        )
        self.gallery_box = W.VBox()
        handlers = {
            "train": self.train,
            "propose": self.propose,
            "label with oracle": self.label_with_oracle,
            "commit": self.commit,
            "step": self.step,
            "run": lambda: self.run(self.rounds.value),
        }
        wrap = shows_errors(self.out)
        for name, b in buttons.items():
            b.on_click(wrap(lambda _b, f=handlers[name]: f()))
        self.buttons = buttons
        self.class_pick.observe(wrap(lambda _c: self._show_gallery()), names=["value"])
        loop.learner.callbacks = [*(loop.learner.callbacks or []), self._on_epoch]
        self._gallery_key = None  # (round, phase) the embedded gallery was built for
        super().__init__(
            [
                self.state,
                W.HBox([*buttons.values(), self.rounds]),
                W.HBox([self.progress]),
                # The figures wrap within the output's width instead of running off its edge.
                W.Box([self.loss, *self.curves], layout=W.Layout(flex_flow="row wrap", width="100%")),
                self.class_pick,
                self.gallery_box,
                self.out,
            ]
        )
        themed(self)
        self._update()
        # Every change of the loop, from any view (the embedded gallery's commit) or process,
        # repaints the panel.
        loop.observe(self._on_loop_change)

    def _on_loop_change(self, _loop, event: str):
        if event != "label":
            self.out.clear_output()  # an error on screen is about the state before this change
        self._update(curves=event in ("train", "commit", "refresh"))

    # -- actions: each is one call of the core; the loop tells every view to repaint -----
    def train(self):
        self.loop.train()

    def propose(self):
        self.loop.propose()

    def label_with_oracle(self):
        self.loop.label_with_oracle()

    def commit(self):
        self.loop.commit(round=self.loop.round_)

    def step(self):
        self.loop.step()

    def run(self, rounds: int):
        self.loop.simulate(rounds)

    # -- views -------------------------------------------------------------------------
    def _on_epoch(self, epoch: int, loss: float):
        # Called by the learner during any fit, so step() and run() plot live too.
        self.progress.value = epoch + 1
        self.loss.data[0].y = [loss] if epoch == 0 else [*self.loss.data[0].y, loss]

    def _rows(self):
        rows = [{**r, "strategy": self.loop.name, "seed": self.loop.seed} for r in self.loop.history_]
        for b in self.baselines:
            from pathlib import Path

            path = Path(b) / "metrics.csv" if Path(b).is_dir() else Path(b)
            rows += read_metrics(path)
        return rows

    def _update(self, *, curves: bool = True):
        s = self.loop
        device = describe(getattr(s.learner, "device_", None) or choose_device(s.learner.device))
        pending = len(s.pending_labels_)
        busy = s.busy_  # a gallery's background job trains the round: the buttons wait for it
        self.state.value = (
            f"<b>round {s.round_}</b> · phase <b>{s.phase_}</b>{' (in the background)' if busy else ''} · "
            f"strategy {s.name} · training set {len(s.train_ids_)} · pool {len(s.pool_ids_)} · "
            f"labels waiting for commit {pending} · device {device}"
        )
        allowed = s.allowed()  # the loop owns the phase rules; the buttons only follow them
        calls = {"label with oracle": "label_with_oracle", "run": "simulate"}
        for name, b in self.buttons.items():
            b.disabled = busy or not allowed[calls.get(name, name)]
        if curves:
            rows = self._rows()
            for fw, metric in zip(self.curves, ("n_rare", "f1_rare")):
                fig = curve_figure(rows, metric, title=fw.layout.title.text)
                with fw.batch_update():
                    fw.data = []
                    fw.add_traces(fig.data)
        if self._gallery_key != (s.round_, s.phase_):
            self._show_gallery()

    def _show_gallery(self):
        self._gallery_key = (self.loop.round_, self.loop.phase_)
        if self.loop.phase_ == "label":
            self.gallery = CandidateGallery(self.loop, rare_class=self.class_pick.value, k=self.gallery_k)
            self.gallery_box.children = [self.gallery]
        else:
            self.gallery_box.children = [W.HTML("<i>The gallery appears after propose.</i>")]
