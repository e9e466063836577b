"""The paper's 2-D Gaussian toy model (Fig. 5, Sec. V).

Two common classes at (-1, +1) and (-1, -1) and a rare class at (0, 0), each an isotropic
Gaussian with standard deviation ``sigma``. A linear softmax classifier trained with
cross-entropy gives the rare class a small probability everywhere, yet ranking a pool by
that probability puts the rare points on top: the rare class's weight vector points at
the rare cluster while its bias pushes every probability down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..utils import check_int, check_random_state, param_error

MEANS = np.array([[-1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]])  # common, common, rare
RARE = 2


@dataclass(frozen=True)
class ToyData:
    X_train: np.ndarray
    y_train: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray


def make_toy_data(
    *,
    sigma: float = 0.5,
    n_common: int = 200,
    n_rare: int = 1,
    n_pool_common: int = 500,
    n_pool_rare: int = 50,
    random_state=None,
) -> ToyData:
    """Draw training and pool points: ``n_common`` per common class and ``n_rare`` rare ones."""
    owner = "make_toy_data"
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise param_error(owner, "sigma", "a positive float", sigma)
    for name, v, low in (
        ("n_common", n_common, 1),
        ("n_rare", n_rare, 1),
        ("n_pool_common", n_pool_common, 0),
        ("n_pool_rare", n_pool_rare, 1),
    ):
        check_int(owner, name, v, low=low)
    rng = check_random_state(random_state)

    def draw(counts):
        y = np.repeat(np.arange(3), counts)
        return MEANS[y] + sigma * rng.standard_normal((len(y), 2)), y

    X_train, y_train = draw([n_common, n_common, n_rare])
    X_pool, y_pool = draw([n_pool_common, n_pool_common, n_pool_rare])
    return ToyData(X_train, y_train, X_pool, y_pool)


class LinearSoftmax:
    """A one-layer perceptron with softmax output, trained by full-batch gradient descent on
    the mean cross-entropy (the paper's toy classifier). Fast enough to retrain on a slider.

    Parameters
    ----------
    epochs : int
    lr : float
    """

    def __init__(self, *, epochs: int = 500, lr: float = 0.5):
        self.epochs = epochs
        self.lr = lr

    def fit(self, X, y):
        check_int("LinearSoftmax", "epochs", self.epochs, low=1)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise param_error("LinearSoftmax", "lr", "a positive float", self.lr)
        X, y = np.asarray(X, float), np.asarray(y)
        onehot = np.eye(3)[y]
        W, b = np.zeros((2, 3)), np.zeros(3)
        self.loss_history_ = []
        for _ in range(self.epochs):
            p = self._softmax(X @ W + b)
            g = (p - onehot) / len(X)
            W -= self.lr * X.T @ g
            b -= self.lr * g.sum(0)
            self.loss_history_.append(float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-300))))
        self.coef_, self.intercept_ = W, b
        return self

    @staticmethod
    def _softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        return self._softmax(np.asarray(X, float) @ self.coef_ + self.intercept_)


@dataclass(frozen=True)
class ToyResult:
    data: ToyData
    model: LinearSoftmax
    grid_x: np.ndarray
    grid_y: np.ndarray
    grid_p_rare: np.ndarray  # (len(grid_y), len(grid_x))
    pool_p_rare: np.ndarray
    top_k: np.ndarray  # pool positions, best first
    max_p_rare: float  # over every training and pool point (the paper: <= 0.2 for all samples)
    precision_at_k: float

    @property
    def rare_direction(self) -> np.ndarray:
        """The rare class's weight vector relative to the mean of all classes' weights."""
        W = self.model.coef_
        return W[:, RARE] - W.mean(axis=1)


def run_toy_model(
    *,
    sigma: float = 0.5,
    n_common: int = 200,
    n_rare: int = 1,
    n_pool_common: int = 500,
    n_pool_rare: int = 50,
    epochs: int = 500,
    lr: float = 0.5,
    k: int = 50,
    grid_size: int = 121,
    random_state=None,
) -> ToyResult:
    """Train the toy classifier and rank the pool by P(rare); returns everything Fig. 5 shows.

    Examples
    --------
    >>> r = run_toy_model(random_state=0)
    >>> r.max_p_rare < 0.5, r.precision_at_k > 10 * 50 / 1050
    (True, True)
    """
    data = make_toy_data(
        sigma=sigma,
        n_common=n_common,
        n_rare=n_rare,
        n_pool_common=n_pool_common,
        n_pool_rare=n_pool_rare,
        random_state=random_state,
    )
    k = check_int("run_toy_model", "k", k, low=1, high=len(data.y_pool))
    model = LinearSoftmax(epochs=epochs, lr=lr).fit(data.X_train, data.y_train)
    gx = np.linspace(-3, 2.5, grid_size)
    gy = np.linspace(-2.75, 2.75, grid_size)
    xx, yy = np.meshgrid(gx, gy)
    grid = model.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, RARE].reshape(xx.shape)
    pool_p = model.predict_proba(data.X_pool)[:, RARE]
    from ..strategies import select_top

    top = select_top(pool_p, k, random_state=0)
    train_p = model.predict_proba(data.X_train)[:, RARE]
    return ToyResult(
        data,
        model,
        gx,
        gy,
        grid,
        pool_p,
        top,
        float(max(pool_p.max(), train_p.max())),
        float(np.mean(data.y_pool[top] == RARE)),
    )


def toy_figure(result: ToyResult):
    """Contour of P(rare) with training (filled) and pool (open) points; the top-k ringed."""
    import plotly.graph_objects as go

    d = result.data
    colours = ["#e6b800", "#2ca02c", "#d62728"]
    names = ["common A", "common B", "rare"]
    fig = go.Figure(
        go.Contour(
            x=result.grid_x,
            y=result.grid_y,
            z=result.grid_p_rare,
            colorscale="Blues",
            colorbar=dict(title="P(rare)"),
            contours=dict(showlabels=True),
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
                name=f"{names[c]} (pool)",
                marker=dict(symbol="circle-open", color=colours[c], size=6),
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
                name=f"{names[c]} (train)",
                marker=dict(color=colours[c], size=9 if c == RARE else 5, line=dict(color="black", width=1)),
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
    fig.update_layout(
        title=f"max P(rare) = {result.max_p_rare:.2f}; precision of the top {len(result.top_k)} = "
        f"{result.precision_at_k:.2f}",
        template="plotly_white",
        height=600,
        width=640,
        # The legend sits under the plot: on the right it would cover the colourbar.
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0, xanchor="left"),
        margin=dict(b=120),
        xaxis=dict(range=[result.grid_x[0], result.grid_x[-1]]),
        yaxis=dict(range=[result.grid_y[0], result.grid_y[-1]], scaleanchor="x"),
    )
    return fig
