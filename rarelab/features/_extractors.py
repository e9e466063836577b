"""What a feature store holds per file: a backbone's penultimate features, or its trunk's
activations (optionally of an augmented view), as one flat row.

Both extraction engines build their extractor here, so the in-process and Ray engines
compute the same rows. An augmented view of a file is drawn from the file's key and the
view index alone: a file extracted later (an incremental scan, another machine) gets the
same view as if it had been extracted with the others.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..utils import choose_device
from ._activations import augment_view
from ._backbones import get_backbone
from ._embed import embed_images
from ._surgery import split_backbone


def view_seeds(keys: Sequence, view: int) -> np.ndarray:
    """One seed per file for augmented view ``view`` (> 0): a CRC of its path, size and mtime."""
    return np.array(
        [zlib.crc32(f"{k.path}\0{k.size}\0{k.mtime_ns}\0{view}".encode("utf-8", "surrogateescape")) for k in keys],
        dtype=np.int64,
    )


def augment_each(images: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """:func:`augment_view` of each NHWC uint8 image with its own seed (order-independent)."""
    out = np.empty_like(images)
    for i, seed in enumerate(seeds):
        out[i : i + 1] = augment_view(images[i : i + 1], torch.Generator().manual_seed(int(seed)))
    return out


def build_extractor(
    *, backbone: str, weights, input_size: int, tune_blocks: int | None = None, device=None
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """``(extract, dim)``: ``extract`` maps NHWC uint8 images to float32 rows of width ``dim``.

    With ``tune_blocks`` the rows are the trunk's activations before the last ``tune_blocks``
    blocks (:func:`split_backbone`), flattened from (C, H, W); otherwise penultimate features.
    """
    model = get_backbone(backbone, 1, weights=weights, input_size=input_size)
    if tune_blocks is None:

        def extract(images: np.ndarray) -> np.ndarray:
            return embed_images(model, images, batch_size=max(1, len(images)), device=device, progress=False)

        return extract, model.feature_dim
    trunk, _ = split_backbone(model, tune_blocks)
    dev = choose_device(device)
    trunk = trunk.to(dev).eval()

    @torch.inference_mode()
    def extract_trunk(images: np.ndarray) -> np.ndarray:
        x = model.preprocess(torch.from_numpy(np.ascontiguousarray(images)).to(dev))
        return trunk(x).flatten(1).float().cpu().numpy()

    return extract_trunk, trunk_shape(backbone, input_size, tune_blocks, weights=weights)[0]


_SHAPES: dict = {}


def trunk_shape(backbone: str, input_size: int, tune_blocks: int, *, weights="DEFAULT") -> tuple[int, tuple]:
    """``(flat width, (C, H, W))`` of the trunk's activations for ``input_size`` images."""
    key = (backbone, input_size, tune_blocks)
    if key not in _SHAPES:
        model = get_backbone(backbone, 1, weights=None, input_size=input_size)
        trunk, _ = split_backbone(model, tune_blocks)
        with torch.inference_mode():
            out = trunk.eval()(torch.zeros(1, 3, input_size, input_size))
        _SHAPES[key] = (int(np.prod(out.shape[1:])), tuple(int(s) for s in out.shape[1:]))
    return _SHAPES[key]
