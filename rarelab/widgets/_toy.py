"""``ToyExplorer``: the paper's Fig. 5 toy model with sliders."""

from __future__ import annotations

import ipywidgets as W
import plotly.graph_objects as go

from ..toy import run_toy_model, toy_figure
from ._common import shows_errors, themed


class ToyExplorer(W.VBox):
    """Sliders for sigma, the numbers of rare and common training points, epochs and learning
    rate; a contour of P(rare) with the top-k pool points ringed; a readout of max P(rare)
    and of the precision of the top-k. Each change retrains (tens of milliseconds)."""

    def __init__(self, *, random_state: int = 0, **defaults):
        self.random_state = random_state
        style = {"description_width": "150px"}
        lay = W.Layout(width="420px")
        self.sliders = {
            "sigma": W.FloatSlider(
                value=defaults.get("sigma", 0.5), min=0.1, max=1.5, step=0.05, description="σ", style=style, layout=lay
            ),
            "n_rare": W.IntSlider(
                value=defaults.get("n_rare", 1),
                min=1,
                max=50,
                description="rare training points",
                style=style,
                layout=lay,
            ),
            "n_common": W.IntSlider(
                value=defaults.get("n_common", 200),
                min=10,
                max=2000,
                step=10,
                description="common points / class",
                style=style,
                layout=lay,
            ),
            "epochs": W.IntSlider(
                value=defaults.get("epochs", 500),
                min=10,
                max=5000,
                step=10,
                description="epochs",
                style=style,
                layout=lay,
            ),
            "lr": W.FloatLogSlider(
                value=defaults.get("lr", 0.5),
                base=10,
                min=-3,
                max=0.5,
                description="learning rate",
                style=style,
                layout=lay,
            ),
            "k": W.IntSlider(value=defaults.get("k", 50), min=5, max=200, description="top-k", style=style, layout=lay),
        }
        self.readout = W.HTML()
        self.out = W.Output()
        self.fig = go.FigureWidget()
        update = shows_errors(self.out)(lambda _c=None: self.update())
        for s in self.sliders.values():
            s.observe(update, names=["value"])
        super().__init__([W.HBox([W.VBox(list(self.sliders.values())), self.readout]), self.fig, self.out])
        themed(self)
        self.update()

    def params(self) -> dict:
        return {k: s.value for k, s in self.sliders.items()}

    def update(self):
        self.result = r = run_toy_model(**self.params(), random_state=self.random_state)
        fig = toy_figure(r)
        with self.fig.batch_update():
            self.fig.data = []
            self.fig.add_traces(fig.data)
            self.fig.layout = fig.layout
        w = r.rare_direction
        self.readout.value = (
            f"<p><b>max P(rare)</b> over all points: {r.max_p_rare:.3f}</p>"
            f"<p><b>precision of the top {len(r.top_k)}</b>: {r.precision_at_k:.2f} "
            f"(random: {(r.data.y_pool == 2).mean():.3f})</p>"
            f"<p>rare weight direction: ({w[0]:+.2f}, {w[1]:+.2f}); "
            f"rare bias − mean bias: {r.model.intercept_[2] - r.model.intercept_.mean():+.2f}</p>"
        )
        return r
