"""The real search on a real pool, a person played from withheld labels (issue 19).

``python -m benchmarks.real_pool --root ../shared/data/gtsrb32.npz`` builds, once, in
``--work`` (default ``$TMPDIR/rarelab-real-pool``):

* ``seed/<class name>/``: GTSRB's official training images as the labeled seed set, with
  each of the 10 rarest classes reduced to one image (drawn with ``--seed``);
* ``pool/``: the official test set's 12,630 crops as a flat folder of unlabeled PNGs named
  by number (no class in the name);
* ``answer_key.csv`` beside them, never inside: what the played person knows.

The official test set holds no track of the training set, so no near-duplicate of a seed
image sits in the pool. Every configuration then runs through the command line's own
functions, ``rarelab search init / propose / label / commit``: after each ``propose`` the
script reads ``candidates.csv``, writes the answers a person would give (the rare class
where the key says so, ``not`` otherwise) and imports them with ``search label``.

Per round it prints and writes (``--out``, CSV): new rare items per rare class, precision,
the share of findable rare items found so far, labels used, and the wall time of ``init``
and of each ``propose`` (in-process; a shell adds about 2 s of Python start-up).

Needs the shared data (never committed): ``make bench`` runs it only when
``RARELAB_REAL_POOL`` names the .npz.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

N_RARE = 10
# (strategy, learner, per class, rounds): both schedules spend 1,000 labels on 10 rare classes.
# "adapted" is the search's default learner; "linear" its frozen-feature twin.
CONFIGS = {
    "rare-softmax/adapted/10x10": ("rare-softmax", "adapted", 10, 10),
    "rare-softmax/adapted/50x2": ("rare-softmax", "adapted", 50, 2),
    "entropy/adapted/50x2": ("entropy", "adapted", 50, 2),
    "random/adapted/50x2": ("random", "adapted", 50, 2),
    "rare-softmax/linear/10x10": ("rare-softmax", "linear", 10, 10),
    "rare-softmax/linear/50x2": ("rare-softmax", "linear", 50, 2),
    "entropy/linear/10x10": ("entropy", "linear", 10, 10),
    "entropy/linear/50x2": ("entropy", "linear", 50, 2),
    "random/linear/50x2": ("random", "linear", 50, 2),
}


def folder_name(name: str) -> str:
    return name.replace("/", " or ")  # "beware of ice/snow": a class name a folder cannot hold


def build_pool(npz, work: Path, *, seed: int = 0) -> tuple[list[str], dict[str, str]]:
    """Write seed/, pool/ and answer_key.csv (once); returns (rare class names, {pool path: class})."""
    from PIL import Image

    from rarelab.data import GTSRB_CLASSES, rarest_classes

    data = np.load(npz)
    xtr, ytr, xte, yte = data["Xtr"], data["ytr"], data["Xte"], data["yte"]
    rare = rarest_classes(ytr, N_RARE)
    names = [folder_name(n) for n in GTSRB_CLASSES]
    key_path = work / "answer_key.csv"
    if not key_path.exists():
        rng = np.random.default_rng(seed)
        keep = np.ones(len(ytr), bool)
        for c in rare:  # one labeled image per rare class
            ids = np.flatnonzero(ytr == c)
            keep[ids] = False
            keep[rng.choice(ids)] = True
        for i in np.flatnonzero(keep):
            folder = work / "seed" / names[ytr[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(xtr[i]).save(folder / f"{i:05d}.png")
        (work / "pool").mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "label"])
        for i, y in enumerate(yte):
            path = work / "pool" / f"{i:05d}.png"
            Image.fromarray(xte[i]).save(path)
            w.writerow([str(path.resolve()), names[y]])
        key_path.write_text(buf.getvalue())  # last: a half-built folder is built again
    with open(key_path, newline="") as fh:
        truth = {r["path"]: r["label"] for r in csv.DictReader(fh)}
    return [names[c] for c in rare], truth


def _cli(args) -> float:
    """Run ``rarelab ARGS`` in-process (quietly); seconds taken. A failure raises."""
    from rarelab.cli import main

    t = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        code = main([str(a) for a in args])
    if code != 0:
        raise SystemExit(f"rarelab {' '.join(map(str, args))} exited with {code}")
    return time.perf_counter() - t


def play(name: str, config, work: Path, rare: list[str], truth: dict[str, str], *, store: Path) -> list[dict]:
    """One search, played to its last round; the per-round rows."""
    strategy, learner, per_class, rounds = config
    run = work / "runs" / name.replace("/", "-")
    if run.exists():
        import shutil

        shutil.rmtree(run)
    findable = sum(1 for y in truth.values() if y in rare)
    args = ["search", "init", run, "--labeled", work / "seed", "--pool", work / "pool"]
    for r in rare:
        args += ["--rare", r]
    args += [
        "--strategy",
        strategy,
        "--learner",
        learner,
        "--per-class",
        per_class,
        "--feature-store",
        store,
        "--quiet",
    ]
    init_s = _cli(args)
    rows, found, used = [], 0, 0
    for rnd in range(rounds):
        propose_s = _cli(["search", "propose", run, "--quiet"])
        with open(run / "candidates.csv", newline="") as fh:
            cand = list(csv.DictReader(fh))
        answers = run / f"answers{rnd}.csv"
        with open(answers, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["item_id", "label"])
            for r in cand:
                y = truth[r["path"]]
                w.writerow([r["item_id"], y if y in rare else "not"])
        _cli(["search", "label", run, "--csv", answers])
        _cli(["search", "commit", run, "--quiet"])
        new = sum(1 for r in cand if truth[r["path"]] in rare)
        found += new
        used += len(cand)
        rows.append(
            {
                "config": name,
                "round": rnd + 1,
                "labels_used": used,
                "new_rare_per_class": round(new / len(rare), 2),
                "precision": round(new / max(1, len(cand)), 3),
                "found_share": round(found / findable, 3),
                "init_s": round(init_s, 1) if rnd == 0 else "",
                "propose_s": round(propose_s, 1),
            }
        )
        print("  ".join(f"{k}={v}" for k, v in rows[-1].items() if v != ""), flush=True)
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.real_pool", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="gtsrb32.npz (e.g. ../shared/data/gtsrb32.npz)")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "rarelab-real-pool"))
    p.add_argument("--only", action="append", choices=sorted(CONFIGS), help="run only these (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the per-round rows here (CSV)")
    a = p.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rare, truth = build_pool(a.root, work, seed=a.seed)
    print(f"pool {len(truth):,} files, {sum(1 for y in truth.values() if y in rare)} findable rare items", flush=True)
    rows = []
    for name in a.only or CONFIGS:
        rows += play(name, CONFIGS[name], work, rare, truth, store=work / "feature-store")
    if a.out:
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


if __name__ == "__main__":
    main()
