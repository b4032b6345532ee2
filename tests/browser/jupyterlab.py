"""A real JupyterLab on 127.0.0.1 driven by a real Chromium (Playwright), for the browser tests.

`lab_server(root, env)` starts `jupyter lab` from the kit's environment on a free loopback port with a token, no
browser and `--allow-root`, and exposes the front end's application object (`window.jupyterapp`) so the tests can
run commands the way the menus do. `chromium()` launches the system Chromium (the Debian package `chromium`):
Playwright cannot download browsers here, so `executable_path` points at it (`FOUNDRY_LAB_CHROMIUM` names another
binary); `missing_browser()` says in one line why no browser can be had. `NotebookPage` opens one notebook,
runs all its cells and reads every cell's outputs back from the notebook model.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM_ENV = "FOUNDRY_LAB_CHROMIUM"
CHROMIUM = Path(os.environ.get(CHROMIUM_ENV) or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SERVER_START_S = 90.0
WIDGET_ERROR = "Error displaying widget"
# JupyterLab asks the internet for news and updates unless told not to: the test machine has no internet.
# Every cell is rendered, not only those near the viewport (JupyterLab's windowing), so widgets can be found.
_SETTINGS = {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
             "notebook-extension/tracker": {"windowingMode": "none"}}


@dataclass
class LabServer:
    """A running JupyterLab: its base URL and token, and the log file of the server and its kernels."""

    url: str
    token: str
    log: Path

    def notebook_url(self, name: str) -> str:
        """The notebook alone in a fresh workspace of its own (another page's open tabs are not restored here)."""
        return f"{self.url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={self.token}"


@contextmanager
def lab_server(root: Path, env: dict[str, str], workdir: Path) -> Iterator[LabServer]:
    """`jupyter lab` serving `root` on 127.0.0.1 (free port); kernels inherit `env`. Stopped (kernels too) on exit."""
    token = secrets.token_hex(16)
    for plugin, values in _SETTINGS.items():
        file = workdir / "lab-settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = {**env, "JUPYTERLAB_SETTINGS_DIR": str(workdir / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"), "JUPYTER_RUNTIME_DIR": str(workdir / "runtime")}
    log = workdir / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("w") as sink:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield LabServer(_wait_for_url(server, log), token, log)
    finally:
        server.terminate()  # JupyterLab shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_for_url(server: subprocess.Popen, log: Path) -> str:
    """The server's root URL once it listens (read from its log); raises with the log's tail when it does not."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
        if found and found.group(1) != "0":
            return f"http://127.0.0.1:{found.group(1)}"
        if server.poll() is not None:
            break
        time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not start within {SERVER_START_S:.0f} s; log {log}:\n"
                       + log.read_text(errors="replace")[-3000:])


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, in one line (None when Playwright and the system Chromium are there)."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (as .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: run `python -m helpers setup`"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless system Chromium driven by Playwright's sync API; yields the Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


_READ_NOTEBOOK = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map(cell => ({
    type: cell.model.type,
    count: cell.model.type === 'code' ? cell.model.executionCount : null,
    outputs: cell.model.type === 'code' ? cell.model.outputs.toJSON() : [],
  }));
}"""

_START_RUN_ALL = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.__runAll = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells')
    .then(ok => { window.__runAll = ok === false ? 'failed' : 'done'; },
          err => { window.__runAll = 'error: ' + err; });
}"""

_KERNEL_READY = """(name) => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.context && widget.context.path === name && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""


class NotebookPage:
    """One notebook open in JupyterLab in its own browser page."""

    def __init__(self, browser: Any, server: LabServer, name: str) -> None:
        self.name = name
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.goto(server.notebook_url(name), timeout=60_000)
        self.page.wait_for_function(_KERNEL_READY, arg=name, timeout=120_000, polling=250)

    def run_all(self, timeout_s: float) -> list[dict[str, Any]]:
        """Run every cell (Run ▸ Run All Cells) and wait until the run ends; returns the cells with their outputs."""
        self.page.evaluate(_START_RUN_ALL)
        self.page.wait_for_function("() => window.__runAll !== undefined", timeout=timeout_s * 1000, polling=500)
        return self.cells()

    def cells(self) -> list[dict[str, Any]]:
        """Every cell: type, execution count and outputs (nbformat JSON), as the notebook model holds them."""
        return self.page.evaluate(_READ_NOTEBOOK)

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path))
        return path


def output_text(output: dict[str, Any]) -> str:
    """The readable text of one nbformat output (stream text, text/plain or HTML data, or an error)."""
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data", {})
    return "".join("".join(data.get(kind, "")) for kind in ("text/plain", "text/html", "text/markdown"))


def failures(cells: list[dict[str, Any]]) -> list[str]:
    """Error outputs, widget render errors, and code cells that never ran; empty when the whole notebook ran."""
    found = []
    for index, cell in enumerate(cells):
        if cell["type"] != "code":
            continue
        if cell["count"] is None:
            found.append(f"cell {index} did not run")
        for output in cell["outputs"]:
            text = output_text(output)
            if output.get("output_type") == "error" or WIDGET_ERROR in text:
                found.append(f"cell {index}: {text[:500]}")
    return found


def kernel_env(**overrides: str) -> dict[str, str]:
    """The test process's environment for JupyterLab and its kernels, minus pytest's markers and the test suite's
    FOUNDRY_LAB_PORT (kernels choose their port as on an attendee's machine), plus `overrides`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST_") and name != "FOUNDRY_LAB_PORT"}
    return {**env, **overrides}
