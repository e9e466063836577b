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

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._atomic import write_atomic
from ._cache import cache_dir, dataset_key
from ._locks import exclusive
from ._progress import interactive
from ._validation import check_int, check_random_state, derive_seed, param_error
from .devices import choose_device
from .models import DEFAULT_INPUT_SIZE, Classifier, build_model
from .training import _Base, _check_fit_input, _init_linear, _load_state, _save_state

# --------------------------------------------------------------------------------------
# Splitting a backbone into a frozen trunk and a trainable tail


class _LiteTrunk(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[:cut])

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x


class _LiteTail(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[cut:])
        self.head_conv = nn.Sequential(net._conv_head, net._bn1, net._swish)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.head_conv(x), 1), 1)


def _resnet_blocks(net) -> list[nn.Module]:
    return [b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer]


class _ResNetTrunk(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.blocks = nn.Sequential(*_resnet_blocks(net)[:cut])

    def forward(self, x):
        return self.blocks(self.stem(x))


class _ResNetTail(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.blocks = nn.Sequential(*_resnet_blocks(net)[cut:])

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(x), 1), 1)


def _blocks_of(model: Classifier) -> list[nn.Module]:
    if model.name.startswith("efficientnet_lite"):
        return list(model.features.net._blocks)
    if model.name == "resnet18":
        return _resnet_blocks(model.features)
    raise param_error(
        "split_backbone",
        "backbone",
        "a pretrained backbone (EfficientNet-Lite or ResNet18)",
        model.name,
        "small_cnn has no pretrained trunk to cache: train it with FineTune.",
    )


def split_backbone(model: Classifier, tune_blocks: int) -> tuple[nn.Module, nn.Module]:
    """``(trunk, tail)`` of ``model``: ``tail(trunk(x)) == model.embed(x)``.

    The tail holds the last ``tune_blocks`` blocks and whatever follows them up to the
    pooled penultimate features; both share ``model``'s parameters.
    """
    total = len(_blocks_of(model))
    tune_blocks = check_int("split_backbone", "tune_blocks", tune_blocks, low=1, high=total)
    cut = total - tune_blocks
    if model.name == "resnet18":
        return _ResNetTrunk(model.features, cut), _ResNetTail(model.features, cut)
    return _LiteTrunk(model.features.net, cut), _LiteTail(model.features.net, cut)


# --------------------------------------------------------------------------------------
# Augmented views, computed once


