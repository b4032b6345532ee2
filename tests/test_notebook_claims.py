"""Every notebook's words match what its run puts on screen.

Static: no markdown cell of the workshop notebooks states a measured figure or ordering (`claims.prose_problems`).
Executed: notebooks 00, 03, 04 and 05 run headless (nbclient, a short run of two models injected after the
`parameters` cell, the pick file in a temporary folder); then every claim they printed is checked against the
table it names as that table was displayed (`claims.problems`), and no displayed table shows a raw None, NaN,
<NA> or escaped line break (`cells.raw_values`). The checks themselves are tested in test_display_and_claims.py.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from helpers.core import paths
from helpers.present import cells, claims
from tests.notebook_run import with_parameters

OWNED = ["00_setup_check", "01_list_models", "02_download_and_cache", "03_run_and_probe", "04_benchmark",
         "05_compare", "06_bring_your_own_model"]
TWO = ["smollm2-135m-instruct-int4", "qwen2.5-coder-0.5b-instruct-int4"]
RUNS = {
    "00_setup_check": {"MODELS": TWO},
    "03_run_and_probe": {"MODELS": TWO, "MAX_TOKENS": 48},
    "04_benchmark": {"MODELS": TWO, "ROUNDS": 1, "MAX_TOKENS": 48},
    "05_compare": {"MODELS": TWO, "MAX_PROMPTS": 1, "ROUNDS": 1, "JUDGE": TWO[0]},
}
RUN_S = 900


def _notebook(name: str) -> dict:
    return json.loads((paths.REPO_ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", OWNED)
def test_prose_states_no_measured_figure_or_ordering(name):
    assert claims.prose_problems(_notebook(name)) == [], "compute it from the run (claims.*) or ask it as a question"


def table_problems(notebook: dict) -> list[str]:
    """Raw values in the HTML tables of an executed notebook's outputs."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            page = "".join(output.get("data", {}).get("text/html", ""))
            if "<table" in page and (raw := cells.raw_values(page)):
                found.append(f"cell {index}: {sorted(set(raw))}")
    return found


@pytest.mark.parametrize("name", list(RUNS))
def test_executed_notebook_says_what_its_tables_show(name, tmp_path, monkeypatch, lab):
    from nbclient import NotebookClient

    monkeypatch.setenv("FOUNDRY_LAB_PICKS", str(tmp_path / "picks.json"))
    monkeypatch.setenv("FOUNDRY_LAB_HEADLESS", "1")
    values = RUNS[name] | ({"OUT_DIR": str(tmp_path / "run")} if name.startswith(("04", "05")) else {})
    notebook = nbformat.reads(json.dumps(with_parameters(_notebook(name), values)), as_version=4)
    NotebookClient(notebook, timeout=RUN_S, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    executed = json.loads(nbformat.writes(notebook))
    stated = [o for c in executed["cells"] for o in c.get("outputs", []) if claims.CLAIM_MIME in o.get("data", {})]
    assert stated, f"{name} printed no claim about its run"
    assert claims.problems(executed) == []
    assert table_problems(executed) == []
