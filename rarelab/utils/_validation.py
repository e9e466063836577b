"""Input checks shared by every public entry point.

Errors name the parameter, the value received and the fix, in the style of
scikit-learn's parameter validation.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import InvalidParameterError


def param_error(owner: str, name: str, expected: str, got, fix: str = "") -> InvalidParameterError:
    """Build the project's standard message: who, which parameter, what, got what, how to fix."""
    msg = f"The '{name}' parameter of {owner} must be {expected}. Got {got!r}."
    if fix:
        msg += f" {fix}"
    return InvalidParameterError(msg)


def check_random_state(seed) -> np.random.Generator:
    """Turn ``None``, an int or a Generator into a ``numpy.random.Generator``.

    Every stochastic function of rarelab takes ``random_state`` and passes it here, so
    the same seed always gives the same candidates and numbers.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise param_error("check_random_state", "random_state", "None, a non-negative int or a numpy Generator", seed)


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a seed for a library that wants an int (torch), from a Generator."""
    return int(rng.integers(0, 2**31 - 1))


def check_int(owner: str, name: str, value, *, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """``value`` as an int in ``[low, high]``; otherwise the standard error (plus ``hint``)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    rng = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
    raise param_error(owner, name, f"an int in {rng}", value, hint)


def check_probabilities(proba, *, owner: str, name: str = "proba", n_classes: int | None = None) -> np.ndarray:
    """Check a (n_samples, n_classes) probability matrix: finite, non-negative, rows sum to 1."""
    arr = np.asarray(proba)
    if arr.ndim != 2:
        raise param_error(owner, name, "a 2-D array of shape (n_samples, n_classes)", f"array of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise param_error(owner, name, "a float array", f"dtype {arr.dtype}", "Pass probabilities, not labels.")
    if n_classes is not None and arr.shape[1] != n_classes:
        raise param_error(owner, name, f"an array with {n_classes} columns (one per class)", f"{arr.shape[1]} columns")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr).all(axis=1)))
        raise param_error(
            owner,
            name,
            "finite",
            f"{bad} rows with NaN or inf",
            "Check the model's training: a diverged model gives NaN probabilities.",
        )
    if arr.size and (arr.min() < 0 or np.abs(arr.sum(axis=1) - 1).max() > 1e-3):
        raise param_error(
            owner,
            name,
            "non-negative with rows summing to 1",
            "rows that do not",
            "Apply a softmax to logits before scoring.",
        )
    return arr


def check_class(owner: str, name: str, value, n_classes: int) -> int:
    return check_int(owner, name, value, low=0, high=n_classes - 1)
