"""``ToyExplorer``: the paper's Fig. 5 toy model with sliders."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from ..toy import RARE, run_toy_model, toy_figure
from ._common import shows_errors, themed

# slider name -> (label, default, min, max, step); "lr" is on a log scale
_TRAINING = {
    "sigma": ("σ", 0.5, 0.1, 1.5, 0.05),
    "n_rare": ("rare training points", 1, 1, 50, 1),
    "n_common": ("common points / class", 200, 10, 2000, 10),
    "weight_decay": ("weight decay", 0.015, 0.0, 0.1, 0.005),
    "epochs": ("epochs", 500, 10, 5000, 10),
    "k": ("top-k", 50, 5, 200, 1),
}


class ToyExplorer(W.VBox):
    """The toy model with sliders.

    The training sliders (σ, the numbers of rare and common training points, weight decay,
    epochs, learning rate, k) retrain the classifier when released (tens of milliseconds;
    the status line says "retraining…" meanwhile). The **rare bias shift** slider does not
    retrain: it adds its value to the trained rare bias (:meth:`ToyResult.with_rare_bias`),
    so every probability moves while the ringed top-k stays the same. Two figures: the
    plane (contour of P(rare) on the trained model's colour scale, so a bias shift darkens or
    pales it; the rare weight vector as an arrow) and each pool point's
    ``w·z`` against its P(rare); the readout splits the rare logit into ``w·z`` and ``b``.
    """

    def __init__(self, *, random_state: int = 0, **defaults):
        self.random_state = random_state
        style = {"description_width": "150px"}
        lay = W.Layout(width="420px")
        self.sliders = {}
        for name, (label, default, lo, hi, step) in _TRAINING.items():
            cls = W.IntSlider if isinstance(default, int) else W.FloatSlider
            self.sliders[name] = cls(
                value=defaults.get(name, default),
                min=lo,
                max=hi,
                step=step,
                description=label,
                style=style,
                layout=lay,
                continuous_update=False,  # one retraining per release, not a queue of them
            )
        self.sliders["weight_decay"].readout_format = ".3f"
        self.sliders["lr"] = W.FloatLogSlider(
            value=defaults.get("lr", 0.5),
            base=10,
            min=-3,
            max=0.5,
            description="learning rate",
            style=style,
            layout=lay,
            continuous_update=False,
        )
        self.bias_slider = W.FloatSlider(
            value=defaults.get("bias_shift", 0.0),
            min=-5.0,
            max=5.0,
            step=0.25,
            description="rare bias shift Δb",
            style=style,
            layout=lay,
            continuous_update=False,
        )
        self.status = W.HTML()
        self.readout = W.HTML()
        self.out = W.Output()
        self.fig = go.FigureWidget()
        self.logit_fig = go.FigureWidget()
        retrain = shows_errors(self.out)(lambda _c=None: self.update())
        shift = shows_errors(self.out)(lambda _c=None: self.shift_bias(self.bias_slider.value))
        for s in self.sliders.values():
            s.observe(retrain, names=["value"])
        self.bias_slider.observe(shift, names=["value"])
        controls = W.VBox(
            [
                W.HTML("<b>Training</b> (each change retrains)"),
                *self.sliders.values(),
                W.HTML("<b>After training</b> (no retraining)"),
                self.bias_slider,
                self.status,
            ]
        )
        super().__init__([W.HBox([controls, self.readout]), self.fig, self.logit_fig, self.out])
        themed(self)
        self.update()

    def params(self) -> dict:
        return {k: s.value for k, s in self.sliders.items()}

    def update(self):
        """Retrain with the sliders' values, then apply the bias shift; returns the result."""
        self.status.value = "<i>retraining…</i>"
        self.trained = run_toy_model(**self.params(), random_state=self.random_state)
        return self.shift_bias(self.bias_slider.value)

    def shift_bias(self, shift: float):
        """Add ``shift`` to the trained rare bias (no retraining) and redraw; returns the result."""
        self.result = r = self.trained.with_rare_bias(float(shift))
        # the plane's colours keep the trained model's scale: moving b visibly darkens or pales them
        plane = toy_figure(r, zmax=self.trained.max_p_rare)
        plane.data[0].colorbar.title.text = f"P(rare); scale of Δb = 0, ≥ {self.trained.max_p_rare:.2g} darkest"
        for widget, fig in ((self.fig, plane), (self.logit_fig, toy_figure(r, "logit"))):
            with widget.batch_update():
                widget.data = []
                widget.add_traces(fig.data)
                widget.layout = fig.layout
        self.readout.value = self._readout(r)
        self.status.value = f"trained; rare bias shifted by {shift:+.2f}"
        return r

    def _readout(self, r) -> str:
        d = r.data
        wz, b = r.logit_parts(d.X_pool)
        rows = []
        picks = (
            ("top candidate", r.top_k[0]),
            ("median rare pool point", _median_of(r.pool_p_rare, d.y_pool == RARE)),
            ("median common pool point", _median_of(r.pool_p_rare, d.y_pool != RARE)),
        )
        for label, i in picks:
            rows.append(
                f"<tr><td>{html.escape(label)}</td><td>{wz[i]:+.2f}</td><td>{b:+.2f}</td>"
                f"<td>{wz[i] + b:+.2f}</td><td>{r.pool_p_rare[i]:.2e}</td></tr>"
            )
        w = r.rare_direction
        return (
            f"<p><b>max P(rare)</b> over all points: {r.max_p_rare:.3f}</p>"
            f"<p><b>precision of the top {len(r.top_k)}</b>: {r.precision_at_k:.2f} "
            f"(random: {(d.y_pool == RARE).mean():.3f})</p>"
            f"<p>rare weight vector w = ({w[0]:+.2f}, {w[1]:+.2f}); rare bias b = {b:+.2f} "
            f"(trained {b - r.bias_shift:+.2f}, shift {r.bias_shift:+.2f})</p>"
            "<table><tr><th></th><th>w·z</th><th>b</th><th>logit</th><th>P(rare)</th></tr>"
            + "".join(rows)
            + "</table><p><small>relative to the mean over classes; b is the same for every point</small></p>"
        )


def _median_of(values: np.ndarray, mask: np.ndarray) -> int:
    """The position (in ``values``) of the median element among those where ``mask`` holds."""
    idx = np.flatnonzero(mask)
    return int(idx[np.argsort(values[idx])[len(idx) // 2]])
