"""When progress bars help and when they flood a log."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """A terminal or a Jupyter kernel: somewhere a bar redraws in place.

    In a log file (CI, ``make demo > log``) every redraw is a new line, so short inner loops
    stay silent there; long steps keep their bars, which tqdm throttles.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:  # a running Jupyter kernel
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
