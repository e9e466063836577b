"""Frozen-backbone features, computed once per dataset and cached on disk.

On a CPU, fine-tuning an ImageNet backbone is hours per round; extracting its features
once and retraining a linear head per round takes seconds. The cache key is the
dataset's fingerprint, the backbone and the input size.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from tqdm.auto import tqdm

from ..utils import cache_dir, choose_device, dataset_key, save_npz_atomic
from ._backbones import DEFAULT_INPUT_SIZE, Classifier, get_backbone


@torch.inference_mode()
def embed_images(
    model: Classifier,
    images: np.ndarray,
    *,
    batch_size: int = 256,
    device=None,
    progress: bool = True,
    desc: str = "extracting features",
) -> np.ndarray:
    """Penultimate features of ``images`` (NHWC uint8), in batches; returns float32 (n, d)."""
    dev = choose_device(device)
    model = model.to(dev).eval()
    cuda = dev.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    out = np.empty((len(images), model.feature_dim), dtype=np.float32)
    for start in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress, mininterval=1.0):
        x = torch.from_numpy(images[start : start + batch_size]).to(dev, non_blocking=True)
        x = model.preprocess(x)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
        with ctx:
            out[start : start + len(x)] = model.embed(x).float().cpu().numpy()
    return out


def cached_features(
    dataset,
    *,
    backbone: str = "efficientnet_lite0",
    input_size: int | None = None,
    device=None,
    progress: bool = True,
    cache: bool = True,
) -> np.ndarray:
    """Frozen ImageNet features of every item of ``dataset``; read from the cache when present.

    A dataset that ``extends`` another (templates appended for a synthetic start) reads
    the other's cached features for its first items and embeds only the appended ones.
    """
    size = input_size or DEFAULT_INPUT_SIZE.get(backbone, 0)
    fingerprint, n_cached = dataset_key(dataset)
    path = cache_dir("features") / f"{fingerprint}-{backbone}-{size}px.npz"
    model = None
    if cache and path.exists():  # no model to build: the weights are only loaded on a miss
        with np.load(path) as f:
            feats = f["features"]
    else:
        model = get_backbone(backbone, len(dataset.classes), weights="DEFAULT", input_size=input_size)
        feats = embed_images(
            model,
            dataset.images[:n_cached],
            device=device,
            progress=progress,
            desc=f"{backbone} features at {model.input_size}px",
        ).astype(np.float16)
        if cache:
            save_npz_atomic(path, features=feats)
    if n_cached < len(dataset):
        model = model or get_backbone(backbone, len(dataset.classes), weights="DEFAULT", input_size=input_size)
        extra = embed_images(model, dataset.images[n_cached:], device=device, progress=False)
        feats = np.concatenate([feats, extra.astype(np.float16)])
    return feats.astype(np.float32)  # through float16 either way: the same values cached or not
