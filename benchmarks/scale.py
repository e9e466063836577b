"""Scale benchmarks (``python -m benchmarks --only scale``): real pools, real sizes.

* extraction throughput on the same image files, in-process engine vs Ray Data with 2 local workers;
* a killed extraction resumed: how much work was lost (at most the chunk in flight);
* ``propose`` (score every pool item, pick the top) on feature stores of 100,000 and
  1,000,000 items: wall time and the process's peak RSS. The big stores hold synthetic
  feature rows written straight into a :class:`~rarelab.features.FeatureStore`.

Prints figures; asserts nothing. Each measurement runs in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCALE_FILES = int(os.environ.get("RARELAB_BENCH_FILES", 20_000))
SCALE_INPUT = int(os.environ.get("RARELAB_BENCH_INPUT", 64))
STORE_SIZES = tuple(int(s) for s in os.environ.get("RARELAB_BENCH_STORES", "100000,1000000").split(","))

_PROPOSE_CHILD = """
import json, resource, sys, time
import numpy as np
from rarelab import ActiveLoop, LinearProbe, RareSoftmax, Split
from rarelab.data import FileDataset, FileKey
from rarelab.features import FileFeatures
n, store_root, index_dir, run_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
paths = [f"/synthetic/{i:08d}.png" for i in range(n)]
# The warm-up run resolves the store index once (it needs the keys); the measured run reads the cache.
keys = [FileKey(p, 1000, 1) for p in paths] if run_dir.endswith("warm") else None
ds = FileDataset(paths, [str(c) for c in range(43)], keys=keys)
files = FileFeatures(store=store_root, index_dir=index_dir)
rng = np.random.default_rng(0)
n_train = 12_000  # a GTSRB-sized seed set: 33 common classes, one example of each of 10 rare ones
train_labels = np.r_[rng.integers(10, 43, n_train - 10), np.arange(10)]
split = Split(np.arange(n_train), np.empty(0, np.int64), np.arange(n_train, n), tuple(range(10)),
              train_labels=train_labels)
learner = LinearProbe(dataset=ds, epochs=20, random_state=0, progress=False, files=files)
search = ActiveLoop(dataset=ds, split=split, learner=learner, strategy=RareSoftmax(), per_class=50,
                      run_dir=run_dir)
t_open = time.perf_counter() - t0
t = time.perf_counter(); search.train(); t_train = time.perf_counter() - t
t = time.perf_counter(); cand = search.propose(); t_propose = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"open": t_open, "train": t_train, "propose": t_propose, "peak_mib": peak, "n_cand": len(cand)}))
"""

_EXTRACT_CHILD = """
import sys
from tqdm import tqdm
from rarelab.data import FileKey, list_images
from rarelab.features import FeatureStore
store = FeatureStore(sys.argv[2], input_size=int(sys.argv[3]), chunk_size=int(sys.argv[4]))
keys = [FileKey.of(p) for p in list_images(sys.argv[1])]
# extract() advances its progress bar (disabled, still called) after every embedded batch,
# and it is the only bar this process updates: count there, through public APIs only.
update, done = tqdm.update, [0]
def counted(bar, n=1):
    done[0] += n
    print(done[0], flush=True)  # embedded so far (the parent kills us mid-way)
    return update(bar, n)
