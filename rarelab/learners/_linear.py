"""``LinearProbe``: a head trained on frozen, cached backbone features."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..features import DEFAULT_INPUT_SIZE, FileFeatures, embed_images, feature_source, get_backbone
from ..utils import check_int, check_random_state, choose_device, derive_seed, param_error
from ._base import EpochCallback, Learner, check_fit_input, init_linear, load_state, save_state


class LinearProbe(Learner):
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
    progress : bool
        Progress bars for feature extraction and training.
    files : FileFeatures, optional
        For a dataset of files: the feature store and extraction engine (the defaults otherwise).
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
        files: FileFeatures | None = None,
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
        self.files = files

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
            self.features_ = feature_source(
                self.dataset,
                backbone=self.backbone,
                input_size=self.input_size,
                device=self.device,
                progress=self.progress,
                files=self.files,
            )
        return self.features_

    def precompute(self) -> bool:
        """Extract (or read from the cache) every item's frozen features."""
        self._features()
        return True

    def file_failures(self) -> dict[int, str]:
        """Items of a file dataset whose file could not be decoded, with the error."""
        self.files = self.files or FileFeatures()
        self.precompute()
        return self.files.failed_items(self.dataset, backbone=self.backbone, input_size=self.input_size)

    def input_side(self) -> int:
        """Side of the images :meth:`predict_proba_images` expects: the backbone's input."""
        return self.input_size or DEFAULT_INPUT_SIZE[self.backbone]

    def _new_head(self, dim: int, gen: torch.Generator, n_outputs: int | None = None) -> nn.Module:
        n_outputs = n_outputs or self.n_classes
        if self.hidden:
            check_int("LinearProbe", "hidden", self.hidden, low=1)
            layers = [nn.Linear(dim, self.hidden), nn.ReLU(), nn.Linear(self.hidden, n_outputs)]
        else:
            layers = [nn.Linear(dim, n_outputs)]
        for layer in layers:
            if isinstance(layer, nn.Linear):
                init_linear(layer, gen)
        return nn.Sequential(*layers)

    def fit(self, ids, labels):
        """Train the head on the items ``ids`` with ``labels``; returns ``self``."""
        self._check_common()
        ids, labels = check_fit_input(
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
        x_all = self._prepare(feats.take(ids)).to(self.device_)
        self._fit_head(self.model_, x_all, torch.from_numpy(labels).to(self.device_), gen)
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
            self.backbone_model_ = get_backbone(self.backbone, self.n_classes, input_size=self.input_size)
        feats = embed_images(self.backbone_model_, images, device=self.device_, progress=False)
        # Through float16 like every stored feature: the same file gets the same probabilities.
        return self._proba_of_features(feats.astype(np.float16).astype(np.float32))

    def save(self, path) -> None:
        """Write the trained head (and its settings) to ``path``, atomically."""
        self._check_fitted()
        save_state(
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
        saved = load_state(path, self, kind="linear")
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
