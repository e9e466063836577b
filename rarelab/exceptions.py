"""Every error rarelab raises on purpose; catch :class:`RarelabError` for all of them.

Messages name the owner, the parameter, the value received and the fix.
"""


class RarelabError(Exception):
    """Base class of every error rarelab raises on purpose."""


class InvalidParameterError(RarelabError, ValueError):
    """A public function or constructor received an invalid argument."""


class DataUnavailableError(RarelabError, RuntimeError):
    """A dataset or model file could not be read or downloaded."""


class PhaseError(RarelabError, RuntimeError):
    """A step of the active loop was called in the wrong phase."""


class StaleStateError(RarelabError, RuntimeError):
    """A write based on an older state of a run than its store holds (another view or process
    wrote since); call ``refresh()`` on the object and repeat."""


class GroundTruthUnavailable(RarelabError, AttributeError):
    """Raised when code asks for labels nobody gave: a real pool has none."""


__all__ = [
    "DataUnavailableError",
    "GroundTruthUnavailable",
    "InvalidParameterError",
    "PhaseError",
    "RarelabError",
    "StaleStateError",
]
