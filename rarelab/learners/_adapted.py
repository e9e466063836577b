"""``AdaptedProbe``: a linear head on adapted features, the tail re-adapted as rare labels grow.

Frozen ImageNet features give the rare class's weight vector only ImageNet directions to
point at; tuning the backbone's last blocks every round (:class:`PartialFineTune`) adapts
them but costs minutes a round on a CPU. The middle way keeps rounds at seconds:

* the trunk's activations are stored once per file (:class:`~rarelab.features.FeatureStore`
  with ``tune_blocks``: chunked, resumable, incremental, Ray), with augmented views for the
  items the tail trains on only;
* the *tail* (last ``tune_blocks`` blocks and the head convolution) is trained with plain
  cross-entropy on a class-capped sample of the training set, and then embeds every item
  once: the adapted features;
* every round trains a linear head on the adapted features (the paper's Eq. 1), and the
  tail is trained again only when some class's examples in that sample have grown by
  ``adapt_growth`` since (early rounds, as the rare classes fill up).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..features import DEFAULT_INPUT_SIZE, FileFeatures, get_backbone, split_backbone
from ..utils import atomic_path, check_int, check_random_state, choose_device, derive_seed, param_error, progress_bar
from ._base import Learner, check_fit_input, init_linear, load_state, save_state
from ._trunk import file_failures, module_digest, save_float16, train_tail, trunk_view

_STATE = "adapted"  # folder in the run directory: the current tail and its features


class AdaptedProbe(Learner):
    """A linear head on features adapted by tuning the backbone's last blocks; the CPU default
    of ``rarelab search``.

    Parameters
    ----------
    dataset : ArrayDataset or FileDataset
    backbone : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet18"}
    input_size : int, optional
        Side images are resized to before the backbone; its default otherwise.
    tune_blocks : int
        Blocks the tail holds, counted from the end (4 = EfficientNet-Lite0's last stage and
        the end of the one before: a tail pass over a 50,000-item pool takes about 20 s on
        2 cores, its training about 2 ms per image).
    views : int
        Augmented views (shift, brightness) per training item besides the clean image.
    adapt_epochs : int
        Epochs of each tail training (AdamW, one-cycle schedule peaking at ``adapt_lr``).
    adapt_per_class : int
        Items per class the tail trains on (all of a class with fewer, e.g. a rare class):
        what keeps its training at tens of seconds on a seed set of any size.
    adapt_growth : float
        Train the tail again once some class has this many times the items it had in the
        tail's last training (> 1); until then only the head is retrained.
    epochs, lr, batch_size, weight_decay : the head's training (Adam), as :class:`LinearProbe`.
    device, random_state, callbacks, progress : as :class:`LinearProbe`.
    files : FileFeatures, optional
        For a dataset of files: the feature store and engine. With its ``index_dir`` (a run
        directory) the tail and the adapted features are kept in ``index_dir/adapted/``, so
        the next process (the next CLI command) continues from them.

    Attributes
    ----------
    adapted_counts_ : ndarray of int, shape (n_outputs,)
        Items per class in the tail's last training.
    adaptations_ : int
        Tail trainings by this object (0 when the tail came from disk).
    """

    def __init__(
        self,
        *,
        dataset,
        backbone: str = "efficientnet_lite0",
        input_size: int | None = None,
        tune_blocks: int = 4,
        views: int = 1,
        adapt_epochs: int = 4,
        adapt_per_class: int = 100,
        adapt_growth: float = 2.0,
        adapt_lr: float = 1e-3,
        epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        weight_decay: float = 0.0,
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
        self.adapt_epochs = adapt_epochs
        self.adapt_per_class = adapt_per_class
        self.adapt_growth = adapt_growth
        self.adapt_lr = adapt_lr
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks
        self.progress = progress
        self.files = files

    # -- checks and sources ----------------------------------------------------------------
    def _check_params(self):
        self._check_common()
        owner = "AdaptedProbe"
        if self.backbone == "small_cnn":
            raise param_error(owner, "backbone", "a pretrained backbone", "small_cnn", "Use FineTune for small_cnn.")
        check_int(owner, "views", self.views, low=0, high=32)
        check_int(owner, "adapt_epochs", self.adapt_epochs, low=1)
        check_int(owner, "adapt_per_class", self.adapt_per_class, low=1)
        if not (isinstance(self.adapt_growth, float | int) and self.adapt_growth > 1):
            raise param_error(owner, "adapt_growth", "a number > 1", self.adapt_growth)

    def input_side(self) -> int:
        """Side of the images :meth:`predict_proba_images` expects: the backbone's input."""
        return self.input_size or DEFAULT_INPUT_SIZE[self.backbone]

    @property
    def state_dir(self) -> Path | None:
        """Where the tail and adapted features are kept between processes (or None)."""
        index_dir = getattr(self.files, "index_dir", None)
        return None if index_dir is None else Path(index_dir) / _STATE

    def _trunk(self, view: int, ids=None):
        return trunk_view(self, view, ids)

    def precompute(self) -> bool:
        """Extract (or find stored) the trunk activations of every item's clean image."""
        self._check_params()
        self._trunk(0)
        return True

    def file_failures(self) -> dict[int, str]:
        """Items of a file dataset whose file could not be decoded, with the error."""
        return file_failures(self)

    # -- the tail --------------------------------------------------------------------------
    def _adapt_sample(self, ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Positions in ``ids`` the tail trains on: per class the ``adapt_per_class`` items with
        the lowest priority, a draw per item from ``random_state`` that stays the same as the
        training set grows (so stored views are reused round after round)."""
        seed = derive_seed(check_random_state(self.random_state))
        priority = np.random.default_rng(seed).random(int(ids.max()) + 1)[ids]
        keep = []
        for c in np.unique(labels):
            at = np.flatnonzero(labels == c)
            keep.append(at[np.argsort(priority[at], kind="stable")[: self.adapt_per_class]])
        return np.sort(np.concatenate(keep))

    def needs_adapting(self, ids, labels) -> bool:
        """Whether :meth:`fit` on ``(ids, labels)`` would train the tail again."""
        ids, labels = np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)
        if not hasattr(self, "tail_"):
            self._load_tail()
        if not hasattr(self, "tail_"):
            return True
        counts = np.bincount(labels[self._adapt_sample(ids, labels)], minlength=self._outputs_for(labels))
        then = self.adapted_counts_
        if len(counts) != len(then):
            return True
        return bool(np.any(counts >= self.adapt_growth * np.maximum(then, 1)))

    def adapt(self, ids, labels):
        """Train the tail on a class-capped sample of ``(ids, labels)`` and embed every item
        with it; returns ``self``. :meth:`fit` calls it when :meth:`needs_adapting`."""
        self._check_params()
        ids, labels = check_fit_input(
            "AdaptedProbe.adapt", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        gen = torch.Generator().manual_seed(derive_seed(check_random_state(self.random_state)) + 1)
        sample = self._adapt_sample(ids, labels)
        s_ids, s_labels = ids[sample], labels[sample]
        n_outputs = self._outputs_for(labels)
        model = get_backbone(self.backbone, n_outputs, weights="DEFAULT", input_size=self.input_size)
        init_linear(model.head, gen)
        _, tail = split_backbone(model, self.tune_blocks)
        order = np.sort(np.unique(s_ids))
        views = [self._trunk(v, order) for v in range(self.views + 1)]
        train_tail(
            self,
            tail,
            model.head,
            views,
            s_ids,
            s_labels,
            gen,
            epochs=self.adapt_epochs,
            lr=self.adapt_lr,
            weight_decay=0.0,
            desc=f"adapting the last {self.tune_blocks} blocks",
        )
        self.tail_ = tail
        self.adapted_counts_ = np.bincount(s_labels, minlength=n_outputs)
        self.adaptations_ = getattr(self, "adaptations_", 0) + 1
        self.digest_ = module_digest(self.tail_)
        self._save_tail()
        self._features()  # every item through the new tail, now rather than at the first scoring
        return self

    def _save_tail(self) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        save_state(self.state_dir / "tail.pt", self._tail_state())

    def _tail_state(self) -> dict:
        return {
            "tune_blocks": self.tune_blocks,
            "input_size": self.input_size,
            "counts": torch.from_numpy(np.asarray(self.adapted_counts_, dtype=np.int64)),
            "digest": self.digest_,
            "tail": self.tail_.state_dict(),
        }

    def _set_tail(self, saved: dict) -> None:
        model = get_backbone(self.backbone, 1, weights="DEFAULT", input_size=self.input_size)
        _, tail = split_backbone(model, self.tune_blocks)
        tail.load_state_dict(saved["tail"])
        self.tail_ = tail.to(choose_device(self.device), memory_format=torch.channels_last).eval()
        self.adapted_counts_ = np.asarray(saved["counts"], dtype=np.int64)
        self.digest_ = saved["digest"]

    def _load_tail(self) -> None:
        path = None if self.state_dir is None else self.state_dir / "tail.pt"
        if path is None or not path.exists():
            return
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
            return  # derived state, not a person's work: an unreadable tail is trained again
        if saved.get("tune_blocks") == self.tune_blocks and saved.get("input_size") == self.input_size:
            self._set_tail(saved)

    # -- adapted features ------------------------------------------------------------------
    @torch.inference_mode()
    def _embed_rows(self, ids: np.ndarray, block: int = 2048) -> np.ndarray:
        clean = self._trunk(0)
        dev = next(self.tail_.parameters()).device
        out = np.empty((len(ids), self.feature_dim), dtype=np.float16)
        bar = progress_bar(total=len(ids), desc="adapted features", unit="img", disable=not self.progress)
        for start in range(0, len(ids), block):
            part = ids[start : start + block]
            x = torch.from_numpy(np.asarray(clean[part], dtype=np.float32)).to(dev)
            # Batches of 128: on a CPU the tail runs 2-3x faster per image than at 2,048 (cache).
            for b in range(0, len(part), 128):
                xb = x[b : b + 128].contiguous(memory_format=torch.channels_last)
                out[start + b : start + b + len(xb)] = self.tail_(xb).cpu().numpy()
            bar.update(len(part))
        bar.close()
        return out

    @property
    def feature_dim(self) -> int:
        return get_backbone(self.backbone, 1, weights=None, input_size=self.input_size).feature_dim

    def _features(self) -> np.ndarray:
        """Adapted features of every item (n, d) float16, for the current tail; computed once
        per tail (kept in ``state_dir`` when there is one), rows of added items computed alone."""
        n = len(self.dataset)
        have = getattr(self, "features_", None)
        if have is not None and self._features_digest == self.digest_ and len(have) == n:
            return have
        path = None if self.state_dir is None else self.state_dir / f"features-{self.digest_}.npy"
        feats = np.load(path, mmap_mode="r") if path is not None and path.exists() else np.empty((0, 0), np.float16)
        if len(feats) < n:
            extra = self._embed_rows(np.arange(len(feats), n))
            feats = np.concatenate([np.asarray(feats).reshape(-1, extra.shape[1]), extra])
            if path is not None:
                for old in self.state_dir.glob("features-*.npy"):
                    old.unlink()  # one tail's features at a time: a pool of millions is gigabytes
                atomic_path(path, lambda tmp: save_float16(tmp, feats))
        self.features_, self._features_digest = feats, self.digest_
        return feats

    # -- the learner contract --------------------------------------------------------------
    def fit(self, ids, labels):
        """Train the head on the adapted features of ``ids``; the tail first when
        :meth:`needs_adapting`. Returns ``self``."""
        self._check_params()
        ids, labels = check_fit_input(
            "AdaptedProbe.fit", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        if self.needs_adapting(ids, labels):
            self.adapt(ids, labels)
        gen = torch.Generator().manual_seed(derive_seed(check_random_state(self.random_state)))
        feats = self._features()
        self.device_ = dev = choose_device(self.device)
        self.n_outputs_ = self._outputs_for(labels)
        self.model_ = nn.Linear(feats.shape[1], self.n_outputs_)
        init_linear(self.model_, gen)
        x_all = torch.from_numpy(np.asarray(feats[ids], dtype=np.float32)).to(dev)
        self._fit_head(self.model_, x_all, torch.from_numpy(labels).to(dev), gen)
        return self

    @torch.inference_mode()
    def predict_proba(self, ids) -> np.ndarray:
        """Softmax over every class for the items ``ids``; shape (len(ids), n_classes)."""
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        feats = self._features()
        out = np.empty((len(ids), self.n_classes))
        for start in range(0, len(ids), 65536):
            part = ids[start : start + 65536]
            x = torch.from_numpy(np.asarray(feats[part], dtype=np.float32)).to(self.device_)
            out[start : start + len(part)] = self._real_softmax(self.model_(x))
        return out

    def embed(self, ids) -> np.ndarray:
        """Adapted features of the items ``ids``; shape (len(ids), d), float32."""
        self._check_fitted()
        return np.asarray(self._features()[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    @torch.inference_mode()
    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Softmax for new images (NHWC uint8) in no dataset: trunk, tail, head."""
        self._check_fitted()
        if not hasattr(self, "_full"):
            model = get_backbone(self.backbone, 1, weights="DEFAULT", input_size=self.input_size)
            self._full = (model.preprocess, split_backbone(model, self.tune_blocks)[0].to(self.device_).eval())
        preprocess, trunk = self._full
        out = []
        for start in range(0, len(images), 256):
            x = preprocess(torch.from_numpy(images[start : start + 256])).to(self.device_)
            acts = trunk(x).half().float()  # through float16, as stored: a file gets the same probabilities
            feats = self.tail_(acts.contiguous(memory_format=torch.channels_last)).half().float()
            out.append(self._real_softmax(self.model_(feats)))
        return np.concatenate(out) if out else np.empty((0, self.n_classes))

    def save(self, path) -> None:
        """Write the tail and head (and their settings) to ``path``, atomically."""
        self._check_fitted()
        save_state(
            path,
            {
                "kind": "adapted",
                "backbone": self.backbone,
                "n_classes": self.n_classes,
                "n_outputs": self.n_outputs_,
                "head": self.model_.state_dict(),
                **self._tail_state(),
            },
        )

    def load(self, path):
        """Restore a model written by :meth:`save`; returns ``self``."""
        saved = load_state(path, self, kind="adapted")
        if saved.get("tune_blocks") != self.tune_blocks:
            raise param_error(
                "AdaptedProbe.load", "path", f"a model with tune_blocks={self.tune_blocks}", saved.get("tune_blocks")
            )
        self._set_tail(saved)
        self.n_outputs_ = int(saved["n_outputs"])
        self.device_ = choose_device(self.device)
        self.model_ = nn.Linear(saved["head"]["weight"].shape[1], self.n_outputs_)
        self.model_.load_state_dict(saved["head"])
        self.model_.to(self.device_).eval()
        return self
