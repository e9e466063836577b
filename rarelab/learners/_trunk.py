"""Where learners that train a backbone's tail read the trunk's activations from.

A dataset of files reads them from the :class:`~rarelab.features.FeatureStore` (per file,
chunked, resumable, incremental, either engine); an in-memory dataset from its
:class:`~rarelab.features.ActivationCache`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from ..data import FileDataset
from ..features import ActivationCache, FileFeatures
from ..utils import choose_device
from ._base import train_epochs


def trunk_view(learner, view: int, ids=None):
    """Trunk activations of augmented view ``view`` (0: clean) of ``learner.dataset``, as a
    (n, C, H, W) array-like indexed by item ids. For files, the items ``ids`` are extracted
    first (every item when None); ``learner`` reads ``backbone``, ``input_size``,
    ``tune_blocks``, ``device``, ``progress`` and ``files``."""
    if isinstance(learner.dataset, FileDataset):
        learner.files = learner.files or FileFeatures()
        src = learner.files.source(
            learner.dataset,
            backbone=learner.backbone,
            input_size=learner.input_size,
            tune_blocks=learner.tune_blocks,
            view=view,
            ids=ids,
            device=learner.device,
            progress=learner.progress,
        )
        return StoreRows(src, src.store.shape)
    if getattr(learner, "_cache", None) is None:
        learner._cache = ActivationCache(
            learner.dataset,
            backbone=learner.backbone,
            input_size=learner.input_size,
            tune_blocks=learner.tune_blocks,
            device=learner.device,
            progress=learner.progress,
        )
    return learner._cache.view(view)


def file_failures(learner) -> dict[int, str]:
    """Items of a file dataset whose file could not be decoded, with the error ({} for arrays)."""
    if not isinstance(learner.dataset, FileDataset):
        return {}
    trunk_view(learner, 0)
    return learner.files.failed_items(
        learner.dataset, backbone=learner.backbone, input_size=learner.input_size, tune_blocks=learner.tune_blocks
    )


class StoreRows:
    """A feature store's flat rows, indexed by item id as (n, C, H, W); files that could not
    be decoded read as zeros (they are in no split: nothing trains on or scores them)."""

    def __init__(self, src, shape):
        self.src, self.shape = src, shape

    def __len__(self) -> int:
        return len(self.src.chunk)

    def __getitem__(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        ok = self.src.chunk[ids] >= 0
        out = np.zeros((len(ids), int(np.prod(self.shape))), dtype=np.float32)
        out[ok] = self.src.take(ids[ok])
        return out.reshape(-1, *self.shape)


def module_digest(module: nn.Module) -> str:
    """A short hash of a module's weights: names what features it computed."""
    h = hashlib.sha1()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_float16(path, rows: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(rows, dtype=np.float16))


def train_tail(learner, tail, head, views, ids, labels, gen, *, epochs: int, lr: float, weight_decay: float, desc: str):
    """Train ``tail`` and ``head`` with plain cross-entropy on the trunk activations of ``ids``
    (``views``: one array-like per view, see :func:`trunk_view`), one random view per item and
    epoch; AdamW with a one-cycle schedule peaking at ``lr``. Sets ``learner.device_`` and
    ``learner.loss_history_``; leaves both modules in eval mode."""
    learner.device_ = dev = choose_device(learner.device)
    # channels_last: depthwise convolutions run about 1.7x faster in it, on CPUs too.
    tail.to(dev, memory_format=torch.channels_last).train()
    head.to(dev).train()
    # The training set is small next to the pool: its activations (every view) fit in memory.
    order = np.sort(np.unique(ids))
    local = torch.from_numpy(np.searchsorted(order, ids))
    acts = torch.from_numpy(np.stack([np.asarray(v[order]) for v in views]))
    y_all = torch.from_numpy(labels)
    opt = torch.optim.AdamW([*tail.parameters(), *head.parameters()], lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(ids) // learner.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    view_of = torch.empty(0, dtype=torch.long)

    def draw_views(_epoch):  # after each epoch's permutation, from the same generator
        nonlocal view_of
        view_of = torch.randint(0, len(views), (len(ids),), generator=gen)

    def loss_of(b):
        x = acts[view_of[b], local[b]].float().to(dev).contiguous(memory_format=torch.channels_last)
        return nn.functional.cross_entropy(head(tail(x)), y_all[b].to(dev))

    learner.loss_history_ = train_epochs(
        len(ids),
        loss_of,
        opt,
        gen,
        epochs=epochs,
        batch_size=learner.batch_size,
        callbacks=learner.callbacks,
        desc=desc,
        progress=learner.progress,
        scheduler=sched,
        before_epoch=draw_views,
        epoch_lines=True,
    )
    tail.eval()
    head.eval()
