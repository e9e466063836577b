"""Simulations: the paper's protocol on a fully labeled dataset, an oracle in place of a person.

A :class:`SimulationConfig` rebuilds a simulation exactly (dataset, split, learner,
strategy, seeds); :func:`create_simulation` starts one in a run directory,
:func:`open_simulation` resumes it. The loop itself is :class:`rarelab.loop.ActiveLoop`.
"""

from ._build import (
    SimulationConfig,
    build_simulation,
    create_simulation,
    load_dataset,
    open_simulation,
    spawn_seeds,
    write_failed_files,
)
from ._oracle import SimulatedOracle

__all__ = [
    "SimulatedOracle",
    "SimulationConfig",
    "build_simulation",
    "load_dataset",
    "write_failed_files",
    "create_simulation",
    "open_simulation",
    "spawn_seeds",
]
