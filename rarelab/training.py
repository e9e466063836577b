"""Learners: what the active loop trains each round, and how it predicts.

Both follow one small protocol, so the loop, the strategies and the widgets never care
which one runs: ``fit(ids, labels) -> self``, ``predict_proba(ids)`` (one column per
class, rows sum to 1) and ``embed(ids)`` (penultimate features).

* :class:`LinearProbe` trains a head on frozen, cached ImageNet features: seconds per
  round on a CPU. The default.
* :class:`FineTune` trains the whole network with random-crop augmentation, as the paper
  does (Adam, lr 1e-3, batch 256): the GPU path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._progress import interactive
from ._validation import (
    DataUnavailableError,
    check_int,
    check_random_state,
    derive_seed,
    param_error,
)
from .devices import choose_device
from .features import embed_images
from .models import BACKBONES, build_model

EpochCallback = Callable[[int, float], None]


def _check_fit_input(owner: str, ids, labels, n_items: int, n_classes: int, n_aux: int = 0):
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


def _save_state(path, state: dict) -> None:
    from ._atomic import atomic_path

    atomic_path(path, lambda tmp: torch.save(state, tmp))


def _load_state(path, learner, *, kind: str) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise DataUnavailableError(f"Could not read the model file {str(path)!r}: {exc}") from exc
    expected = {"kind": kind, "backbone": learner.backbone, "n_classes": learner.n_classes}
    got = {k: saved.get(k) for k in expected}
    if got != expected:
        raise param_error(type(learner).__name__ + ".load", "path", f"a model saved by {expected}", got)
    return saved


def _init_linear(layer: nn.Linear, gen: torch.Generator) -> None:
    # nn.Linear's default init, drawn from our generator instead of torch's global one.
    bound = 1 / layer.in_features**0.5
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)


class _Base:
    max_aux = 64  # auxiliary (background) classes a learner accepts beyond the dataset's

    def _check_common(self):
        owner = type(self).__name__
        if self.backbone not in BACKBONES:
            raise param_error(owner, "backbone", f"one of {BACKBONES}", self.backbone)
        check_int(owner, "epochs", self.epochs, low=1)
        check_int(owner, "batch_size", self.batch_size, low=1)
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise param_error(owner, "lr", "a positive float", self.lr)

    @property
    def n_classes(self) -> int:
        return len(self.dataset.classes)

    # Background splitting (Mullapudi et al.'s trainBGSplit): training items may carry an
    # auxiliary label n_classes + k (a cluster of background, e.g. a pseudo-negative); the
    # network gets those extra outputs, and predictions are the softmax over the real classes.
    def _outputs_for(self, labels) -> int:
        return max(self.n_classes, int(np.max(labels)) + 1) if len(labels) else self.n_classes

    def _real_softmax(self, logits: torch.Tensor) -> np.ndarray:
        return torch.softmax(logits[:, : self.n_classes].double(), dim=1).cpu().numpy()

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet. Call fit(ids, labels) first.")


class LinearProbe(_Base):
    """A head trained with plain cross-entropy on frozen, cached backbone features.

    Parameters
    ----------
    dataset : ArrayDataset
    backbone : {"efficientnet_lite0", "resnet18", "small_cnn"}
        Frozen feature extractor with ImageNet weights (``small_cnn`` has none: use
        :class:`FineTune` for it).
    input_size : int, optional
        Side images are resized to before the backbone; its default otherwise.
    hidden : int
        0 trains a linear head (the paper's Eq. 1 on frozen features); > 0 adds a hidden
        ReLU layer of that width, whose activations ``embed`` then returns.
    epochs, lr, batch_size : training as in the paper (Adam, 1e-3, 256).
    weight_decay : float
        Adam's L2 penalty.
    normalize : bool
        Scale every feature vector to unit length before the head (the head then sees
        directions only, as a cosine classifier would).
    warm_start : bool
        Continue from the previous round's head instead of a fresh one.
    device : None, "auto", "cpu" or "cuda"
    random_state : None, int or Generator
    callbacks : list of callables ``(epoch, mean_loss)``, called after every epoch.
    """

    def __init__(
        self,
        *,
        dataset,
        backbone: str = "efficientnet_lite0",
        input_size: int | None = None,
        hidden: int = 0,
        normalize: bool = False,
        epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        warm_start: bool = False,
        device=None,
        random_state=None,
        callbacks: list[EpochCallback] | None = None,
        progress: bool = True,
    ):
        self.dataset = dataset
        self.backbone = backbone
        self.input_size = input_size
        self.hidden = hidden
        self.normalize = normalize
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks
        self.progress = progress

    def _features(self):
        """The dataset's frozen features: an in-memory matrix, or a feature store streamed in blocks."""
        if not hasattr(self, "features_"):
            if self.backbone == "small_cnn":
                raise param_error(
                    "LinearProbe",
                    "backbone",
                    "a pretrained backbone",
                    "small_cnn",
                    "A random small CNN gives useless frozen features; use FineTune for it.",
                )
            self.features_ = self.dataset.feature_source(
                backbone=self.backbone, input_size=self.input_size, device=self.device, progress=self.progress
            )
        return self.features_

    def _new_head(self, dim: int, gen: torch.Generator, n_outputs: int | None = None) -> nn.Module:
        n_outputs = n_outputs or self.n_classes
        if self.hidden:
            check_int("LinearProbe", "hidden", self.hidden, low=1)
            layers = [nn.Linear(dim, self.hidden), nn.ReLU(), nn.Linear(self.hidden, n_outputs)]
        else:
            layers = [nn.Linear(dim, n_outputs)]
        for layer in layers:
            if isinstance(layer, nn.Linear):
                _init_linear(layer, gen)
        return nn.Sequential(*layers)

    def fit(self, ids, labels):
        """Train the head on the items ``ids`` with ``labels``; returns ``self``."""
        self._check_common()
        ids, labels = _check_fit_input(
            "LinearProbe.fit", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        # A fresh generator per fit, as in scikit-learn: a resumed run retrains a round exactly.
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(derive_seed(rng))
        feats = self._features()
        self.device_ = choose_device(self.device)
        n_outputs = self._outputs_for(labels)
        if not (self.warm_start and hasattr(self, "model_") and self.n_outputs_ == n_outputs):
            self.model_ = self._new_head(feats.shape[1], gen, n_outputs)
        self.n_outputs_ = n_outputs
        model = self.model_.to(self.device_).train()
        x_all = self._prepare(feats.take(ids)).to(self.device_)
        y_all = torch.from_numpy(labels).to(self.device_)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.loss_history_ = []
        # A few seconds per round: a bar in a terminal or notebook, nothing in a log.
        for epoch in tqdm(
            range(self.epochs), desc="training head", disable=not (self.progress and interactive()), leave=False
        ):
            order = torch.randperm(len(ids), generator=gen).to(self.device_)
            total = 0.0
            for start in range(0, len(ids), self.batch_size):
                b = order[start : start + self.batch_size]
                loss = nn.functional.cross_entropy(model(x_all[b]), y_all[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            self.loss_history_.append(total / len(ids))
            for cb in self.callbacks or ():
                cb(epoch, self.loss_history_[-1])
        model.eval()
        return self

    @torch.inference_mode()
    def predict_proba(self, ids) -> np.ndarray:
        """Softmax over every class for the items ``ids``; shape (len(ids), n_classes).

        Streams the features in blocks: a pool of a million items never holds its n x d
        feature matrix, only the n x n_classes result.
        """
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.n_classes))
        for pos, x in self._features().iter_blocks(ids):
            out[pos] = self._proba_of_features(x)
        return out

    def _prepare(self, x: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(x)
        return nn.functional.normalize(x, dim=1) if self.normalize else x

    @torch.inference_mode()
    def _proba_of_features(self, x: np.ndarray) -> np.ndarray:
        return self._real_softmax(self.model_(self._prepare(x).to(self.device_)))

    @torch.inference_mode()
    def embed(self, ids) -> np.ndarray:
        """Penultimate features of ``ids``: the backbone's, or the hidden layer's when ``hidden > 0``."""
        x = self._prepare(self._features().take(ids))
        if self.hidden:
            self._check_fitted()
            x = self.model_[1](self.model_[0](x.to(self.device_))).cpu()
        return x.numpy()

    @torch.inference_mode()
    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Softmax for new images (NHWC uint8) that are in no dataset: backbone, then the head."""
        self._check_fitted()
        if not hasattr(self, "backbone_model_"):
            self.backbone_model_ = build_model(self.backbone, self.n_classes, input_size=self.input_size)
        feats = embed_images(self.backbone_model_, images, device=self.device_, progress=False)
        # Through float16 like every stored feature: the same file gets the same probabilities.
        return self._proba_of_features(feats.astype(np.float16).astype(np.float32))

    def save(self, path) -> None:
        """Write the trained head (and its settings) to ``path``, atomically."""
        self._check_fitted()
        _save_state(
            path,
            {
                "kind": "linear",
                "backbone": self.backbone,
                "input_size": self.input_size,
                "hidden": self.hidden,
                "normalize": self.normalize,
                "n_classes": self.n_classes,
                "dim": self._features().shape[1],
                "n_outputs": self.n_outputs_,
                "state": self.model_.state_dict(),
            },
        )

    def load(self, path):
        """Restore a head written by :meth:`save`; returns ``self``."""
        saved = _load_state(path, self, kind="linear")
        if bool(saved.get("normalize", False)) != bool(self.normalize):
            raise param_error(
                "LinearProbe.load", "path", f"a head trained with normalize={self.normalize}", saved.get("normalize")
            )
        self.n_outputs_ = int(saved.get("n_outputs", self.n_classes))
        self.model_ = self._new_head(saved["dim"], torch.Generator().manual_seed(0), self.n_outputs_)
        self.model_.load_state_dict(saved["state"])
        self.device_ = choose_device(self.device)
        self.model_.to(self.device_).eval()
        return self


class FineTune(_Base):
    """The whole network trained end to end, with random-crop augmentation (paper, Sec. III-B).

    Parameters are those of :class:`LinearProbe` except ``hidden`` and ``normalize``, plus
    ``weights`` (``"DEFAULT"`` for ImageNet, ``None`` for scratch) and ``crop_padding``
    (pixels of the random crop).
    On CUDA it trains with mixed precision and channels_last.
    """

    def __init__(
        self,
        *,
        dataset,
        backbone: str = "efficientnet_lite0",
        weights: str | None = "DEFAULT",
        input_size: int | None = None,
        epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        crop_padding: int = 4,
        warm_start: bool = False,
        device=None,
        random_state=None,
        callbacks: list[EpochCallback] | None = None,
        progress: bool = True,
    ):
        self.dataset = dataset
        self.backbone = backbone
        self.weights = weights
        self.input_size = input_size
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.crop_padding = crop_padding
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks
        self.progress = progress

    def _random_crop(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        p = self.crop_padding
        if p == 0:
            return x
        n, h, w, _ = x.shape
        padded = nn.functional.pad(x.permute(0, 3, 1, 2), (p, p, p, p), mode="replicate").permute(0, 2, 3, 1)
        off = torch.randint(0, 2 * p + 1, (n, 2), generator=gen)
        return torch.stack([padded[i, a : a + h, b : b + w] for i, (a, b) in enumerate(off.tolist())])

    def fit(self, ids, labels):
        """Train the network on the items ``ids`` with ``labels``; returns ``self``."""
        self._check_common()
        check_int("FineTune", "crop_padding", self.crop_padding, low=0)
        ids, labels = _check_fit_input(
            "FineTune.fit", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        n_outputs = self._outputs_for(labels)
        # A fresh generator per fit, as in scikit-learn: a resumed run retrains a round exactly.
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(derive_seed(rng))
        self.device_ = dev = choose_device(self.device)
        cuda = dev.type == "cuda"
        if not (self.warm_start and hasattr(self, "model_") and self.n_outputs_ == n_outputs):
            # fork_rng keeps torch's global generator untouched by the layers' default init.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(rng))
                weights = None if self.backbone == "small_cnn" else self.weights
                self.model_ = build_model(self.backbone, n_outputs, weights=weights, input_size=self.input_size)
            _init_linear(self.model_.head, gen)
        self.n_outputs_ = n_outputs
        model = self.model_.to(dev)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        model.train()
        # The training set is small next to the pool: decode it once per fit (files) or view it (arrays).
        images = torch.from_numpy(self.dataset.load_images(ids, self.dataset.image_size))
        y_all = torch.from_numpy(labels)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
        self.loss_history_ = []
        bar = tqdm(
            total=self.epochs * len(ids),
            desc=f"fine-tuning {self.backbone}",
            disable=not self.progress,
            unit="img",
            leave=False,
        )
        for epoch in range(self.epochs):
            order = torch.randperm(len(ids), generator=gen)
            total = 0.0
            for start in range(0, len(ids), self.batch_size):
                b = order[start : start + self.batch_size]
                x = self._random_crop(images[b], gen).to(dev, non_blocking=True)
                x = model.preprocess(x)
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                ctx = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
                with ctx:
                    loss = nn.functional.cross_entropy(model(x), y_all[b].to(dev))
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += loss.item() * len(b)
                bar.update(len(b))
            self.loss_history_.append(total / len(ids))
            for cb in self.callbacks or ():
                cb(epoch, self.loss_history_[-1])
        bar.close()
        model.eval()
        return self

    @torch.inference_mode()
    def _forward(self, ids, what: str, block: int = 4096) -> np.ndarray:
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.model_.feature_dim if what == "embed" else self.n_classes))
        # Blocks of decoded images: a pool on disk is never decoded all at once.
        for start in range(0, len(ids), block):
            images = self.dataset.load_images(ids[start : start + block], self.dataset.image_size)
            out[start : start + len(images)] = self._forward_images(images, what)
        return out.astype(np.float32) if what == "embed" else out

    @torch.inference_mode()
    def _forward_images(self, images: np.ndarray, what: str) -> np.ndarray:
        feats = embed_images(self.model_, images, device=self.device_, progress=False)
        if what == "embed":
            return feats
        head = self.model_.head
        return self._real_softmax(head(torch.from_numpy(feats).to(self.device_).to(head.weight.dtype)))

    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Softmax for new images (NHWC uint8) that are in no dataset."""
        self._check_fitted()
        return self._forward_images(images, "proba")

    def save(self, path) -> None:
        """Write the trained network to ``path``, atomically."""
        self._check_fitted()
        _save_state(
            path,
            {
                "kind": "finetune",
                "backbone": self.backbone,
                "input_size": self.input_size,
                "n_classes": self.n_classes,
                "n_outputs": self.n_outputs_,
                "state": self.model_.state_dict(),
            },
        )

    def load(self, path):
        """Restore a network written by :meth:`save`; returns ``self``."""
        saved = _load_state(path, self, kind="finetune")
        self.n_outputs_ = int(saved.get("n_outputs", self.n_classes))
        self.model_ = build_model(self.backbone, self.n_outputs_, weights=None, input_size=self.input_size)
        self.model_.load_state_dict(saved["state"])
        self.device_ = choose_device(self.device)
        self.model_.to(self.device_).eval()
        return self

    def predict_proba(self, ids) -> np.ndarray:
        """Softmax over every class for the items ``ids``; shape (len(ids), n_classes)."""
        return self._forward(ids, "proba")

    def embed(self, ids) -> np.ndarray:
        """Penultimate features of the items ``ids``."""
        return self._forward(ids, "embed")
