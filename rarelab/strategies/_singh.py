"""Singh et al., *Minority-class hard example mining* (Sec. 3): a recalibration layer on
frozen penultimate features, trained with focal loss and early stopping, and an autoencoder
on the calibrated logits whose reconstruction error ranks the pool (Eq. 1, 2)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..utils import check_random_state, derive_seed
from ._base import PoolContext, Strategy


def focal_loss(logits, target, *, gamma: float = 2.0, alpha=None) -> torch.Tensor:
    """``FL(p_t) = -alpha_t (1 - p_t)^gamma log p_t`` (Lin et al.), averaged."""
    logp = torch.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    loss = -((1 - logp.exp()) ** gamma) * logp
    if alpha is not None:
        loss = alpha[target] * loss
    return loss.mean()


def _batches(n, size, gen):
    order = torch.randperm(n, generator=gen)
    return [order[a : a + size] for a in range(0, n, size)]


def holdout_mask(labels, n_classes: int, rng: np.random.Generator, fraction: float = 0.1) -> np.ndarray:
    """Items held out for early stopping: a random ``fraction``, but never all of a class's
    items (a rare class with one training example must stay in the training part).

    Examples
    --------
    >>> y = np.r_[np.zeros(50, int), 1]
    >>> all(not holdout_mask(y, 2, np.random.default_rng(s))[-1] for s in range(200))
    True
    """
    labels = np.asarray(labels)
    hold = rng.random(len(labels)) < fraction
    counts = np.bincount(labels, minlength=n_classes)
    held = np.bincount(labels[hold], minlength=n_classes)
    for c in np.flatnonzero((held > 0) & (held >= counts)):
        hold[labels == c] = False
    return hold


def train_recalibration(
    train_x, train_y, n_classes, *, gamma=2.0, max_epochs=50, patience=3, lr=1e-3, batch_size=256, random_state=None
) -> nn.Linear:
    """A new linear layer on frozen features: focal loss with inverse-frequency alpha,
    early stopping on a held-out 10 % of the training set."""
    rng = check_random_state(random_state)
    gen = torch.Generator().manual_seed(derive_seed(rng))
    x = torch.as_tensor(train_x, dtype=torch.float32)
    y = torch.as_tensor(train_y, dtype=torch.long)
    hold_np = holdout_mask(train_y, n_classes, rng)
    hold = torch.from_numpy(hold_np)
    if hold.sum() == 0 or hold.all():
        hold = torch.zeros(len(x), dtype=torch.bool)
    counts = torch.bincount(y[~hold], minlength=n_classes).float()
    alpha = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))
    alpha = alpha / alpha.max()
    with torch.random.fork_rng(devices=[]):  # the default init must not advance torch's global RNG
        torch.manual_seed(derive_seed(rng))
        layer = nn.Linear(x.shape[1], n_classes)
    with torch.no_grad():
        bound = 1 / x.shape[1] ** 0.5
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.zero_()
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    best, best_state, bad = np.inf, None, 0
    for _ in range(max_epochs):
        for b in _batches(int((~hold).sum()), batch_size, gen):
            xb, yb = x[~hold][b], y[~hold][b]
            loss = focal_loss(layer(xb), yb, gamma=gamma, alpha=alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if hold.any():
            with torch.no_grad():
                val = float(focal_loss(layer(x[hold]), y[hold], gamma=gamma, alpha=alpha))
            if val < best - 1e-5:
                best, bad = val, 0
                best_state = {k: v.clone() for k, v in layer.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
    if best_state is not None:
        layer.load_state_dict(best_state)
    return layer


class LogitAutoencoder(nn.Module):
    """Two-layer encoder and mirror decoder with ReLU (Singh Sec. 4).

    The paper's sizes (hidden 10, latent 9) are for 10 classes: a bottleneck just under
    the number of classes. Both scale with it here (hidden = n, latent = n - 1 by default),
    so 43 logits are not squeezed through 9 units.
    """

    def __init__(self, n: int, hidden: int | None = None, latent: int | None = None):
        super().__init__()
        hidden = hidden or n
        latent = latent or max(1, n - 1)
        self.encoder = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, latent), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n))

    def forward(self, z):
        return self.decoder(self.encoder(z))


def train_autoencoder(z, *, epochs=20, lr=1e-3, batch_size=256, random_state=None) -> LogitAutoencoder:
    """Fit the autoencoder on training logits; ``ae.loss_history_`` holds the mean loss of
    every epoch and ``ae.converged_`` whether the last epochs stopped improving by more
    than 1 % (at most ``10 * epochs`` epochs are run to get there)."""
    rng = check_random_state(random_state)
    gen = torch.Generator().manual_seed(derive_seed(rng))
    z = torch.as_tensor(z, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(rng))
        ae = LogitAutoencoder(z.shape[1])
    opt = torch.optim.Adam(ae.parameters(), lr=lr)
    history = []
    for epoch in range(10 * epochs):
        total = 0.0
        for b in _batches(len(z), batch_size, gen):
            loss = ((ae(z[b]) - z[b]) ** 2).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        history.append(total / len(z))
        # Converged: the last 3 epochs improved the loss by less than 1 % in all.
        if epoch + 1 >= epochs and len(history) > 3 and history[-4] - history[-1] < 0.01 * history[-4]:
            break
    ae.loss_history_ = history
    ae.converged_ = len(history) > 3 and history[-4] - history[-1] < 0.01 * history[-4]
    return ae


@torch.no_grad()
def reconstruction_scores(ae: LogitAutoencoder, z) -> np.ndarray:
    """Eq. 1: ``S_x = || softmax(z) - softmax(z_hat) ||^2``."""
    z = torch.as_tensor(z, dtype=torch.float32)
    return ((torch.softmax(z, 1) - torch.softmax(ae(z), 1)) ** 2).sum(dim=1).double().numpy()


class MinorityClassMining(Strategy):
    """Recalibration layer + autoencoder anomaly score (Singh et al.), highest error first.

    Parameters
    ----------
    gamma : float
        Focal loss focusing parameter (Lin et al.'s default 2).
    ae_epochs : int
        Autoencoder epochs (the paper trains 10–40).
    chunk : int
        Pool items embedded per batch.
    """

    name = "singh-mcm"

    def select(self, ctx: PoolContext, budget: int, *, random_state=None):
        cand = super().select(ctx, budget, random_state=random_state)
        return type(cand)(cand.ids, cand.target, cand.score, info=dict(getattr(self, "info_", {})))

    def __init__(self, *, gamma: float = 2.0, ae_epochs: int = 20, chunk: int = 8192):
        self.gamma = gamma
        self.ae_epochs = ae_epochs
        self.chunk = chunk

    def scores(self, ctx: PoolContext, random_state=None) -> np.ndarray:
        rng = check_random_state(random_state)
        n_classes = ctx.proba.shape[1]
        train_f = ctx.train_embeddings
        rc = train_recalibration(train_f, ctx.train_labels, n_classes, gamma=self.gamma, random_state=rng)
        with torch.no_grad():
            z_train = rc(torch.as_tensor(train_f, dtype=torch.float32))
        ae = train_autoencoder(z_train, epochs=self.ae_epochs, random_state=rng)
        self.info_ = {
            "autoencoder": f"{len(ae.loss_history_)} epochs, loss {ae.loss_history_[0]:.3g} -> "
            f"{ae.loss_history_[-1]:.3g}, {'converged' if ae.converged_ else 'NOT converged'}"
        }
        out = []
        for a in range(0, len(ctx.pool_ids), self.chunk):  # pool scoring in chunks
            f = ctx.learner.embed(ctx.pool_ids[a : a + self.chunk])
            with torch.no_grad():
                out.append(reconstruction_scores(ae, rc(torch.as_tensor(f, dtype=torch.float32))))
        return np.concatenate(out)
