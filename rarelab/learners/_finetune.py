"""``FineTune``: the whole network trained end to end (the paper's Sec. III-B; the GPU path)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from ..features import embed_images, get_backbone
from ..utils import check_int, check_random_state, choose_device, derive_seed
from ._base import EpochCallback, Learner, check_fit_input, init_linear, load_state, save_state


class FineTune(Learner):
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
        ids, labels = check_fit_input(
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
                self.model_ = get_backbone(self.backbone, n_outputs, weights=weights, input_size=self.input_size)
            init_linear(self.model_.head, gen)
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

        def loss_of(b):
            x = model.preprocess(self._random_crop(images[b], gen).to(dev, non_blocking=True))
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext():
                return nn.functional.cross_entropy(model(x), y_all[b].to(dev))

        self._train_epochs(
            len(ids), loss_of, opt, gen, desc=f"fine-tuning {self.backbone}", scaler=scaler, epoch_lines=True
        )
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
        save_state(
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
        saved = load_state(path, self, kind="finetune")
        self.n_outputs_ = int(saved.get("n_outputs", self.n_classes))
        self.model_ = get_backbone(self.backbone, self.n_outputs_, weights=None, input_size=self.input_size)
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
