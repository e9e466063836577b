"""The paper's 2-D Gaussian toy model (Fig. 5, Sec. V).

Two common classes at (-1, +1) and (-1, -1) and a rare class at (0, 0), each an isotropic
Gaussian with standard deviation ``sigma``. A linear softmax classifier trained with
cross-entropy gives the rare class a small probability everywhere, yet ranking a pool by
that probability puts the rare points on top: the rare class's weight vector points at
the rare cluster while its bias pushes every probability down.

The rare logit has two parts, ``w·z`` (the weight vector's projection: it sets the ranking)
and ``b`` (the bias: the same for every point, it sets the level). :meth:`ToyResult.with_rare_bias`
moves ``b`` alone: every probability changes, the ranking does not.
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
    weight_decay : float
        L2 penalty on the weights (not the biases), as deep networks are trained. It keeps
        the weight vectors short, so no point gets far along ``w``: with the default
        0.015 the largest P(rare) stays near 0.03 (Fig. 2 of the paper: below 0.1), with 0
        the single rare point is fitted ever harder and P(rare) climbs towards 0.3-0.6.
        The loss is still plain cross-entropy: no class weights, no resampling.

    Weights and biases start at zero, so every class's weights and biases sum to zero at
    all times: ``coef_[:, RARE]`` and ``intercept_[RARE]`` are the rare class's weight
    vector and bias relative to the mean of all classes.
    """

    def __init__(self, *, epochs: int = 500, lr: float = 0.5, weight_decay: float = 0.015):
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay

    def fit(self, X, y):
        check_int("LinearSoftmax", "epochs", self.epochs, low=1)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise param_error("LinearSoftmax", "lr", "a positive float", self.lr)
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise param_error("LinearSoftmax", "weight_decay", "a float >= 0", self.weight_decay)
        X, y = np.asarray(X, float), np.asarray(y)
        onehot = np.eye(3)[y]
        W, b = np.zeros((2, 3)), np.zeros(3)
        self.loss_history_ = []
        for _ in range(self.epochs):
            p = self._softmax(X @ W + b)
            g = (p - onehot) / len(X)
            W -= self.lr * (X.T @ g + self.weight_decay * W)
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
    bias_shift: float = 0.0  # added to the trained rare bias (see with_rare_bias)

    @property
    def rare_direction(self) -> np.ndarray:
        """The rare class's weight vector relative to the mean of all classes' weights."""
        W = self.model.coef_
        return W[:, RARE] - W.mean(axis=1)

    @property
    def rare_bias(self) -> float:
        """The rare class's bias relative to the mean of all classes' biases (shift included)."""
        b = self.model.intercept_
        return float(b[RARE] - b.mean())

    def logit_parts(self, X) -> tuple[np.ndarray, float]:
        """The rare logit of the points ``X`` in its two parts: ``(w·z per point, b)``.

        Both relative to the mean over classes, so ``w·z + b`` is the rare logit minus the
        mean logit. ``b`` is one number: it moves every point's logit by the same amount.
        """
        return np.asarray(X, float) @ self.rare_direction, self.rare_bias

    def with_rare_bias(self, shift: float) -> ToyResult:
        """The same trained classifier with ``shift`` added to the rare bias; no retraining.

        P(rare) = 1 / (1 + exp(-b) · Σⱼ≠rare exp(wⱼ·z + bⱼ) / exp(w·z)), so changing b
        changes every probability by a monotone map: the ranking, hence the top-k, stays.

        Examples
        --------
        >>> r = run_toy_model(random_state=0)
        >>> s = r.with_rare_bias(3.0)
        >>> bool((s.pool_p_rare > r.pool_p_rare).all()), set(s.top_k) == set(r.top_k)
        (True, True)
        """
        if not (isinstance(shift, (int, float)) and np.isfinite(shift)):
            raise param_error("ToyResult.with_rare_bias", "shift", "a finite float", shift)
        model = LinearSoftmax(epochs=self.model.epochs, lr=self.model.lr, weight_decay=self.model.weight_decay)
        model.coef_ = self.model.coef_
        # rare_bias is measured from the mean of the three biases, which stays zero: the rare
        # bias moves by s and each common one by -s/2 (for the softmax the same as moving the
        # rare bias alone by 3s/2: adding one number to every logit changes no probability).
        step = float(shift) - self.bias_shift
        model.intercept_ = self.model.intercept_ + step * (1.5 * np.eye(3)[RARE] - 0.5)
        model.loss_history_ = self.model.loss_history_
        return _evaluate(self.data, model, len(self.top_k), len(self.grid_x), bias_shift=float(shift))


def _evaluate(data: ToyData, model: LinearSoftmax, k: int, grid_size: int, bias_shift: float = 0.0) -> ToyResult:
    from ..strategies import select_top

    every = np.r_[data.X_train, data.X_pool]
    lo, hi = every.min(0) - 0.3, every.max(0) + 0.3  # the plane where the points are: none clipped
    gx = np.linspace(lo[0], hi[0], grid_size)
    gy = np.linspace(lo[1], hi[1], grid_size)
    xx, yy = np.meshgrid(gx, gy)
    grid = model.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, RARE].reshape(xx.shape)
    pool_p = model.predict_proba(data.X_pool)[:, RARE]
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
        bias_shift,
    )


def run_toy_model(
    *,
    sigma: float = 0.5,
    n_common: int = 200,
    n_rare: int = 1,
    n_pool_common: int = 500,
    n_pool_rare: int = 50,
    epochs: int = 500,
    lr: float = 0.5,
    weight_decay: float = 0.015,
    k: int = 50,
    grid_size: int = 121,
    random_state=None,
) -> ToyResult:
    """Train the toy classifier and rank the pool by P(rare); returns everything Fig. 5 shows.

    Examples
    --------
    >>> r = run_toy_model(random_state=0)
    >>> r.max_p_rare < 0.1, r.precision_at_k > 10 * 50 / 1050
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
    grid_size = check_int("run_toy_model", "grid_size", grid_size, low=2)
    model = LinearSoftmax(epochs=epochs, lr=lr, weight_decay=weight_decay).fit(data.X_train, data.y_train)
    return _evaluate(data, model, k, grid_size)
