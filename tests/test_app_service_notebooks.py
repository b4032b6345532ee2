"""Notebooks 00–04 without the kit's own server: FOUNDRY_LOCAL_ENDPOINT points at the Foundry Local app service
(emulated on loopback). Preflight, the HTTP section of 03 and the benchmark of 04 go to the service; the in-process
parts use the bundled model, which the service also lists. Run headless with nbclient, parameters injected after
each notebook's `parameters` cell (papermill's way)."""
from __future__ import annotations

import json
import urllib.request

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.core import paths
from tests.notebook_run import with_parameters

pytestmark = pytest.mark.notebook  # executes notebooks (and the emulator's real model): the notebook tier

SMOL = "smollm2-135m-instruct-int4"
PARAMETERS = {
    "00_setup_check.ipynb": {"MODELS": [SMOL]},
    "01_list_models.ipynb": {},
    "02_download_and_cache.ipynb": {"MODEL": SMOL},
    "03_run_and_probe.ipynb": {"MODELS": [SMOL], "PROMPT_SET": "smoke", "MAX_TOKENS": 16},
    "04_benchmark.ipynb": {"MODELS": [SMOL], "PROMPT_SET": "smoke", "ROUNDS": 1, "WARMUP": 1, "MAX_TOKENS": 16},
}


def _requests(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/emulator/requests", timeout=10) as reply:
        return json.load(reply)


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_notebook_runs_against_the_app_service(name, app_service_url, tmp_path, monkeypatch):
    values = {**PARAMETERS[name], **({"OUT_DIR": str(tmp_path / "run")} if name.startswith("04") else {})}
    notebook = nbformat.from_dict(with_parameters(nbformat.read(paths.REPO_ROOT / "notebooks" / name, as_version=4),
                                                  values))
    monkeypatch.setenv("FOUNDRY_LOCAL_ENDPOINT", app_service_url)
    monkeypatch.setenv("FOUNDRY_LAB_HEADLESS", "1")
    before = len(_requests(app_service_url))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(paths.REPO_ROOT / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                      for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "Web service:" not in outputs, "the kit started its own server although FOUNDRY_LOCAL_ENDPOINT is set"
    reached = {r["path"] for r in _requests(app_service_url)[before:]}
    if name.startswith(("00", "03", "04")):
        assert any(p.startswith("/openai/load/") for p in reached) and "/v1/chat/completions" in reached, reached
    if name.startswith("00"):
        assert "at the Foundry Local app's service" in outputs
