"""Feature extraction with Ray Data, for pools one machine cannot embed in time.

Ray Data reads and decodes the files and runs the backbone in a pool of actors
(``map_batches``) on every node's CPUs or GPUs; the calling process receives the
feature rows and writes them into the same :class:`~rarelab.features.FeatureStore`
the in-process engine writes, so both engines give the same store. Worker nodes must
see the files under the same paths (a shared or network file system).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DataUnavailableError


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is a separate part of the ray package)
    except ImportError as exc:
        raise DataUnavailableError("engine='ray' needs Ray Data: pip install 'rarelab[ray]'.") from exc
    return ray


class _Embedder:
    """A Ray actor: builds the backbone once, then decodes and embeds batches of paths."""

    def __init__(self, backbone: str, weights, input_size: int, tune_blocks=None, view: int = 0):
        import torch

        from ._extractors import build_extractor

        torch.set_num_threads(1)  # one actor per CPU: threads beyond that only contend
        self.extract, self.dim = build_extractor(
            backbone=backbone, weights=weights, input_size=input_size, tune_blocks=tune_blocks, device="cpu"
        )
        self.input_size = input_size
        self.view = view

    def __call__(self, batch: dict) -> dict:
        from ..data import decode_image
        from ._extractors import augment_each

        images, ok, errors = [], [], []
        for path in batch["path"]:
            try:
                images.append(decode_image(str(path), self.input_size))
                ok.append(True)
                errors.append("")
            except (OSError, ValueError, SyntaxError) as exc:
                ok.append(False)
                errors.append(f"{type(exc).__name__}: {exc}")
        ok = np.array(ok, dtype=bool)
        feats = np.zeros((len(ok), self.dim), dtype=np.float32)
        if images:
            images = np.stack(images)
            if self.view:  # the same per-file view the in-process engine draws
                images = augment_each(images, np.asarray(batch["seed"], dtype=np.int64)[ok])
            feats[ok] = self.extract(images)
        return {
            "pos": np.asarray(batch["pos"], dtype=np.int64),
            "ok": ok,
            "error": np.array(errors, dtype=object),
            "feat": feats,
        }


def ray_batches(
    keys,
    *,
    backbone: str,
    weights,
    input_size: int,
    num_workers: int = 2,
    batch_size: int = 64,
    device=None,
    address: str | None = None,
    num_gpus_per_worker: float | None = None,
    tune_blocks: int | None = None,
    view: int = 0,
):
    """Yield ``(positions, float32 features, failures)`` for ``keys``, computed by Ray Data.

    Starts a local Ray instance with ``num_workers`` CPUs unless ``address`` names a cluster
    (``"auto"`` inside a cluster, ``"ray://head:10001"`` from outside). GPUs are used when
    the cluster has them (one per actor, or ``num_gpus_per_worker``); ``device`` is decided
    per actor, so the caller's is not used.
    """
    ray = _ray()
    num_workers = max(1, num_workers)
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="warning")
        else:
            ray.init(num_cpus=num_workers, include_dashboard=False, log_to_driver=False, logging_level="warning")
        started = True
    try:
        if num_gpus_per_worker is None:
            num_gpus_per_worker = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # rarelab draws its own bar; Ray's would print a line per update in logs
        ctx.print_on_execution_start = False
        from ._extractors import view_seeds

        seeds = view_seeds(keys, view) if view else np.zeros(len(keys), np.int64)
        items = [{"pos": i, "path": k.path, "seed": int(s)} for i, (k, s) in enumerate(zip(keys, seeds))]
        blocks = max(num_workers, min(len(items) // max(1, batch_size), 4 * num_workers * 8))
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(blocks, len(items))))
        ds = ds.map_batches(
            _Embedder,
            fn_constructor_kwargs={
                "backbone": backbone,
                "weights": weights,
                "input_size": input_size,
                "tune_blocks": tune_blocks,
                "view": view,
            },
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=num_workers),
            num_cpus=1,
            num_gpus=num_gpus_per_worker,
            batch_format="numpy",
        )
        for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
            ok = b["ok"].astype(bool)
            failed = [(int(p), str(e)) for p, e in zip(b["pos"][~ok], b["error"][~ok])]
            yield b["pos"][ok].astype(np.int64), np.asarray(b["feat"][ok], dtype=np.float32), failed
    finally:
        if started:
            ray.shutdown()
