"""2-D views of the feature space: the paper's uncentered PCA (Fig. 6), PCA and UMAP."""

from __future__ import annotations

import numpy as np

from ..utils import param_error


def uncentered_pca(reference, n_components: int = 2) -> np.ndarray:
    """Principal axes of ``reference`` (the rare class's training features) *without* centering.

    As in Fig. 6: the SVD of the raw feature matrix, so the first axis is the direction the
    rare class's samples share. Signs are chosen so the reference projects to positive x.
    Returns ``(n_components, d)``.

    Examples
    --------
    >>> ref = np.array([[3.0, 0.0], [2.0, 0.0], [2.5, 0.0]])
    >>> np.round(uncentered_pca(ref)[0], 2).tolist()   # the direction they share, pointing at them
    [1.0, 0.0]
    """
    X = np.asarray(reference, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise param_error(
            "uncentered_pca", "reference", "a non-empty 2-D array (n_samples, n_features)", f"shape {X.shape}"
        )
    _, _, vt = np.linalg.svd(X, full_matrices=True)
    comps = vt[:n_components].copy()
    signs = np.sign(comps @ X.mean(axis=0))
    signs[signs == 0] = 1
    return comps * signs[:, None]


def project(features, components) -> np.ndarray:
    """Coordinates of ``features`` along ``components`` (no centering, like the fit)."""
    return np.asarray(features, dtype=np.float64) @ np.asarray(components).T


def pca_2d(features, random_state=None) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=random_state).fit_transform(np.asarray(features))


def umap_2d(features, random_state=None) -> np.ndarray:
    """UMAP embedding; needs the optional ``umap-learn`` package."""
    try:
        import umap
    except ImportError as exc:
        raise ImportError(
            "UMAP needs the optional umap-learn package: pip install 'rarelab[umap]' "
            "(or pip install umap-learn). Uncentered PCA and PCA work without it."
        ) from exc
    seed = None if random_state is None else int(np.random.default_rng(random_state).integers(2**31 - 1))
    return umap.UMAP(n_components=2, random_state=seed).fit_transform(np.asarray(features))


def projection_figure(coords, labels, *, scores=None, names=None, title: str = "", highlight=None):
    """A plotly scatter of 2-D coordinates coloured by label (or by ``scores`` when given).

    Every trace's ``customdata`` starts with the row of ``coords`` each point shows.
    """
    import plotly.graph_objects as go

    coords = np.asarray(coords)
    labels = np.asarray(labels)
    fig = go.Figure()
    if scores is not None:
        fig.add_trace(
            go.Scattergl(
                x=coords[:, 0],
                y=coords[:, 1],
                mode="markers",
                name="score",
                marker=dict(
                    color=np.log10(np.asarray(scores) + 1e-12),
                    colorscale="Viridis",
                    colorbar=dict(title="log10 P(rare)"),
                    size=5,
                ),
                customdata=np.c_[np.arange(len(coords)), scores],
                hovertemplate="P(rare)=%{customdata[1]:.2e}<extra></extra>",
            )
        )
    else:
        for lab in np.unique(labels):
            m = labels == lab
            nm = str(names[lab]) if names is not None else str(lab)
            fig.add_trace(
                go.Scattergl(
                    x=coords[m, 0],
                    y=coords[m, 1],
                    mode="markers",
                    name=nm,
                    marker=dict(size=5),
                    customdata=np.flatnonzero(m),
                    hovertemplate=nm + "<extra></extra>",
                )
            )
    if highlight is not None:
        h = np.asarray(highlight)
        fig.add_trace(
            go.Scattergl(
                x=coords[h, 0],
                y=coords[h, 1],
                mode="markers",
                name="rare class",
                customdata=h,
                marker=dict(symbol="x", size=11, color="#1f77b4", line=dict(width=2)),
            )
        )
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=520,
        dragmode="lasso",
        xaxis_title="component 1",
        yaxis_title="component 2",
        # Under the plot: on the right the legend would cover the P(rare) colourbar.
        legend=dict(orientation="h", yanchor="top", y=-0.15, x=0, xanchor="left"),
    )
    return fig
