"""``make bench``: measured speeds of the core on this machine (``python -m benchmarks``, from the repository root).

Prints figures; asserts nothing. Every input is made here, so it needs no data download.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch


def _timeit(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_rendering(rows):
    from rarelab.data import synth_signs

    for size, n in ((32, 2000), (64, 1000)):
        t = _timeit(
            lambda n=n, size=size: synth_signs(n_samples=n, image_size=size, cache=False, progress=False), repeat=1
        )
        rows.append((f"synth_signs render {size}px", f"{n / t:,.0f} images/s", "1 core"))


def bench_features(rows):
    from rarelab.features import embed_images, get_backbone

    images = np.random.default_rng(0).integers(0, 255, (512, 32, 32, 3), dtype=np.uint8)
    for size in (64, 96):
        model = get_backbone("efficientnet_lite0", 10, input_size=size)
        embed_images(model, images[:64], progress=False)  # warm-up
        t = _timeit(lambda model=model: embed_images(model, images, progress=False), repeat=2)
        rows.append((f"Lite0 features {size}px", f"{len(images) / t:,.0f} images/s", "once per dataset, cached"))


def bench_head(rows):
    from rarelab.data import ArrayDataset
    from rarelab.features import ArrayFeatures
    from rarelab.learners import LinearProbe

    n, d, c = 12_000, 1280, 43  # a GTSRB-sized training set of cached features
    rng = np.random.default_rng(0)
    ds = ArrayDataset(np.zeros((n, 2, 2, 3), np.uint8), rng.integers(0, c, n), [str(k) for k in range(c)])
    learner = LinearProbe(dataset=ds, epochs=20, random_state=0, progress=False)
    learner.features_ = ArrayFeatures(rng.standard_normal((n, d), dtype=np.float32))
    t = _timeit(lambda: learner.fit(np.arange(n), ds.targets), repeat=1)
    rows.append(("linear head, 20 epochs", f"{t:.2f} s/round", f"{n:,} items x {d} features"))


def _train_rate(module, head, x_shape, n_classes: int = 43, steps: int = 4) -> float:
    """Images/s of forward, backward and an AdamW step (channels_last, batch 128)."""
    from torch import nn

    module.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW([*module.parameters(), *head.parameters()], lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, n_classes, (x_shape[0],), generator=gen)

    def step():
        x = torch.randn(x_shape, generator=gen).contiguous(memory_format=torch.channels_last)
        loss = nn.functional.cross_entropy(head(module(x)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up: oneDNN picks its kernels on the first call
    return x_shape[0] * steps / sum(_timeit(step, repeat=1) for _ in range(steps))


def bench_training(rows):
    """Training speed per round on a GTSRB-sized set: the tail on cached activations
    (``--learner partial``) against the whole network (``--learner finetune``)."""
    from rarelab.features import get_backbone, split_backbone

    n, epochs = 12_000, 6  # about GTSRB's common-class training set; partial's default epochs
    for tune in (5, 7):
        model = get_backbone("efficientnet_lite0", 43, input_size=96)
        trunk, tail = split_backbone(model, tune)
        with torch.no_grad():
            shape = trunk(torch.zeros(1, 3, 96, 96)).shape[1:]
        rate = _train_rate(tail, model.head, (128, *shape))
        rows.append(
            (
                f"partial, last {tune} blocks, 96px",
                f"{rate:,.0f} images/s",
                f"{n * epochs / rate / 60:.1f} min per round",
            )
        )
    for size in (32, 64, 96):
        model = get_backbone("efficientnet_lite0", 43, input_size=size)
        whole = torch.nn.Sequential(model.features, torch.nn.Flatten(1))
        rate = _train_rate(whole, model.head, (128, 3, size, size))
        rows.append(
            (f"whole network, {size}px", f"{rate:,.0f} images/s", f"{n * epochs / rate / 60:.1f} min per round")
        )


def bench_scoring(rows):
    from rarelab.strategies import MaxEntropy, PoolContext, RareSoftmax

    n, c = 100_000, 43
    logits = np.random.default_rng(0).standard_normal((n, c))
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ctx = PoolContext(
        pool_ids=np.arange(n),
        proba=proba,
        rare_classes=tuple(range(10)),
        train_ids=np.arange(1),
        train_labels=np.zeros(1, int),
    )
    for strat in (RareSoftmax(), MaxEntropy()):
        t = _timeit(lambda s=strat: s.query(ctx, per_class=50, random_state=0))
        rows.append((f"{strat.name} query", f"{t * 1000:.0f} ms", "100k pool, 10 rare classes x 50"))


def bench_label_store(rows):
    from rarelab.loop import LabelStore

    with tempfile.TemporaryDirectory() as tmp:
        store = LabelStore(os.path.join(tmp, "labels.sqlite"))
        lat = []
        for i in range(200):
            t = time.perf_counter()
            store.add([i], [1], round=0, source="person")
            lat.append(time.perf_counter() - t)
        store.close()
    lat = np.array(lat) * 1000
    rows.append(
        ("label -> SQLite (durable)", f"{np.median(lat):.2f} ms median", f"p95 {np.percentile(lat, 95):.2f} ms")
    )


def bench_widgets(rows):
    """Python call -> painted gallery, message size, keypress -> stored label: in JupyterLab."""
    from tests.lab_session import chromium_path, lab_session, open_notebook, run_all, write_notebook

    if chromium_path() is None:
        rows.append(("gallery benchmarks", "skipped", "chromium not installed"))
        return
    cells = [
        "import json, time\nfrom rarelab import SimulationConfig, create_simulation\nfrom rarelab.widgets import CandidateGallery",
        "cfg = SimulationConfig(dataset_kwargs={'n_samples': 3000, 'progress': False}, rare_classes='rarest:1',\n"
        "                per_class=200, input_size=32, epochs=3, learner='linear')\n"
        "s = create_simulation(cfg, 'run', progress=False)\ns.train(); _ = s.propose()",
    ]
    for k in (100, 200):
        cells.append(
            f"t0 = time.time() * 1000\ng{k} = CandidateGallery(s, k={k})\ndisplay(g{k})\n"
            f"print('T0', t0, 'BYTES', len(g{k}.pixels) + len(json.dumps(g{k}.items)))"
        )
    with tempfile.TemporaryDirectory() as tmp:
        from pathlib import Path

        root = Path(tmp)
        write_notebook(root / "bench.ipynb", cells)
        with lab_session(root) as (url, token), open_notebook(url, token, "bench.ipynb") as page:
            run_all(page)
            page.wait_for_function("document.querySelectorAll(\".rarelab-gallery[data-ready='1']\").length === 2")
            for j, k in enumerate((100, 200)):
                text = page.evaluate(
                    f"window.jupyterapp.shell.currentWidget.content.widgets[{2 + j}].outputArea.node.innerText"
                )
                words = text.split()
                t0, size = float(words[words.index("T0") + 1]), int(words[words.index("BYTES") + 1])
                painted = float(page.locator(".rarelab-gallery").nth(j).get_attribute("data-painted-at"))
                rows.append(
                    (
                        f"gallery {k} candidates",
                        f"{painted - t0:.0f} ms",
                        f"call -> painted, {size / 1024:.0f} KiB message",
                    )
                )
            gallery = page.locator(".rarelab-gallery").nth(0)
            gallery.locator(".rl-cell:not(.rl-reference)").first.click()
            lat = []
            for n in range(2, 32):
                page.keyboard.press("y")
                page.wait_for_function(f"document.querySelectorAll('.rarelab-gallery')[0].dataset.acks === '{n}'")
                lat.append(float(gallery.get_attribute("data-last-latency-ms")))
    rows.append(
        (
            "keypress -> stored label",
            f"{np.median(lat):.0f} ms median",
            f"p95 {np.percentile(lat, 95):.0f} ms, round trip through the kernel and SQLite",
        )
    )


BENCHES = {
    "render": bench_rendering,
    "features": bench_features,
    "head": bench_head,
    "training": bench_training,
    "scoring": bench_scoring,
    "labels": bench_label_store,
    "widgets": bench_widgets,
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these (repeatable)")
    a = p.parse_args(argv)
    rows: list[tuple[str, str, str]] = []
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'cuda' if torch.cuda.is_available() else 'cpu only'}"
    )
    for name in a.only or BENCHES:
        start = len(rows)
        BENCHES[name](rows)
        for what, figure, note in rows[start:]:
            print(f"  {what:<28} {figure:>20}   {note}", flush=True)


_STRATEGY_CHILD = """
import resource, sys, time
import numpy as np
from rarelab.strategies import NEEDS_BUDGET, PoolContext, get_strategy

