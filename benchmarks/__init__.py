"""Benchmarks and studies of rarelab, kept outside the wheel; run from the repository root:
``python -m benchmarks`` (``make bench``), ``python -m benchmarks.feature_study``."""
