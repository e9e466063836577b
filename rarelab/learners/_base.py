"""The learner contract: what the active loop trains each round, and how it predicts.

Every learner subclasses :class:`Learner`, so the loop, the search, the strategies, the
widgets and the studies rely on one declared interface instead of probing for methods:
``fit(ids, labels) -> self``, ``predict_proba(ids)`` (one column per class, rows sum to
1), ``embed(ids)`` (penultimate features), ``predict_proba_images(images)`` for files in no
dataset, and ``save(path)`` / ``load(path)`` so a reopened run does not retrain.
"""

from __future__ import annotations

import pickle
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..exceptions import DataUnavailableError
from ..features import list_backbones
from ..utils import atomic_path, check_int, interactive, param_error, transient_bar

EpochCallback = Callable[[int, float], None]


def check_fit_input(owner: str, ids, labels, n_items: int, n_classes: int, n_aux: int = 0):
    """``(ids, labels)`` as int64 arrays, or an error naming what is wrong with them."""
    ids = np.asarray(ids)
    labels = np.asarray(labels)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or len(ids) == 0:
        raise param_error(
            owner, "ids", "a non-empty 1-D int array of item ids", f"{ids.dtype} array of shape {ids.shape}"
        )
    if ids.min() < 0 or ids.max() >= n_items:
        raise param_error(owner, "ids", f"item ids in [0, {n_items - 1}]", f"ids in [{ids.min()}, {ids.max()}]")
    if labels.shape != ids.shape or not np.issubdtype(labels.dtype, np.integer):
        raise param_error(
            owner, "labels", f"an int array of shape {ids.shape}", f"{labels.dtype} array of shape {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= n_classes + n_aux:
        raise param_error(
            owner,
            "labels",
            f"class ids in [0, {n_classes - 1}]"
            + (f" or auxiliary ids in [{n_classes}, {n_classes + n_aux - 1}]" if n_aux else ""),
            f"ids in [{labels.min()}, {labels.max()}]",
        )
    return ids.astype(np.int64), labels.astype(np.int64)


def save_state(path, state: dict) -> None:
    """Write a learner's ``state`` dict to ``path`` atomically (readers never see half a file)."""
    atomic_path(path, lambda tmp: torch.save(state, tmp))


def load_state(path, learner: Learner, *, kind: str) -> dict:
    """Read a state written by :func:`save_state`; refuse one saved by another learner or class set."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise DataUnavailableError(f"Could not read the model file {str(path)!r}: {exc}") from exc
    expected = {"kind": kind, "backbone": learner.backbone, "n_classes": learner.n_classes}
    got = {k: saved.get(k) for k in expected}
    if got != expected:
        raise param_error(type(learner).__name__ + ".load", "path", f"a model saved by {expected}", got)
    return saved


def init_linear(layer: nn.Linear, gen: torch.Generator) -> None:
    """``nn.Linear``'s default init, drawn from ``gen`` instead of torch's global generator."""
    bound = 1 / layer.in_features**0.5
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)


class Learner(ABC):
    """Base class of every learner: the contract the active loop and its views rely on.

    Subclasses set ``dataset``, ``backbone``, ``epochs``, ``lr``, ``batch_size``,
    ``device``, ``random_state``, ``callbacks`` and ``progress`` in ``__init__`` (as
    parameters, scikit-learn style) and, once fitted, ``model_``, ``n_outputs_``,
    ``device_`` and ``loss_history_`` (mean training loss per epoch).

    Callbacks ``(epoch, mean_loss)`` run after every epoch (the stepper's live loss plot).
    """

    max_aux = 64  # auxiliary (background) classes a learner accepts beyond the dataset's

    @abstractmethod
    def fit(self, ids, labels) -> Learner:
        """Train on the items ``ids`` (int array, shape (n,)) with ``labels`` (class ids, shape (n,))."""

    @abstractmethod
    def predict_proba(self, ids) -> np.ndarray:
        """Softmax over every class for the items ``ids``; shape (len(ids), n_classes)."""

    @abstractmethod
    def embed(self, ids) -> np.ndarray:
        """Penultimate features of the items ``ids``; shape (len(ids), d), float32."""

    @abstractmethod
    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Softmax for new images (NHWC uint8) that are in no dataset; shape (n, n_classes)."""

    @abstractmethod
    def save(self, path) -> None:
        """Write the trained model and its settings to ``path``, atomically."""

    @abstractmethod
    def load(self, path) -> Learner:
        """Restore a model written by :meth:`save`; returns ``self``."""

    def precompute(self) -> bool:
        """Compute what this learner caches once per dataset (frozen features, trunk
        activations), so that the first round does not; returns whether it caches anything.

        Learners that read the images every round (full fine-tuning) cache nothing.
        """
        return False

    @property
    def n_classes(self) -> int:
        return len(self.dataset.classes)

    @property
    def is_fitted(self) -> bool:
        """Whether a model was trained or loaded (``predict_proba`` works)."""
        return hasattr(self, "model_")

    def input_side(self) -> int:
        """Side of the images :meth:`predict_proba_images` expects."""
        return self.dataset.image_size

    def _check_common(self):
        owner = type(self).__name__
        if self.backbone not in list_backbones():
            raise param_error(owner, "backbone", f"one of {list_backbones()}", self.backbone)
        check_int(owner, "epochs", self.epochs, low=1)
        check_int(owner, "batch_size", self.batch_size, low=1)
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise param_error(owner, "lr", "a positive float", self.lr)

    # Background splitting (Mullapudi et al.'s trainBGSplit): training items may carry an
    # auxiliary label n_classes + k (a cluster of background, e.g. a pseudo-negative); the
    # network gets those extra outputs, and predictions are the softmax over the real classes.
    def _outputs_for(self, labels) -> int:
        return max(self.n_classes, int(np.max(labels)) + 1) if len(labels) else self.n_classes

    def _real_softmax(self, logits: torch.Tensor) -> np.ndarray:
        return torch.softmax(logits[:, : self.n_classes].double(), dim=1).cpu().numpy()

    def _check_fitted(self):
        if not self.is_fitted:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet. Call fit(ids, labels) first.")

    def _fit_head(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> None:
        """Train ``model`` (a head on feature rows ``x`` on ``self.device_``) with plain
        cross-entropy on ``y``: Adam at ``lr`` and ``weight_decay``, the shared epoch loop."""
        dev = self.device_
        model = model.to(dev).train()
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self._train_epochs(
            len(y),
            lambda b: nn.functional.cross_entropy(model(x[b.to(dev)]), y[b.to(dev)]),
            opt,
            gen,
            desc="training head",
        )
        model.eval()

    def _train_epochs(self, n: int, loss_of, optimizer, gen: torch.Generator, *, desc: str, **kw) -> None:
        """The one epoch loop every learner trains with: see :func:`train_epochs`."""
        self.loss_history_ = train_epochs(
            n,
            loss_of,
            optimizer,
            gen,
            epochs=self.epochs,
            batch_size=self.batch_size,
            callbacks=self.callbacks,
            desc=desc,
            progress=self.progress,
            **kw,
        )


def train_epochs(
    n: int,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    gen: torch.Generator,
    *,
    epochs: int,
    batch_size: int,
    callbacks=None,
    desc: str = "training",
    progress: bool = True,
    scheduler=None,
    scaler=None,
    before_epoch: Callable[[int], None] | None = None,
    epoch_lines: bool = False,
) -> list[float]:
    """Minibatch training over ``n`` items; returns the mean loss of every epoch.

    Each epoch draws a permutation of ``range(n)`` from ``gen``, then ``before_epoch(epoch)``
    runs (a learner draws its per-epoch randomness there), then every batch of positions
    goes to ``loss_of(batch) -> scalar loss``. ``scaler`` (a ``torch.amp.GradScaler``) scales
    the loss for mixed precision; ``scheduler`` steps after every batch. ``epoch_lines``:
    training long enough to be watched prints one line per epoch to stderr where there is
    no terminal or notebook for the bar (a log, a CI job).
    """
    history = []
    lines = epoch_lines and progress and not interactive()
    t0 = time.perf_counter()
    # Seconds to minutes per round: a bar in a terminal or notebook, nothing in a log.
    bar = transient_bar(total=epochs * n, desc=desc, unit="img", disable=not (progress and interactive()))
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        if before_epoch is not None:
            before_epoch(epoch)
        total = 0.0
        for start in range(0, n, batch_size):
            b = order[start : start + batch_size]
            loss = loss_of(b)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(b)
            bar.update(len(b))
        history.append(total / n)
        if lines:
            print(
                f"{desc}: epoch {epoch + 1}/{epochs}, loss {history[-1]:.4f}, {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        for cb in callbacks or ():
            cb(epoch, history[-1])
    bar.close()
    return history
