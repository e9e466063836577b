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


def progress_bar(**kwargs):
    """A tqdm bar for long work (extraction, a pass over every item): redrawn every second in
    a terminal or notebook, at most every 30 s in a log, where each redraw stays in the file."""
    from tqdm.auto import tqdm

    kwargs.setdefault("mininterval", 1.0 if interactive() else 30.0)
    return tqdm(**kwargs)


def transient_bar(**kwargs):
    """A tqdm progress bar that disappears when done (``leave=False``), safe in notebooks.

    In a notebook, tqdm's widget bar with ``leave=False`` closes its widget model at the end,
    while the cell's output keeps a view of it: after a browser reload JupyterLab shows
    "Error displaying widget: model not found" there. This bar hides its widget instead of
    closing it; in a terminal it is tqdm's own ``leave=False`` bar.
    """
    from tqdm.auto import tqdm

    bar = tqdm(leave=True, **kwargs)
    container = getattr(bar, "container", None)
    if container is None:  # a terminal, a log, or a disabled bar
        bar.leave = False
        return bar
    close = bar.close

    def hide_and_close():
        close()
        container.layout.display = "none"

    bar.close = hide_and_close
    return bar
