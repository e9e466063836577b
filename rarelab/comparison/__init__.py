"""Comparisons: strategies x seeds over simulations, and their report (Fig. 2, Fig. 4, PR)."""

from ._compare import compare
from ._report import build_report, ranking_hit_curves, run_dirs_of

__all__ = ["build_report", "compare", "ranking_hit_curves", "run_dirs_of"]
