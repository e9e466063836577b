"""The feature study: how far each learner gets on one split protocol (issue: adapt the features).

For each seed the round-0 model is trained once; the split and learner seeds do not depend
on the strategy, so rare-softmax, entropy and random would train this very model, and
their round-1 queries are scored from it. Rare-softmax then goes on for three rounds:
the share of findable rare items found after two, and rare F1 after three.

    python -m benchmarks.feature_study --dataset gtsrb --root ../shared/data/gtsrb32.npz \\
        --learner partial --seeds 3 --out docs/data/feature_study.csv

appends one row to the CSV; ``--table`` prints the README's table from it.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rarelab.data import get_dataset
from rarelab.simulation import SimulationConfig, build_simulation
from rarelab.strategies import get_strategy
from rarelab.utils import param_error

FIELDS = [
    "row",
    "rare_softmax_r1",
    "entropy_r1",
    "random_r1",
    "found_after_2",
    "f1_after_3",
    "caching_s",
    "round_s",
    "seeds",
    "command",
]
ROUND1 = ("entropy", "random", "rare-softmax")  # rare-softmax last: its query is the one labeled


def _fill_cache(learner) -> float | None:
    """Seconds to compute what the learner caches once (features, or trunk activations);
    None for a learner that caches nothing (the whole network reads the images every round)."""
    t0 = time.perf_counter()
    return time.perf_counter() - t0 if learner.precompute() else None


def study_seed(config: SimulationConfig, dataset, *, rounds: int = 3) -> dict:
    """One seed's figures for ``config`` (its strategy is ignored).

    ``rounds=2`` stops at the share found after two rounds (no rare F1 after three): two
    trainings instead of four, for learners whose rounds take minutes.
    """
    if rounds not in (2, 3):
        raise param_error("study_seed", "rounds", "2 or 3", rounds)
    search = build_simulation(config, dataset=dataset, progress=False)
    caching = _fill_cache(search.learner)
    oracle = search.oracle
    rare = search.rare_classes
    t0 = time.perf_counter()
    search.train()
    round0 = time.perf_counter() - t0
    out = {"caching_s": caching}
    for name in ROUND1:
        search.strategy = get_strategy(name)
        search.phase_ = "propose"
        t0 = time.perf_counter()
        cand = search.propose()
        if name == "rare-softmax":  # a round as a search runs it: training, then one query
            round0 += time.perf_counter() - t0
        out[f"{name.replace('-', '_')}_r1"] = np.isin(oracle(cand.ids), rare).sum() / len(rare)
    round_times = [round0]
    found = []
    for r in range(rounds):
        if r:
            t0 = time.perf_counter()
            search.train()
            search.propose()
            round_times.append(time.perf_counter() - t0)
        search.label_with_oracle()
        search.commit()
        found.append(search.history_[r]["hits"])
    findable = sum(min(config.pool_cap, int(np.sum(oracle(search.split.pool) == c))) for c in rare)
    out["found_after_2"] = sum(found[:2]) / findable
    out["f1_after_3"] = None
    if rounds == 3:
        search.train()
        out["f1_after_3"] = search.history_[-1]["f1_rare"]
    out["round_s"] = float(np.mean(round_times))
    return out


def study(config: SimulationConfig, seeds, *, dataset=None, rounds: int = 3, progress=True) -> dict:
    """Means over ``seeds`` of :func:`study_seed` (caching: the first, cold, seed's time)."""
    dataset = dataset or get_dataset(config.dataset, root=config.root, **config.dataset_kwargs)
    rows = []
    for seed in seeds:
        rows.append(study_seed(replace(config, seed=seed), dataset, rounds=rounds))
        if progress:
            print(f"seed {seed}: {rows[-1]}", file=sys.stderr, flush=True)
    out = {k: None if rows[0][k] is None else float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "caching_s"}
    out["caching_s"] = rows[0]["caching_s"]
    out["seeds"] = len(rows)
    return out


def _fmt_time(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{int(s // 60)} min {int(s % 60)} s"


def _fmt_caching(s: float | None) -> str:
    if s is None:
        return "nothing cached"
    # A row that found its cache filled by an earlier one did no caching of its own.
    return "reused" if s < 5 else _fmt_time(s)


def read_rows(path) -> list[dict]:
    """The rows of a study CSV, numbers as floats."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in FIELDS[1:-1]:
            r[k] = float(r[k]) if r[k] not in ("", "None") else None
    return rows


def table_rows(rows: list[dict]) -> list[list[str]]:
    """The study as a list of rows (first: the header), for Markdown or HTML."""
    out = [
        [
            "learner",
            "round 1: rare-softmax / entropy / random",
            "found after 2",
            "rare F1 after 3",
            "caching, one round",
            "command",
        ]
    ]
    for r in rows:
        out.append(
            [
                r["row"],
                " / ".join(f"{r[k]:.1f}" for k in ("rare_softmax_r1", "entropy_r1", "random_r1")),
                f"{r['found_after_2']:.0%}",
                "n/a" if r["f1_after_3"] is None else f"{r['f1_after_3']:.3f}",
                f"{_fmt_caching(r['caching_s'])}, {_fmt_time(r['round_s'])}",
                r["command"],
            ]
        )
    return out


def table(path) -> str:
    """The README's Markdown table from the study CSV at ``path``."""
    rows = table_rows(read_rows(path))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r[:-1] + [f"`{r[-1]}`"]) + " |" for r in rows[1:]]
    return "\n".join(lines)


def study_figure(path):
    """Round-1 rare items per class under each learner, for the three strategies (plotly)."""
    import plotly.graph_objects as go

    rows = read_rows(path)
    fig = go.Figure()
    for key, name, colour in (
        ("rare_softmax_r1", "rare-softmax", "#1f77b4"),
        ("entropy_r1", "entropy", "#ff7f0e"),
        ("random_r1", "random", "#7f7f7f"),
    ):
        fig.add_bar(
            y=[r["row"] for r in rows], x=[r[key] for r in rows], name=name, orientation="h", marker_color=colour
        )
    # The paper's round 1 with a ResNet18 fine-tuned on the common classes at 128 px.
    fig.add_vline(x=22, line_dash="dash", line_color="#555", annotation_text="paper: 22")
    fig.update_layout(
        barmode="group",
        title="New rare items per class in round 1, by learner",
        xaxis_title="rare items per class (of 50 findable)",
        yaxis={"autorange": "reversed", "automargin": True},
        height=120 + 60 * len(rows),
        legend={"orientation": "h", "y": -0.12},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def main(argv=None) -> int:
    from rarelab.cli import add_simulation_arguments, config_from_args, parse_seeds

    p = argparse.ArgumentParser(prog="python -m benchmarks.feature_study", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", metavar="CSV", help="print the table of a study CSV and exit")
    p.add_argument("--row", help="the row's name in the table")
    p.add_argument("--out", help="CSV to append the row to")
    p.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], help="a count or a list (default: 3)")
    p.add_argument("--per-class", type=int, default=50, help="N, items labeled per rare class and round")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_simulation_arguments(p)
    p.add_argument(
        "--rounds",
        type=int,
        choices=[2, 3],
        default=3,
        help="rare-softmax's rounds: 3 (default) measures F1 after 3, 2 stops at 'found after 2' (half the training)",
    )
    p.set_defaults(dataset="gtsrb")  # the study's protocol
    a = p.parse_args(argv)
    if a.table:
        print(table(a.table))
        return 0
    config = config_from_args(a, "rare-softmax", a.seeds[0])
    result = study(config, a.seeds, rounds=a.rounds)
    command = "python -m benchmarks.feature_study " + shlex.join(
        x for x in (argv if argv is not None else sys.argv[1:])
    )
    row = {"row": a.row or a.learner, **result, "command": command}
    print(row)
    if a.out:
        path = Path(a.out)
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
