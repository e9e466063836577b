"""A JupyterLab server on loopback with headless Chromium attached: for the end-to-end widget
test and the widget benchmarks. Needs the ``lab`` extra, Playwright and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@contextmanager
def lab_session(root: Path, *, env: dict | None = None, timeout: float = 90.0):
    """Start ``jupyter lab`` serving ``root`` on 127.0.0.1; yields ``(base_url, token)``."""
    port, token = _free_port(), "rarelab-e2e"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(root / "jupyter.log", "w")
    # Settings and workspaces of this session only: a theme switched by one test stays out of the next.
    own = {"JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-ws")}
    proc = subprocess.Popen(
        cmd, cwd=root, env={**os.environ, **own, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'jupyter.log'}") from None
                time.sleep(0.3)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def open_notebook(url: str, token: str, name: str):
    """Headless Chromium with the notebook open and its kernel idle; yields the Playwright page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{name}?token={token}")
            page.wait_for_function(
                "window.jupyterapp && window.jupyterapp.shell.currentWidget "
                "&& window.jupyterapp.shell.currentWidget.sessionContext "
                "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel "
                "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                ".connectionStatus === 'connected'",
                timeout=60_000,
            )
            yield page
        finally:
            browser.close()


def run_all(page, timeout_ms: int = 180_000) -> None:
    """Run every cell and wait until the kernel is idle again."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "(() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " return nb.widgets.every(c => c.model.type !== 'code' || "
        "(c.model.executionCount !== null && c.promptNode.textContent.indexOf('*') < 0)); })()",
        timeout=timeout_ms,
    )


def cell_types(page) -> list[str]:
    return page.evaluate("window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.type)")


def cell_text_outputs(page, index: int) -> str:
    return page.evaluate(f"""(() => {{
        const cell = window.jupyterapp.shell.currentWidget.content.widgets[{index}];
        return cell.outputArea.node.innerText; }})()""")
