"""Figures of the toy model: the plane (Fig. 5) and the rare logit's two parts."""

from __future__ import annotations

import numpy as np

from ..utils import param_error
from ._model import RARE, ToyResult

COLOURS = ["#e6b800", "#2ca02c", "#d62728"]
NAMES = ["common A", "common B", "rare"]


def toy_figure(result: ToyResult, kind: str = "plane", *, zmax: float | None = None):
    """Plot a :class:`ToyResult`.

    Parameters
    ----------
    result : ToyResult
    kind : {"plane", "logit"}
        ``"plane"``: contour of P(rare) over the part of the plane where the points lie,
        training (filled) and pool (open) points, the top-k ringed and the rare weight
        vector drawn as an arrow. ``"logit"``: every pool point at its ``w·z`` (the weight
        part of the rare logit, x) and its P(rare) (y, log scale); the bias ``b``, one
        number for all points, is in the title.
    zmax : float, optional
        Where the plane's colour scale ends (default: the largest P(rare) of any point). A
        fixed value keeps the colours comparable between results, e.g. when only the bias moves.
    """
    if kind == "plane":
        return _plane(result, zmax)
    if kind == "logit":
        return _logit(result)
    raise param_error("toy_figure", "kind", "'plane' or 'logit'", kind)


def _title(result: ToyResult) -> str:
    hits = int(round(result.precision_at_k * len(result.top_k)))
    return f"max P(rare) = {result.max_p_rare:.3f}; {hits} of the top {len(result.top_k)} are rare"


def _plane(result: ToyResult, zmax: float | None = None):
    import plotly.graph_objects as go

    d = result.data
    fig = go.Figure(
        go.Contour(
            x=result.grid_x,
            y=result.grid_y,
            z=result.grid_p_rare,
            # the colour scale ends at the largest P(rare) of any point (or at ``zmax``): the
            # darkest colour is where data lie, and anything larger shows the same colour
            zmin=0,
            zmax=result.max_p_rare if zmax is None else zmax,
            colorscale="Blues",
            opacity=0.6,  # light enough for the points on top, the rare ones included
            colorbar=dict(title="P(rare)", tickformat=".2g"),
            contours=dict(showlabels=True, labelformat=".2g"),
            hovertemplate="P(rare)=%{z:.2e}<extra></extra>",
        )
    )
    for c in range(3):
        m = d.y_pool == c
        fig.add_trace(
            go.Scatter(
                x=d.X_pool[m, 0],
                y=d.X_pool[m, 1],
                mode="markers",
                name=f"{NAMES[c]} (pool)",
                # the rare pool points larger and thicker: they lie where the contour is darkest
                marker=dict(
                    symbol="circle-open",
                    color=COLOURS[c],
                    size=8 if c == RARE else 6,
                    line=dict(width=2.5 if c == RARE else 1),
                ),
                customdata=result.pool_p_rare[m],
                hovertemplate="P(rare)=%{customdata:.2e}<extra></extra>",
            )
        )
    for c in range(3):
        m = d.y_train == c
        fig.add_trace(
            go.Scatter(
                x=d.X_train[m, 0],
                y=d.X_train[m, 1],
                mode="markers",
                name=f"{NAMES[c]} (train)",
                marker=dict(color=COLOURS[c], size=9 if c == RARE else 5, line=dict(color="black", width=1)),
            )
        )
    top = d.X_pool[result.top_k]
    fig.add_trace(
        go.Scatter(
            x=top[:, 0],
            y=top[:, 1],
            mode="markers",
            name=f"top {len(result.top_k)} by P(rare)",
            marker=dict(symbol="circle-open", color="black", size=12, line=dict(width=1.5)),
        )
    )
    w = result.rare_direction
    u = w / (np.linalg.norm(w) or 1.0)
    start = d.X_train[d.y_train == RARE].mean(0)
    # Drawn for display, not to scale: from the rare training points' centre to just past the
    # furthest point along w, so the head and its label sit beyond the ringed points.
    every = np.r_[d.X_train, d.X_pool]
    length = float(((every - start) @ u).max()) + 0.15
    end = start + length * u
    fig.add_annotation(
        x=end[0],
        y=end[1],
        ax=start[0],
        ay=start[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=3,
        arrowwidth=2.5,
        arrowcolor="#d62728",
        text="w_rare",  # its length and b are in the title, off the points
        font=dict(color="#d62728"),
        bgcolor="rgba(255,255,255,0.85)",
        xanchor="right" if u[0] >= 0 else "left",
        yanchor="bottom",
        yshift=8,
    )
    fig.update_layout(
        title=f"{_title(result)}<br><sub>red arrow: the direction of w_rare, drawn {length:.1f} long for display "
        f"(|w| = {np.linalg.norm(w):.2f}); b = {result.rare_bias:+.2f}</sub>",
        template="plotly_white",
        height=600,
        width=640,
        # The legend sits under the plot: on the right it would cover the colourbar.
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0, xanchor="left"),
        margin=dict(b=120),
        # equal scales shrink the plotting area to the plane rather than widening an axis
        # past the contour: the contour covers the whole axes
        xaxis=dict(range=[result.grid_x[0], result.grid_x[-1]], constrain="domain"),
        yaxis=dict(range=[result.grid_y[0], result.grid_y[-1]], scaleanchor="x", constrain="domain"),
    )
    return fig


def _logit(result: ToyResult):
    import plotly.graph_objects as go

    d = result.data
    wz, b = result.logit_parts(d.X_pool)
    ringed = np.zeros(len(d.y_pool), bool)
    ringed[result.top_k] = True
    fig = go.Figure()
    for c in range(3):
        m = d.y_pool == c
        fig.add_trace(
            go.Scatter(
                x=wz[m],
                y=result.pool_p_rare[m],
                mode="markers",
                name=f"{NAMES[c]} (pool)",
                marker=dict(symbol="circle-open", color=COLOURS[c], size=6),
                hovertemplate="w·z=%{x:.2f}<br>P(rare)=%{y:.2e}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=wz[ringed],
            y=result.pool_p_rare[ringed],
            mode="markers",
            name=f"top {len(result.top_k)} by P(rare)",
            marker=dict(symbol="circle-open", color="black", size=12, line=dict(width=1.5)),
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        title=f"rare logit = w·z + b, with b = {b:+.2f} for every point; {_title(result)}",
        title_font_size=13,
        template="plotly_white",
        height=420,
        width=640,
        xaxis_title="w·z (the weight part of the rare logit)",
        yaxis=dict(title="P(rare)", type="log", exponentformat="e"),
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0, xanchor="left"),
        margin=dict(b=110),
    )
    return fig
