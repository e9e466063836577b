"""The feature store: resumable, keyed by file, the same from both engines."""

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from rarelab.data import DECODER_VERSION, FileKey, list_images
from rarelab.features import FAILED, MISSING, ArrayFeatures, FeatureStore


def _write_images(folder, n, *, start=0, corrupt=0, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(start, start + n):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    for k in range(corrupt):
        (folder / f"broken{k}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return [FileKey.of(p) for p in list_images(folder)]


@pytest.fixture()
def files(tmp_path):
    return _write_images(tmp_path / "imgs", 150, corrupt=2)


def test_extract_lookup_read_and_failures(files, tmp_path):
    store = FeatureStore(tmp_path / "store", input_size=32, chunk_size=64)
    report = store.extract(files, num_workers=0, progress=False)
    assert report.n_extracted == 150 and len(report.failed) == 2 and report.chunks == 3
    chunk, row = store.lookup(files)
    assert np.sum(chunk == FAILED) == 2 and np.all((chunk >= 0) | (chunk == FAILED))
    ok = chunk >= 0
    x = store.read(chunk[ok], row[ok])
    assert x.shape == (150, 1280) and x.dtype == np.float32 and np.isfinite(x).all()
    # streaming in blocks gives the same rows as random access, in any order
    order = np.random.default_rng(0).permutation(np.flatnonzero(ok))
    got = np.empty((len(order), 1280), np.float32)
    for pos, block in store.iter_rows(chunk[order], row[order], block=50):
        got[pos] = block
    np.testing.assert_array_equal(got, store.read(chunk[order], row[order]))
    assert {p.split("/")[-1] for p, _ in store.failures(files)} == {"broken0.png", "broken1.png"}
    # nothing left to do: failed files are not retried until they change
    assert store.extract(files, num_workers=0, progress=False).n_extracted == 0


def test_added_and_changed_files_are_extracted_alone(files, tmp_path):
    store = FeatureStore(tmp_path / "store", input_size=32, chunk_size=64)
    store.extract(files, num_workers=0, progress=False)
    more = _write_images(tmp_path / "imgs", 3, start=1000, seed=1)
    report = store.extract(more, num_workers=0, progress=False)
    assert report.n_extracted == 3 and report.n_cached == len(more) - 3 - 2
    target = files[0].path
    Image.new("RGB", (32, 32), (255, 0, 0)).save(target)  # same path, new content: a new key
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    report = store.extract([FileKey.of(target)], num_workers=0, progress=False)
    assert report.n_extracted == 1


def test_store_files_are_readable_by_others(files, tmp_path):
    old = os.umask(0o022)
    try:
        store = FeatureStore(tmp_path / "store", input_size=32, chunk_size=64)
        store.extract(files[:10], num_workers=0, progress=False)
    finally:
        os.umask(old)
    chunk_file = next((store.dir / "chunks").glob("*.npy"))
    assert stat.S_IMODE(chunk_file.stat().st_mode) == 0o644


_EXTRACTOR = """
import sys
from rarelab.features import FeatureStore
from rarelab.data import DECODER_VERSION, FileKey, list_images
store = FeatureStore(sys.argv[2], input_size=32, chunk_size=40)
store.extract([FileKey.of(p) for p in list_images(sys.argv[1])], num_workers=0, progress=False, batch_size=8)
"""


def test_kill_during_extraction_keeps_committed_chunks(tmp_path):
    keys = _write_images(tmp_path / "imgs", 600)
    store_dir = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", _EXTRACTOR, str(tmp_path / "imgs"), str(store_dir)])
    index = store_dir / f"efficientnet_lite0-DEFAULT-32px-decode{DECODER_VERSION}" / "index.sqlite"
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if index.exists():
            try:
                committed = (
                    sqlite3.connect(index).execute("SELECT COUNT(*) FROM chunks WHERE committed=1").fetchone()[0]
                )
            except sqlite3.OperationalError:
                continue
            if committed >= 3:
                break
    assert committed >= 3, "extraction did not commit chunks in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = FeatureStore(store_dir, input_size=32, chunk_size=40)
    chunk, row = store.lookup(keys)
    done = np.flatnonzero(chunk >= 0)
    assert len(done) >= 120 and len(done) % 40 == 0  # whole chunks only
    before = store.read(chunk[done], row[done])
    report = store.extract(keys, num_workers=0, progress=False)
    assert report.n_cached == len(done) and report.n_extracted == len(keys) - len(done)
    chunk2, row2 = store.lookup(keys)
    np.testing.assert_array_equal(chunk2[done], chunk[done])
    np.testing.assert_array_equal(store.read(chunk2[done], row2[done]), before)
    assert np.all(chunk2 >= 0)


def test_ray_engine_matches_local_engine(tmp_path):
    pytest.importorskip("ray.data", reason="needs the ray extra (installed by make test)")
    keys = _write_images(tmp_path / "imgs", 60, corrupt=1)
    local = FeatureStore(tmp_path / "local", input_size=32, chunk_size=25)
    distributed = FeatureStore(tmp_path / "ray", input_size=32, chunk_size=25)
    local.extract(keys, num_workers=0, progress=False)
    report = distributed.extract(keys, engine="ray", num_workers=2, progress=False)
    assert report.engine == "ray" and report.n_extracted == 60 and len(report.failed) == 1
    a_chunk, a_row = local.lookup(keys)
    b_chunk, b_row = distributed.lookup(keys)
    np.testing.assert_array_equal(a_chunk == FAILED, b_chunk == FAILED)
    ok = a_chunk >= 0
    a, b = local.read(a_chunk[ok], a_row[ok]), distributed.read(b_chunk[ok], b_row[ok])
    # float16 on disk: equal to its rounding (one ulp of the largest values)
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=np.abs(a).max() * 2**-10)


def test_missing_features_are_refused_not_invented(files, tmp_path):
    store = FeatureStore(tmp_path / "store", input_size=32)
    chunk, row = store.lookup(files)
    assert np.all(chunk == MISSING)
    with pytest.raises(ValueError, match="missing or failed"):
        store.read(np.array([MISSING]), np.array([0]))


def test_array_features_blocks_cover_every_id():
    feats = ArrayFeatures(np.arange(40, dtype=np.float32).reshape(20, 2))
    ids = np.array([5, 3, 19, 0])
    seen = np.zeros((4, 2), np.float32)
    for pos, block in feats.iter_blocks(ids, block=3):
        seen[pos] = block
    np.testing.assert_array_equal(seen, feats.take(ids))
