"""Helpers every subpackage shares: input checks, atomic writes, caches, locks, devices,
progress and the registry pattern. Not specific to rare-class search."""

from ._assets import front_end_file
from ._atomic import atomic_path, write_atomic
from ._cache import cache_dir, dataset_key, save_npz_atomic
from ._config import read_json_config
from ._devices import choose_device, describe
from ._locks import exclusive
from ._paths import path_from_sql, path_to_sql, printable_path
from ._progress import interactive, progress_bar, transient_bar
from ._registry import Registry
from ._validation import (
    check_class,
    check_int,
    check_probabilities,
    check_random_state,
    derive_seed,
    param_error,
)

__all__ = [
    "Registry",
    "atomic_path",
    "cache_dir",
    "check_class",
    "check_int",
    "check_probabilities",
    "check_random_state",
    "choose_device",
    "dataset_key",
    "derive_seed",
    "describe",
    "exclusive",
    "front_end_file",
    "interactive",
    "progress_bar",
    "param_error",
    "path_from_sql",
    "path_to_sql",
    "printable_path",
    "read_json_config",
    "save_npz_atomic",
    "transient_bar",
    "write_atomic",
]
