"""Feature-extraction engines by name: who decodes and embeds the files a store lacks.

An engine is a generator function ``(keys, *, backbone, weights, input_size, num_workers,
batch_size, device, address, tune_blocks, view) -> (positions, float32 rows, failures)``
batches (``tune_blocks``/``view``: trunk activations and augmented views); the
calling process writes what it yields to the :class:`FeatureStore`, so every engine gives
the same features.
"""

from __future__ import annotations

import numpy as np

from ..data import iter_decoded
from ..utils import Registry
from ._extractors import augment_each, build_extractor, view_seeds
from ._ray import ray_batches


def local_batches(
    keys,
    *,
    backbone,
    weights,
    input_size,
    num_workers,
    batch_size=64,
    device=None,
    address=None,
    tune_blocks=None,
    view=0,
):
    """This process extracts; a multi-worker DataLoader decodes (``address`` is Ray's, unused here).

    ``tune_blocks`` and ``view`` choose the rows (see :class:`FeatureStore`)."""
    extract, dim = build_extractor(
        backbone=backbone, weights=weights, input_size=input_size, tune_blocks=tune_blocks, device=device
    )
    seeds = view_seeds(keys, view) if view else None
    for pos, images, failed in iter_decoded(
        [k.path for k in keys], input_size, batch_size=batch_size, num_workers=num_workers
    ):
        images = images.numpy()
        if seeds is not None:
            images = augment_each(images, seeds[pos])
        feats = extract(images) if len(pos) else np.empty((0, dim), np.float32)
        yield pos, feats, failed


_ENGINES = Registry("engine", owner="get_engine")
_ENGINES.register("local", local_batches, summary="DataLoader workers decode, this process embeds")
_ENGINES.register("ray", ray_batches, summary="Ray Data decodes and embeds on every node (pip install 'rarelab[ray]')")


def get_engine(name: str):
    """The extraction engine ``name`` (``"local"`` or ``"ray"``), a batch generator function."""
    return _ENGINES.factory(name)


def list_engines() -> tuple[str, ...]:
    """Names :func:`get_engine` knows."""
    return _ENGINES.names()