def augment_view(
    images: np.ndarray, gen: torch.Generator, *, shift: float = 0.1, brightness: float = 0.2
) -> np.ndarray:
    """A random view of each NHWC uint8 image: a shift of up to ``shift`` of its side
    (replicated border) and a brightness/contrast change of up to ``brightness``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    n, _, h, w = x.shape
    if n == 0:
        return images.copy()
    pad = max(1, round(shift * h))
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    rows = off[:, 0, None] + torch.arange(h)
    cols = off[:, 1, None] + torch.arange(w)
    idx = torch.arange(n)[:, None, None, None]
    out = padded[idx, torch.arange(3)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
    gain = 1 + brightness * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    contrast = 1 + brightness * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean) * gain
    return out.round().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# --------------------------------------------------------------------------------------
# The activation cache


class _StackedRows:
    """A memory-mapped array followed by a few rows in memory, indexed like one array."""

    def __init__(self, cached: np.ndarray, extra: np.ndarray):
        self.cached, self.extra = cached, extra
        self.shape = (len(cached) + len(extra), *cached.shape[1:])
        self.dtype = cached.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), *self.shape[1:]), self.dtype)
        inside = ids < len(self.cached)
        out[inside] = self.cached[ids[inside]]
        out[~inside] = self.extra[ids[~inside] - len(self.cached)]
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype)


class ActivationCache:
    """The trunk's activations of every item of ``dataset``: view 0 is the clean image,
    view ``v > 0`` an augmented copy (:func:`augment_view`, drawn from ``v`` and the block).

    One ``float16`` ``.npy`` per view under ``$RARELAB_CACHE_DIR/activations``, read through
    a memory map. Filling is resumable: rows are written in blocks and a progress file
    records the blocks that reached the disk, so a killed extraction redoes at most one.
    Processes that open one cache together take turns filling it (a file lock). A dataset
    that ``extends`` another (templates appended for a synthetic start) shares the other's
    cache; its appended items are computed in memory.
    """

    def __init__(
        self,
        dataset,
        *,
        backbone: str,
        input_size: int | None,
        tune_blocks: int,
        block: int = 1024,
        device=None,
        progress: bool = True,
        root=None,
    ):
        self.dataset = dataset
        self.backbone = backbone
        self.input_size = input_size or DEFAULT_INPUT_SIZE[backbone]
        self.tune_blocks = tune_blocks
        self.block = block
        self.device = device
        self.progress = progress
        fingerprint, self.n_cached = dataset_key(dataset)
        # The views are drawn block by block: the block size is part of what they are.
        key = f"{fingerprint}-{backbone}-{self.input_size}px-tune{tune_blocks}-block{block}"
        self.dir = Path(root) if root is not None else cache_dir("activations", key)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._maps: dict[int, np.ndarray] = {}

    def view(self, v: int) -> np.ndarray:
        """Activations of view ``v`` for every item, shape (n, C, H, W), memory-mapped."""
        if v not in self._maps:
            self._fill(v)
            rows = np.load(self.dir / f"view{v}.npy", mmap_mode="r")
            if self.n_cached < len(self.dataset):
                ids = np.arange(self.n_cached, len(self.dataset))
                rows = _StackedRows(rows, self._activations(ids, v, seed_offset=self.n_cached))
            self._maps[v] = rows
        return self._maps[v]

    def _trunk(self):
        if not hasattr(self, "_trunk_"):
            model = build_model(self.backbone, 1, weights="DEFAULT", input_size=self.input_size)
            trunk, _ = split_backbone(model, self.tune_blocks)
            self._trunk_ = (model.preprocess, trunk.to(choose_device(self.device)).eval())
        return self._trunk_

    @torch.inference_mode()
    def _activations(self, ids: np.ndarray, v: int, seed_offset: int) -> np.ndarray:
        preprocess, trunk = self._trunk()
        images = self.dataset.load_images(ids, self.dataset.image_size)
        if v > 0:  # the view depends on the item's block and the view index only
            images = augment_view(images, torch.Generator().manual_seed(v * 1_000_003 + seed_offset))
        dev = next(trunk.parameters()).device
        return trunk(preprocess(torch.from_numpy(images)).to(dev)).half().cpu().numpy()

    def _fill(self, v: int) -> None:
        path, done_path = self.dir / f"view{v}.npy", self.dir / f"view{v}.progress.json"
        if path.exists() and not done_path.exists():
            return  # complete
        # Two kernels on one dataset take turns; the second finds the view complete.
        with exclusive(self.dir / f"view{v}.lock"):
            if not (path.exists() and not done_path.exists()):
                self._fill_locked(v, path, done_path)

    def _fill_locked(self, v: int, path: Path, done_path: Path) -> None:
        n = self.n_cached
        preprocess, trunk = self._trunk()
        with torch.inference_mode():
            probe = trunk(preprocess(torch.zeros(1, 8, 8, 3, dtype=torch.uint8)).to(next(trunk.parameters()).device))
        shape = (n, *probe.shape[1:])
        done = 0
        if done_path.exists() and path.exists():
            try:
                state = json.loads(done_path.read_text())
                done = int(state["rows"]) if tuple(state["shape"]) == shape else 0
            except (ValueError, KeyError, TypeError):
                done = 0  # an unreadable progress file: start this view again
        if done == 0:
            # The progress file first: a file of zeros without it would read as complete.
            write_atomic(done_path, json.dumps({"rows": 0, "shape": list(shape)}))
            np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape).flush()
        out = np.lib.format.open_memmap(path, mode="r+")
        what = "clean" if v == 0 else f"view {v}"
        bar = tqdm(
            total=n,
            initial=done,
            desc=f"{self.backbone} trunk activations ({what})",
            unit="img",
            disable=not self.progress,
            mininterval=1.0,
        )
        for start in range(done, n, self.block):
            ids = np.arange(start, min(start + self.block, n))
            out[ids] = self._activations(ids, v, seed_offset=start)
            out.flush()
            write_atomic(done_path, json.dumps({"rows": int(ids[-1] + 1), "shape": list(shape)}), fsync=False)
            bar.update(len(ids))
        bar.close()
        del out
        done_path.unlink()


# --------------------------------------------------------------------------------------
# The learner


class PartialFineTune(_Base):
    """The last ``tune_blocks`` blocks of an ImageNet backbone plus a linear head, trained
    with plain cross-entropy on cached trunk activations; the CPU way to adapt features.

    The activations live in an ``ActivationCache`` (``cache_``); ``split_backbone``
    and ``augment_view`` in :mod:`rarelab.partial_tuning` are the pieces it is made of.

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
    device, random_state, callbacks, progress : as :class:`~rarelab.training.LinearProbe`.
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

    def _check_params(self):
        self._check_common()
        check_int("PartialFineTune", "views", self.views, low=0, high=32)
        if not (isinstance(self.weight_decay, float | int) and self.weight_decay >= 0):
            raise param_error("PartialFineTune", "weight_decay", "a float >= 0", self.weight_decay)

    @property
    def cache_(self) -> ActivationCache:
        if not hasattr(self, "_cache"):
            self._cache = ActivationCache(
                self.dataset,
                backbone=self.backbone,
                input_size=self.input_size,
                tune_blocks=self.tune_blocks,
                device=self.device,
                progress=self.progress,
            )
        return self._cache

    def _new_model(self, n_outputs: int, gen: torch.Generator) -> None:
        self.model_ = build_model(self.backbone, n_outputs, weights="DEFAULT", input_size=self.input_size)
        _init_linear(self.model_.head, gen)
        self.trunk_, self.tail_ = split_backbone(self.model_, self.tune_blocks)

    def _logits(self, acts: torch.Tensor) -> torch.Tensor:
        return self.model_.head(self.tail_(acts))

    def fit(self, ids, labels):
        """Train the tail and head on the items ``ids`` with ``labels``; returns ``self``."""
        self._check_params()
        ids, labels = _check_fit_input(
            "PartialFineTune.fit", ids, labels, len(self.dataset), self.n_classes, n_aux=self.max_aux
        )
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(derive_seed(rng))
        n_outputs = self._outputs_for(labels)
        views = [self.cache_.view(v) for v in range(self.views + 1)]
        if not (self.warm_start and hasattr(self, "model_") and self.n_outputs_ == n_outputs):
            self._new_model(n_outputs, gen)
        self.n_outputs_ = n_outputs
        self.device_ = dev = choose_device(self.device)
        # channels_last: depthwise convolutions run about 1.7x faster in it, on CPUs too.
        self.tail_.to(dev, memory_format=torch.channels_last).train()
        head = self.model_.head.to(dev).train()
        # The training set is small next to the pool: its activations (every view) fit in memory.
        order_ids = np.sort(np.unique(ids))
        local = torch.from_numpy(np.searchsorted(order_ids, ids))
        acts = torch.from_numpy(np.stack([np.asarray(v[order_ids]) for v in views]))
        y_all = torch.from_numpy(labels)
        params = [*self.tail_.parameters(), *head.parameters()]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        steps_per_epoch = -(-len(ids) // self.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.lr, total_steps=self.epochs * steps_per_epoch, pct_start=0.15
        )
        self.loss_history_ = []
        bar = tqdm(
            total=self.epochs * len(ids),
            desc=f"tuning the last {self.tune_blocks} blocks",
            unit="img",
            disable=not (self.progress and interactive()),
            leave=False,
        )
        for epoch in range(self.epochs):
            order = torch.randperm(len(ids), generator=gen)
            view_of = torch.randint(0, len(views), (len(ids),), generator=gen)
            total = 0.0
            for start in range(0, len(ids), self.batch_size):
                b = order[start : start + self.batch_size]
                x = acts[view_of[b], local[b]].float().to(dev).contiguous(memory_format=torch.channels_last)
                loss = nn.functional.cross_entropy(self._logits(x), y_all[b].to(dev))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(b)
                bar.update(len(b))
            self.loss_history_.append(total / len(ids))
            for cb in self.callbacks or ():
                cb(epoch, self.loss_history_[-1])
        bar.close()
        self.tail_.eval()
        head.eval()
        return self

    @torch.inference_mode()
    def _forward(self, ids, what: str, block: int = 2048) -> np.ndarray:
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        clean = self.cache_.view(0)
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
        _save_state(
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
        saved = _load_state(path, self, kind="partial")
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
