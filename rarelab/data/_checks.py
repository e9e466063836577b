"""Which files decode: the check every file passes before it may reach a split or training."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import numpy as np
from tqdm.auto import tqdm

from ..utils import cache_dir, dataset_key, write_atomic
from ._decode import DECODER_VERSION, iter_decoded
from ._files import FileDataset
from ._walk import FileKey

CHECK_SIZE = 32  # decoding at a small side is enough to find what fails (JPEGs decode at reduced scale)


def check_decodable(
    paths, *, num_workers: int | None = 0, batch_size: int = 256, progress: bool = True
) -> Iterator[tuple[np.ndarray, dict[int, str]]]:
    """Decode every file of ``paths`` once; yield ``(positions tried, {position: reason})`` per batch.

    Callers store each batch as it comes, so a killed check resumes where it stopped. The
    reasons are the decoder's (:func:`decode_image`): a truncated file, a mode that cannot
    be shown faithfully, no image at all.
    """
    paths = list(paths)
    if not paths:
        return
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1) if len(paths) > batch_size else 0
    bar = tqdm(total=len(paths), desc="checking files", unit="file", disable=not progress, leave=False)
    try:
        for idx, _, failed in iter_decoded(paths, CHECK_SIZE, batch_size=batch_size, num_workers=num_workers):
            tried = np.sort(np.concatenate([idx, np.array([i for i, _ in failed], dtype=np.int64)]))
            bar.update(len(tried))
            yield tried, dict(failed)
    finally:
        bar.close()


def find_undecodable(paths, *, num_workers: int | None = 0, progress: bool = True) -> dict[int, str]:
    """``{position: reason}`` of the files of ``paths`` that cannot be decoded."""
    out: dict[int, str] = {}
    for _, failures in check_decodable(paths, num_workers=num_workers, progress=progress):
        out.update(failures)
    return out


def drop_undecodable(dataset, *, num_workers: int | None = None, progress: bool = True):
    """``(dataset without the files that cannot be read, [(path, reason), ...])``.

    The policy of every run on files: a file that does not exist, cannot be opened or
    cannot be decoded is left out of every part of the split (never trained on, queried
    or shown) and listed with its reason, together with the files its folder walk listed
    but did not read (``dataset.skipped_files``: not images, broken links). Only
    :class:`FileDataset` has files; other datasets come back as they are. The decode check
    runs once per set of files (path, size, mtime): its result is cached under
    ``$RARELAB_CACHE_DIR/decode-checks``. The returned dataset carries the list as
    ``dataset.left_out``.
    """
    if not isinstance(dataset, FileDataset):
        return dataset, []
    if getattr(dataset, "left_out", None) is not None:  # checked already
        return dataset, dataset.left_out
    listed = list(getattr(dataset, "skipped_files", []))
    keys, keep = [], []
    for i, path in enumerate(dataset.paths):
        try:
            keys.append(FileKey.of(path))
            keep.append(i)
        except OSError as exc:  # a manifest row naming a missing file, a broken link
            listed.append((path, f"cannot read: {exc.strerror or exc}"))
    if len(keep) < len(dataset):
        dataset = dataset.subset(keep)
    dataset._keys = keys
    fingerprint, _ = dataset_key(dataset)
    cache = cache_dir("decode-checks") / f"{fingerprint}-decode{DECODER_VERSION}.json"
    try:
        failed = {int(k): v for k, v in json.loads(cache.read_text()).items()}
    except (OSError, ValueError):
        failed = find_undecodable(dataset.paths, num_workers=num_workers, progress=progress)
        write_atomic(cache, json.dumps({str(k): v for k, v in sorted(failed.items())}))
    listed += [(dataset.paths[i], failed[i]) for i in sorted(failed)]
    if failed:
        dataset = dataset.subset([i for i in range(len(dataset)) if i not in failed])
    dataset.left_out = listed
    return dataset, listed
