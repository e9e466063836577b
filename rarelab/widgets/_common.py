"""Small helpers shared by the composite widgets."""

from __future__ import annotations

import functools


def shows_errors(output):
    """Decorate a callback so its exceptions appear in ``output`` instead of vanishing.

    ipywidgets drops exceptions raised in button and observe callbacks into the kernel
    log, where nobody looks; the error type and message go to the Output widget instead.
    The next action clears them: an error on screen is always about the last action.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            output.clear_output()
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed
                output.append_stderr(f"{type(exc).__name__}: {exc}\n")

        return inner

    return wrap
