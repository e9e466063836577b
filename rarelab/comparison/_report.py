"""The report of a comparison, rebuilt from its run directories alone."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..data import get_dataset
from ..exceptions import DataUnavailableError
from ..loop import LabelStore, rank_for_class
from ..reporting import format_probability, gallery_html, ranking_hits, read_metrics, write_report
from ..simulation import open_simulation
from ..utils import read_json_config, write_atomic


def run_dirs_of(out) -> list[Path]:
    """The comparison's run directories that finished at least one round."""
    # A run interrupted before its first round has no metrics yet: nothing to report for it.
    return sorted(d for d in (Path(out) / "runs").glob("*/seed*") if (d / "metrics.csv").is_file())


def build_report(out, *, dataset=None) -> list[dict]:
    """Merge the runs under ``out/runs`` into ``out/metrics.csv`` and write ``out/report.html``.

    The report holds the Fig. 4 curves with 95 % CIs, the round-0 precision-recall curves,
    and Fig. 2 galleries of the first rare-softmax run's top candidates.

    Raises
    ------
    DataUnavailableError
        ``out/runs`` holds no run with a finished round.
    """
    out = Path(out)
    if (out / "config.json").is_file():
        raise DataUnavailableError(
            f"{str(out)!r} is the run directory of one search or simulation, not a comparison's folder "
            "(which holds runs/<strategy>/seed<k>)."
        )
    run_dirs = run_dirs_of(out)
    if not run_dirs:
        raise DataUnavailableError(
            f"No finished rounds under {str(out / 'runs')!r}: run `rarelab compare --out {out}` first."
        )
    rows, csv_parts = [], []
    for d in run_dirs:
        text = (d / "metrics.csv").read_text()
        csv_parts.append(text if not csv_parts else text.split("\n", 1)[1])
        rows += read_metrics(d / "metrics.csv")
    write_atomic(out / "metrics.csv", "".join(csv_parts))
    if dataset is None:  # every run under OUT shares one dataset: load it once
        first = read_json_config(run_dirs[0] / "config.json")
        dataset = get_dataset(first["dataset"], root=first["root"], **first["dataset_kwargs"])
    pr_curves, n_relevant = ranking_hit_curves(run_dirs, dataset)
    galleries, max_n_rare, notes = _galleries(run_dirs, dataset)
    write_report(
        out / "report.html",
        rows,
        title=f"rarelab: {out.name}",
        max_n_rare=max_n_rare,
        galleries=galleries,
        notes=notes,
        pr_curves=pr_curves,
        n_relevant=n_relevant,
    )
    return rows


def _galleries(run_dirs, dataset) -> tuple[list[str], float | None, str]:
    """Fig. 2: the top 30 of up to three rare classes in round 0 of the first rare-softmax run."""
    for d in run_dirs:
        cfg = read_json_config(d / "config.json")
        if cfg["strategy"] != "rare-softmax":
            continue
        with open_simulation(d, dataset=dataset, progress=False) as sim:
            ds, rare = sim.dataset, list(sim.rare_classes)
            in_run = np.concatenate([sim.split.pool, sim.split.train])
            max_n_rare = float(np.mean([np.sum(ds.targets[in_run] == c) for c in rare]))
            rows = sim.store.candidates(0)
            target = np.array([r[1] for r in rows], dtype=np.int64)
            proba = np.array([json.loads(r[3]) for r in rows]).reshape(len(rows), -1)
            galleries = []
            for c in rare[:3]:
                pos = rank_for_class(target, proba, rare, c, k=30)
                ids = np.array([rows[k][0] for k in pos], dtype=np.int64)
                hit = ds.targets[ids] == c
                ref_id = sim.split.synthetic.get(c, next((i for i in sim.split.train if ds.targets[i] == c), None))
                galleries.append(
                    gallery_html(
                        list(ds.load_images(ids)),
                        [f"#{k + 1} {format_probability(p)}" for k, p in enumerate(proba[pos, rare.index(c)])],
                        marks=["hit" if h else "miss" for h in hit],
                        title=f"{ds.classes[c]}: top {len(ids)} of the pool in round 0 ({int(hit.sum())} are this class)",
                        reference=ds.load_images([ref_id])[0] if ref_id is not None else None,
                    )
                )
            notes = (
                f"Dataset {ds.name}; {len(rare)} rare classes; device {sim.history_[0].get('device', '?')}; "
                f"config of the first run: {html.escape(json.dumps(cfg))}"
            )
        return galleries, max_n_rare, notes
    return [], None, ""


def ranking_hit_curves(run_dirs, dataset) -> tuple[dict, int]:
    """Round-0 hit sequences per strategy (from the stores: the oracle's labels) and the
    number of rare items in the pool (from the first run's split and dataset)."""
    curves: dict = {}
    n_relevant = 0
    for d in run_dirs:
        store = LabelStore(d / "labels.sqlite")
        try:
            rare = store.get("rare_classes", [])
            cand = store.candidates(0)
            if cand:
                strategy = read_json_config(d / "config.json")["strategy"]
                curves.setdefault(strategy, []).append(ranking_hits(cand, store.labels(round=0), rare))
            if not n_relevant:
                with open_simulation(d, dataset=dataset, progress=False) as sim:
                    n_relevant = int(np.isin(sim.dataset.targets[sim.split.pool], rare).sum())
        finally:
            store.close()
    return curves, n_relevant
