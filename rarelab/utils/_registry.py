"""One registry pattern for everything chosen by name: strategies, learners, datasets,
backbones and feature-extraction engines (``get_*`` / ``list_*`` in each subpackage)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ._validation import param_error


class Registry:
    """Named factories of one kind, with the checks every ``get_*`` function shares.

    Parameters
    ----------
    kind : str
        What the names stand for (``"strategy"``); used in error messages.
    owner : str
        The public function that looks names up (``"get_strategy"``); used in error messages.

    Examples
    --------
    >>> reg = Registry("colour", owner="get_colour")
    >>> _ = reg.register("red", lambda *, shade=1: ("red", shade), summary="the colour red")
    >>> reg.get("red", shade=2)
    ('red', 2)
    >>> reg.get("red", tint=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rarelab.exceptions.InvalidParameterError: get_colour('red') got parameters it does not take: ['tint']. ...
    """

    def __init__(self, kind: str, *, owner: str):
        self.kind = kind
        self.owner = owner
        self._factories: dict[str, Callable] = {}
        self._summaries: dict[str, str] = {}

    def register(self, name: str, factory: Callable, *, summary: str | None = None) -> Callable:
        """Add ``factory`` under ``name``; ``summary`` defaults to its docstring's first line."""
        if name in self._factories:
            raise param_error(f"{type(self).__name__}.register", "name", f"a new {self.kind} name", name)
        self._factories[name] = factory
        doc = summary or (inspect.getdoc(factory) or "").strip().split("\n")[0]
        self._summaries[name] = doc
        return factory

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._factories)

    def summary(self, name: str) -> str:
        return self._summaries[self.check(name)]

    def check(self, name: str) -> str:
        """``name`` if it is registered; otherwise an error listing the known names."""
        if name not in self._factories:
            raise param_error(self.owner, "name", f"one of {sorted(self._factories)}", name)
        return name

    def params(self, name: str) -> tuple[str, ...] | None:
        """Keyword parameters the factory of ``name`` takes (``None``: any, it has ``**kwargs``)."""
        sig = inspect.signature(self._factories[self.check(name)])
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        return tuple(n for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))

    def factory(self, name: str) -> Callable:
        """The factory registered under ``name`` itself (not called)."""
        return self._factories[self.check(name)]

    def get(self, name: str, /, *args, **params):
        """Call the factory of ``name``; parameters it does not take raise an error naming them."""
        accepted = self.params(name)
        if accepted is not None:
            unknown = sorted(set(params) - set(accepted))
            if unknown:
                from ..exceptions import InvalidParameterError

                raise InvalidParameterError(
                    f"{self.owner}({name!r}) got parameters it does not take: {unknown}. It takes {sorted(accepted)}."
                )
        return self._factories[name](*args, **params)
