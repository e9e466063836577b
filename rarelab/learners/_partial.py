"""Partial fine-tuning on a CPU: train a backbone's last blocks on cached activations.

A frozen ImageNet backbone gives the rare class's weight vector only ImageNet directions to
point at; fine-tuning the whole network adapts them but costs hours per round on a CPU.
The middle way: run the frozen *trunk* (stem and early blocks) once per image and cache
its activations, then train the *tail* (the last ``tune_blocks`` blocks, the head conv and
the linear layer) every round with plain cross-entropy, as the paper does. Augmentation
survives the cache as a few randomly shifted and brightened *views* of every image,
computed once; each epoch draws one view per training item.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import FileDataset
from ..features import ActivationCache, FileFeatures, get_backbone, split_backbone
from ..utils import check_int, check_random_state, choose_device, derive_seed, param_error
from ._base import Learner, check_fit_input, init_linear, load_state, save_state
from ._trunk import file_failures, train_tail, trunk_view


class PartialFineTune(Learner):
    """The last ``tune_blocks`` blocks of an ImageNet backbone plus a linear head, trained
    with plain cross-entropy on cached trunk activations; the CPU way to adapt features.

    The activations of a dataset of files live in the feature store (``files``: per file,
    resumable, incremental, either engine; augmented views of training items only), those of
    an in-memory dataset in an ``ActivationCache`` (``cache_``); ``split_backbone`` and
    ``augment_view`` in :mod:`rarelab.features` are the pieces it is made of.

    Parameters
    ----------
    dataset : ArrayDataset or FileDataset
    backbone : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet18"}
    input_size : int, optional
        Side images are resized to before the backbone; its default otherwise.
    tune_blocks : int
        Blocks trained, counted from the end (7 = EfficientNet-Lite0's last two stages and two
        blocks of the stage before; the feature study's best within 5 min a round on 2 cores).
    views : int
        Augmented views cached per image besides the clean one (0 = no augmentation).
    epochs, lr, batch_size : training (AdamW with a one-cycle schedule peaking at ``lr``).
    weight_decay : float
    warm_start : bool
        Continue from the previous round's tail and head instead of ImageNet's.
    device, random_state, callbacks, progress : as :class:`~rarelab.learners.LinearProbe`.
    files : FileFeatures, optional
        For a dataset of files: the feature store and engine (the defaults otherwise).
    """

    def __init__(
        self,
        *,
        dataset,
        backbone: str = "efficientnet_lite0",
        input_size: int | None = None,
        tune_blocks: int = 7,
        views: int = 2,
        epochs: int = 6,
        lr: float = 1e-3,
        batch_size: int = 128,
        weight_decay: float = 0.0,
        warm_start: bool = False,
        device=None,
        random_state=None,
        callbacks=None,
        progress: bool = True,
        files: FileFeatures | None = None,
    ):
        self.dataset = dataset
        self.backbone = backbone
        self.input_size = input_size
        self.tune_blocks = tune_blocks
        self.views = views
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

    def _check_params(self):
        self._check_common()
        check_int("PartialFineTune", "views", self.views, low=0, high=32)
        if not (isinstance(self.weight_decay, float | int) and self.weight_decay >= 0):
            raise param_error("PartialFineTune", "weight_decay", "a float >= 0", self.weight_decay)

    @property
    def cache_(self) -> ActivationCache:
        """The activation cache of an in-memory dataset."""
        if getattr(self, "_cache", None) is None:
            self._cache = ActivationCache(
                self.dataset,
                backbone=self.backbone,
                input_size=self.input_size,
                tune_blocks=self.tune_blocks,
                device=self.device,
                progress=self.progress,
            )
        return self._cache

    def precompute(self) -> bool:
        """Cache the trunk's activations of every item: the clean view, and for an in-memory
        dataset each augmented one (files get theirs when they are trained on)."""
        for v in range(1 if isinstance(self.dataset, FileDataset) else self.views + 1):
            trunk_view(self, v)
        return True

    def file_failures(self) -> dict[int, str]:
        """Items of a file dataset whose file could not be decoded, with the error."""
        return file_failures(self)

    def _new_model(self, n_outputs: int, gen: torch.Generator) -> None:
        self.model_ = get_backbone(self.backbone, n_outputs, weights="DEFAULT", input_size=self.input_size)
        init_linear(self.model_.head, gen)
        self.trunk_, self.tail_ = split_backbone(self.model_, self.tune_blocks)

    def _logits(self, acts: torch.Tensor) -> torch.Tensor:
        return self.model_.head(self.tail_(acts))

    def fit(self, ids, labels):
        """Train the tail and head on the items ``ids`` with ``labels``; returns ``self``."""
        self._check_params()
        ids, labels = check_fit_input(
            "PartialFineTune.fit", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(derive_seed(rng))
        n_outputs = self._outputs_for(labels)
        order_ids = np.sort(np.unique(ids))
        views = [trunk_view(self, v, order_ids) for v in range(self.views + 1)]
        if not (self.warm_start and hasattr(self, "model_") and self.n_outputs_ == n_outputs):
            self._new_model(n_outputs, gen)
        self.n_outputs_ = n_outputs
        train_tail(
            self,
            self.tail_,
            self.model_.head,
            views,
            ids,
            labels,
            gen,
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            desc=f"tuning the last {self.tune_blocks} blocks",
        )
        return self

    @torch.inference_mode()
    def _forward(self, ids, what: str, block: int = 2048) -> np.ndarray:
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        clean = trunk_view(self, 0)
        width = self.model_.feature_dim if what == "embed" else self.n_classes
        out = np.empty((len(ids), width), dtype=np.float32 if what == "embed" else np.float64)
        # Blocks of the memory-mapped clean view: a large pool is never read all at once.
        for start in range(0, len(ids), block):
            part = ids[start : start + block]
            x = torch.from_numpy(np.asarray(clean[part], dtype=np.float32)).to(self.device_)
            x = x.contiguous(memory_format=torch.channels_last)
            feats = self.tail_(x)
            out[start : start + len(part)] = (
                feats.cpu().numpy() if what == "embed" else self._real_softmax(self.model_.head(feats))
            )
        return out

    def predict_proba(self, ids) -> np.ndarray:
        """Softmax over every class for the items ``ids``; shape (len(ids), n_classes)."""
        return self._forward(ids, "proba")

    def embed(self, ids) -> np.ndarray:
        """Penultimate features (the tuned tail's) of the items ``ids``."""
        return self._forward(ids, "embed")

    @torch.inference_mode()
    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Softmax for new images (NHWC uint8) that are in no dataset: trunk, tail, head."""
        self._check_fitted()
        out = []
        for start in range(0, len(images), 256):
            x = self.model_.preprocess(torch.from_numpy(images[start : start + 256])).to(self.device_)
            # Through float16 like the cached activations: the same file gets the same probabilities.
            acts = self.trunk_.to(self.device_).eval()(x).half().float()
            out.append(self._real_softmax(self._logits(acts)))
        return np.concatenate(out) if out else np.empty((0, self.n_classes))

    def save(self, path) -> None:
        """Write the trained tail and head (and their settings) to ``path``, atomically."""
        self._check_fitted()
        save_state(
            path,
            {
                "kind": "partial",
                "backbone": self.backbone,
                "input_size": self.input_size,
                "tune_blocks": self.tune_blocks,
                "n_classes": self.n_classes,
                "n_outputs": self.n_outputs_,
                "tail": self.tail_.state_dict(),
                "head": self.model_.head.state_dict(),
            },
        )

    def load(self, path):
        """Restore a model written by :meth:`save`; returns ``self``."""
        saved = load_state(path, self, kind="partial")
        if saved.get("tune_blocks") != self.tune_blocks:
            raise param_error(
                "PartialFineTune.load", "path", f"a model with tune_blocks={self.tune_blocks}", saved.get("tune_blocks")
            )
        self.n_outputs_ = int(saved["n_outputs"])
        self._new_model(self.n_outputs_, torch.Generator().manual_seed(0))
        self.tail_.load_state_dict(saved["tail"])
        self.model_.head.load_state_dict(saved["head"])
        self.device_ = choose_device(self.device)
        self.model_.to(self.device_).eval()
        self.tail_.to(memory_format=torch.channels_last)
        return self
