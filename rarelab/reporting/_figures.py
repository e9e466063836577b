"""Plotly figures of a search; each returns a plain ``go.Figure`` (widgets wrap them)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import plotly.graph_objects as go

PALETTE = {"rare-softmax": "#2ca02c", "entropy": "#1f77b4", "random": "#ff7f0e"}  # the paper's Fig. 4 colours


def format_probability(p: float) -> str:
    """Readable notation for tiny probabilities: ``3.1e-03``, never ``0.00``.

    Examples
    --------
    >>> format_probability(0.0031), format_probability(0.52)
    ('3.1e-03', '5.2e-01')
    """
    return f"{p:.1e}"


def mean_ci(
    values, confidence: float = 0.95, *, low: float | None = None, high: float | None = None
) -> tuple[float, float, float]:
    """Mean and the ``confidence`` t-interval of ``values``, clipped to ``[low, high]``.

    The interval is the mean alone for one value.
    """
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not np.isnan(x)], dtype=float)
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    h = float(stats.t.ppf((1 + confidence) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    lo, hi = m - h, m + h
    return m, lo if low is None else max(low, lo), hi if high is None else min(high, hi)


def summarize(rows: list[dict], metric: str, x: str = "round") -> dict[str, list[tuple]]:
    """``{strategy: [(x, mean, lo, hi, n_seeds), ...]}`` over seeds."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get(metric) is not None:
            groups[r["strategy"]][r[x]].append(r[metric])
    # A count cannot be negative and F1 or precision cannot leave [0, 1]: clip the t-interval.
    high = 1.0 if metric in ("f1_rare", "precision") else None
    return {s: [(k, *mean_ci(v, low=0.0, high=high), len(v)) for k, v in sorted(g.items())] for s, g in groups.items()}


def _hex_to_rgba(colour: str, alpha: float) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def curve_figure(
    rows: list[dict],
    metric: str = "n_rare",
    *,
    x: str = "round",
    title: str | None = None,
    max_value: float | None = None,
) -> go.Figure:
    """Mean and 95 % CI over seeds of ``metric`` against ``x`` per strategy (the paper's Fig. 4)."""
    fig = go.Figure()
    labels = {
        "n_rare": "N_rare (training samples per rare class)",
        "f1_rare": "rare-class F1 (validation)",
        "round": "iteration t",
        "labels_used": "labels used",
    }
    extra = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"]
    for k, (strategy, pts) in enumerate(sorted(summarize(rows, metric, x).items())):
        colour = PALETTE.get(strategy, extra[k % len(extra)])
        xs = [p[0] for p in pts]
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=[p[3] for p in pts] + [p[2] for p in pts][::-1],
                fill="toself",
                fillcolor=_hex_to_rgba(colour, 0.2),
                line=dict(width=0),
                mode="lines",
                hoverinfo="skip",
                showlegend=False,
                legendgroup=strategy,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[p[1] for p in pts],
                mode="lines+markers",
                name=strategy,
                line=dict(color=colour),
                legendgroup=strategy,
                customdata=[[p[2], p[3], p[4]] for p in pts],
                hovertemplate="%{y:.3g} (95% CI %{customdata[0]:.3g}–%{customdata[1]:.3g}, "
                "%{customdata[2]} seeds)<extra>" + strategy + "</extra>",
            )
        )
    if max_value is not None:
        fig.add_hline(y=max_value, line=dict(color="gray", dash="dot"), annotation_text="all rare samples found")
    fig.update_layout(
        title=title,
        xaxis=dict(title=labels.get(x, x), tickformat="d", dtick=1 if x == "round" else None),  # no 0.5 iterations
        yaxis_title=labels.get(metric, metric),
        template="plotly_white",
        height=380,
        margin=dict(l=60, r=20, t=50, b=50),
    )
    return fig


def loss_figure(losses: list[float] | None = None) -> go.Figure:
    """Training loss per epoch (the stepper's live plot)."""
    fig = go.Figure(go.Scatter(y=list(losses or []), mode="lines+markers", name="loss"))
    fig.update_layout(
        xaxis_title="epoch",
        yaxis_title="cross-entropy",
        template="plotly_white",
        height=260,
        margin=dict(l=50, r=10, t=30, b=40),
    )
    return fig


def use_page_plotlyjs() -> str:
    """Make plotly figures render as bare HTML that draws with a plotly.js the page already
    loads (no CDN, no MathJax): for exported notebooks and the documentation site, offline.
    Returns the renderer's name, now the default."""
    import plotly.io as pio
    from plotly.io._base_renderers import MimetypeRenderer

    class PageRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            return {
                "text/html": pio.to_html(
                    fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False, validate=False
                )
            }

    pio.renderers["rarelab_page"] = PageRenderer()
    pio.renderers.default = "rarelab_page"
    return "rarelab_page"