tqdm.update = counted
store.extract(keys, num_workers=2, progress=False)
"""


def _write_files(folder: Path, n: int) -> None:
    from PIL import Image

    from rarelab.data import synth_signs

    folder.mkdir(parents=True, exist_ok=True)
    ds = synth_signs(n_samples=min(n, 5000), image_size=32, random_state=0, progress=False)
    for i in range(n):
        Image.fromarray(ds.images[i % len(ds)]).save(folder / f"{i:06d}.png", compress_level=1)


def _synthetic_store(root: Path, n: int, *, chunk: int = 2048) -> None:
    from rarelab.data import FileKey
    from rarelab.features import FeatureStore

    store = FeatureStore(root, input_size=96, chunk_size=chunk)
    rng = np.random.default_rng(0)
    # Non-negative like pooled activations after ReLU6, with a few class-like directions.
    centers = rng.gamma(1.0, 0.5, (43, 1280)).astype(np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        feats = centers[rng.integers(0, 43, m)] + rng.gamma(1.0, 0.3, (m, 1280)).astype(np.float32)
        store.add([FileKey(f"/synthetic/{i:08d}.png", 1000, 1) for i in range(start, start + m)], feats)
    store.close()


def bench_extraction(rows, tmp: Path) -> Path:
    from rarelab.data import FileKey, list_images
    from rarelab.features import FeatureStore

    files = tmp / "files"
    _write_files(files, SCALE_FILES)
    keys = [FileKey.of(p) for p in list_images(files)]
    for engine in ("local", "ray"):
        store = FeatureStore(tmp / f"store-{engine}", input_size=SCALE_INPUT)
        try:
            report = store.extract(keys, engine=engine, num_workers=2, progress=False)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what failed and goes on
            rows.append((f"extract {engine}", "failed", f"{type(exc).__name__}: {exc}"[:70]))
            continue
        rows.append(
            (
                f"extract {engine} (2 workers)",
                f"{report.images_per_second:,.0f} images/s",
                f"{len(keys):,} files, Lite0 at {SCALE_INPUT}px, {report.seconds:.0f} s",
            )
        )
    return files


def bench_resume(rows, tmp: Path, files: Path) -> None:
    import sqlite3

    from rarelab.data import DECODER_VERSION, FileKey, list_images
    from rarelab.features import FeatureStore

    chunk = 2048
    store_dir = tmp / "store-resume"
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXTRACT_CHILD, str(files), str(store_dir), str(SCALE_INPUT), str(chunk)],
        stdout=subprocess.PIPE,
        text=True,
    )
    embedded = 0
    index = store_dir / f"efficientnet_lite0-DEFAULT-{SCALE_INPUT}px-decode{DECODER_VERSION}" / "index.sqlite"
    for line in proc.stdout:  # kill once half the files are embedded, whatever the chunk boundary
        embedded = int(line)
        if embedded >= SCALE_FILES // 2 + 777:
            proc.kill()
            break
    proc.wait()
    committed = (
        sqlite3.connect(index).execute("SELECT COALESCE(SUM(n_rows), 0) FROM chunks WHERE committed=1").fetchone()[0]
    )
    keys = [FileKey.of(p) for p in list_images(files)]
    t = time.perf_counter()
    report = FeatureStore(store_dir, input_size=SCALE_INPUT, chunk_size=chunk).extract(
        keys, num_workers=2, progress=False
    )
    lost = embedded - committed
    rows.append(
        (
            "resume killed extraction",
            f"{lost:,} images redone",
            f"killed after {embedded:,} embedded, {committed:,} committed (chunks of {chunk}); resume "
            f"extracted {report.n_extracted:,} = {len(keys):,} - {committed:,} in {time.perf_counter() - t:.0f} s",
        )
    )


def bench_propose(rows, tmp: Path) -> None:
    peaks = {}
    for n in STORE_SIZES:
        root = tmp / f"synthetic-{n}"
        t = time.perf_counter()
        _synthetic_store(root, n)
        made = time.perf_counter() - t
        index_dir, run_dir = root / "index", root / "run"
        index_dir.mkdir()
        # First open resolves the store's index once and caches it beside the run, as a search does.
        warm = subprocess.run(
            [sys.executable, "-c", _PROPOSE_CHILD, str(n), str(root), str(index_dir), str(root / "warm")],
            capture_output=True,
            text=True,
        )
        out = subprocess.run(
            [sys.executable, "-c", _PROPOSE_CHILD, str(n), str(root), str(index_dir), str(run_dir)],
            capture_output=True,
            text=True,
        )
        if warm.returncode or out.returncode:
            rows.append((f"propose {n:,} items", "failed", (warm.stderr or out.stderr).strip().splitlines()[-1][:70]))
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        peaks[n] = r["peak_mib"]
        rows.append(
            (
                f"propose {n:,} items",
                f"{r['propose']:.1f} s",
                f"peak RSS {r['peak_mib']:,.0f} MiB; open {r['open']:.1f} s, train {r['train']:.1f} s "
                f"(12k seed items); store written in {made:.0f} s",
            )
        )
    if len(peaks) == 2:
        a, b = sorted(peaks)
        rows.append((f"peak RSS growth {a:,} -> {b:,}", f"{peaks[b] - peaks[a]:,.0f} MiB", "target: at most 2.5 GB"))


def bench_scale(rows) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = bench_extraction(rows, tmp)
        bench_resume(rows, tmp, files)
        bench_propose(rows, tmp)
