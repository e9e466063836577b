"""A comparison: strategies x seeds, each a simulation in its own run directory."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from ..simulation import SimulationConfig, create_simulation, load_dataset, write_failed_files
from ..utils import interactive, transient_bar
from ._report import build_report


def compare(
    config: SimulationConfig, strategies, seeds, out, *, dataset=None, progress: bool = True, log=print
) -> list[dict]:
    """Run one simulation per strategy and seed under ``out/runs/<strategy>/seed<k>``, then
    write ``out/metrics.csv`` and ``out/report.html`` (:func:`build_report`).

    ``config`` gives everything but the strategy and the seed. A run directory that holds
    the same config resumes (more ``rounds`` continue it), so an interrupted comparison
    picks up where it stopped.

    Parameters
    ----------
    config : SimulationConfig
    strategies : list of str
        Names from :func:`rarelab.strategies.list_strategies`.
    seeds : list of int
    out : path
    dataset : dataset, optional
        ``config``'s dataset, already loaded (it is loaded once for every run otherwise).
    log : callable or None
        Receives a line per finished run (``print`` by default; ``None`` is silent).

    Returns
    -------
    rows : list of dict
        Every run's per-round records, as in ``out/metrics.csv``.
    """
    out = Path(out)
    log = log or (lambda *_a, **_k: None)
    t0 = time.perf_counter()
    dataset = load_dataset(config, dataset=dataset, progress=progress)
    write_failed_files(out, dataset)
    # One bar over every round of every run: minutes of work never run silent in a notebook.
    bar = transient_bar(
        total=len(strategies) * len(seeds) * config.rounds, desc="comparison", unit="round", disable=not interactive()
    )

    def tick(_loop, event):
        if event == "commit":
            bar.update(1)

    for strategy in strategies:
        for seed in seeds:
            cfg = dataclasses.replace(config, strategy=strategy, seed=seed)
            with create_simulation(
                cfg, out / "runs" / strategy / f"seed{seed}", dataset=dataset, progress=progress
            ) as sim:
                bar.update(min(sim.round_, config.rounds))  # a resumed run's rounds are done already
                sim.observe(tick)
                if strategy == strategies[0] and seed == seeds[0]:
                    log(f"\nSplit (seed {seed}):\n" + sim.split.table(sim.dataset.targets, sim.dataset.classes))
                    log(f"Learner: {config.learner} on {config.backbone}\n")
                sim.simulate(config.rounds)
                last, first_hits = sim.history_[-1], sim.history_[0].get("hits")
                f1 = "n/a" if last["f1_rare"] is None else f"{last['f1_rare']:.3f}"
                log(
                    f"{strategy:>14} seed {seed}: round-1 hits per rare class "
                    f"{first_hits / len(sim.rare_classes):.1f}, final N_rare {last['n_rare']:.1f}, "
                    f"final rare F1 {f1}  [{time.perf_counter() - t0:.0f}s]"
                )
    bar.close()
    return build_report(out, dataset=dataset)