class Learner:  # cached features, as LinearProbe serves them
    def __init__(self, f): self.f = f
    def embed(self, ids): return self.f[ids]

n_pool, n_train, d, c = 100_000, 2_000, 1280, 43
rng = np.random.default_rng(0)
feats = rng.standard_normal((n_pool + n_train, d), dtype=np.float32)
logits = rng.standard_normal((n_pool, c))
proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
labels = rng.integers(0, c, n_train)
ctx = PoolContext(pool_ids=np.arange(n_pool), proba=proba, rare_classes=tuple(range(10)),
                  train_ids=np.arange(n_pool, n_pool + n_train), train_labels=labels, learner=Learner(feats),
                  n_classes=c, extras={"round": 0, "labels_used": 0, "given_labels": {}, "dataset": None})
name = sys.argv[1]
s = get_strategy(name, budget=2500) if name in NEEDS_BUDGET else get_strategy(name)
if name == "taast":
    s.embeddings = "backbone"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
s.query(ctx, per_class=50, random_state=0)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{dt:.3f} {max(0, peak - base) / 1024:.0f}")
"""


def bench_strategies(rows):
    """Every strategy's query on a 100k-item pool: seconds and peak memory above the inputs."""
    import subprocess
    import sys

    from rarelab.strategies import list_strategies

    for name in list_strategies():  # one process each, so peak memory is the strategy's own
        out = subprocess.run([sys.executable, "-c", _STRATEGY_CHILD, name], capture_output=True, text=True)
        if out.returncode != 0:
            rows.append((f"strategy {name}", "failed", out.stderr.strip().splitlines()[-1][:60]))
            continue
        dt, mb = out.stdout.split()
        rows.append(
            (f"strategy {name}", f"{float(dt):.2f} s", f"+{mb} MiB peak; 100k pool x 1280-d, 2k labeled, 10 rare x 50")
        )


BENCHES["strategies"] = bench_strategies


def _bench_scale(rows):
    from .scale import bench_scale

    bench_scale(rows)


BENCHES["scale"] = _bench_scale


def _bench_real_pool(rows):
    """The real search on GTSRB as a real pool, adapted (the default) and frozen features
    (benchmarks/real_pool.py; needs the data, never committed: RARELAB_REAL_POOL=path/to/gtsrb32.npz).
    About 1.5 h on 2 cores: 51,839 files' trunk activations and features, then 9 searches."""
    npz = os.environ.get("RARELAB_REAL_POOL")
    if not npz:
        rows.append(("real pool (GTSRB)", "skipped", "set RARELAB_REAL_POOL=.../gtsrb32.npz"))
        return
    from .real_pool import CONFIGS
    from .real_pool import main as real_pool

    configs = list(CONFIGS)
    result = real_pool(["--root", npz, *[a for c in configs for a in ("--only", c)]])
    for name in configs:
        last = [r for r in result if r["config"] == name][-1]
        rows.append((f"real pool {name}", f"{last['found_share']:.0%} found", f"after {last['labels_used']} labels"))


BENCHES["real-pool"] = _bench_real_pool

if __name__ == "__main__":
    main()
