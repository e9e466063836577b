"""The trunk's activations of every image, cached once: what partial fine-tuning trains on.

Augmentation survives the cache as a few randomly shifted and brightened *views* of every
image, computed once; each epoch draws one view per training item.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import DECODER_VERSION
from ..utils import cache_dir, choose_device, dataset_key, exclusive, write_atomic
from ._backbones import DEFAULT_INPUT_SIZE, get_backbone
from ._surgery import split_backbone


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
        key = f"{fingerprint}-{backbone}-{self.input_size}px-tune{tune_blocks}-block{block}-decode{DECODER_VERSION}"
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
            model = get_backbone(self.backbone, 1, weights="DEFAULT", input_size=self.input_size)
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
