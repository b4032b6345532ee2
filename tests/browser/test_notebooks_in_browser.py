"""Notebooks 00, 01, 03, 04 and 05 in a real JupyterLab, in Chromium, with the widgets on (FOUNDRY_LAB_HEADLESS=0).

What nbval cannot see: that the widgets render in the browser ("Error displaying widget" is what JupyterLab shows
when the front end cannot display one), that the chat playground answers a question typed into it and sent with
its button, that the live benchmark progress counts up to the planned number of requests, and what the rendered
tables show: no raw None, NaN, <NA> or escaped line break in any of them (`cells.raw_values`). The notebooks are
opened in the workshop's order, 00 → 01 → 03 → 04 → 05, and every kernel stays alive, as attendees leave them:
each kernel serves on its own port and says which (no clash on 5273). Notebook 01 picks one model; 03, 04 and 05
are given no `MODELS` and must run that pick (the pick file lives in the test's temporary folder). Screenshots go
to the test's temporary folder.

The notebooks run from a copy (JupyterLab saves outputs into the files it runs) with short settings injected
after the cell tagged `parameters` the way papermill does, to keep the run short.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from helpers.core import paths
from helpers.core.config import resolve_prompt_set
from helpers.present import cells
from tests.browser.jupyterlab import NotebookPage, chromium, failures, kernel_env, lab_server, output_text
from tests.notebook_run import with_parameters

pytestmark = pytest.mark.browser

MODEL = "smollm2-135m-instruct-int4"
QUESTION = "Name one planet of the solar system."
NOTEBOOK_RUN_S = 600.0
WEB_SERVICE_LINE = re.compile(r"Web service: http://127\.0\.0\.1:(\d+)/v1 is this process's own")
PICKED = f"models: {MODEL} (picked in notebook 01"
PARAMETERS = {  # 03, 04 and 05 get no MODELS: they run the pick of 01
    "00_setup_check.ipynb": {"MODELS": [MODEL]},
    "01_list_models.ipynb": {"MODELS": [MODEL]},
    "03_run_and_probe.ipynb": {"MAX_TOKENS": 24},
    "04_benchmark.ipynb": {"PROMPT_SET": "local-inference", "ROUNDS": 1, "WARMUP": 1, "MAX_TOKENS": 24},
    "05_compare.ipynb": {"MODELS": None, "MAX_PROMPTS": 1, "ROUNDS": 1, "MAX_TOKENS": 32, "JUDGE": MODEL},
}


def _with_parameters(source: Path, target: Path, values: dict) -> None:
    """Copy a notebook, adding a cell that sets `values` right after its `parameters` cell (papermill's way)."""
    target.write_text(json.dumps(with_parameters(json.loads(source.read_text()), values), indent=1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over a copy of the notebooks, kernels with widgets forced on; plus a Chromium, both on loopback."""
    workdir = tmp_path_factory.mktemp("jupyterlab")
    root = workdir / "notebooks"
    root.mkdir()
    for name, values in PARAMETERS.items():
        # the runs' folders go to the temporary folder too, not into the repository's reports/
        extra = {"OUT_DIR": str(workdir / name.split("_")[0])} if name.startswith(("04", "05")) else {}
        _with_parameters(paths.REPO_ROOT / "notebooks" / name, root / name, {**values, **extra})
    env = kernel_env(FOUNDRY_LAB_HEADLESS="0", FOUNDRY_LAB_PORT="0", MPLBACKEND="module://matplotlib_inline.backend_inline",
                     FOUNDRY_LAB_PICKS=str(workdir / "picks.json"))
    with lab_server(root, env, workdir) as server, chromium() as browser:
        yield server, browser


def _run(lab, name: str, shots: Path) -> tuple[NotebookPage, list[dict]]:
    server, browser = lab
    started = time.perf_counter()
    page = NotebookPage(browser, server, name)
    cells = page.run_all(NOTEBOOK_RUN_S)
    page.screenshot(shots / f"{Path(name).stem}-after-run.png")
    print(f"{name}: ran in JupyterLab in {time.perf_counter() - started:.1f} s; screenshots in {shots}")
    problems = failures(cells)
    assert not problems, f"{name} in the browser:\n" + "\n".join(problems) + f"\n(server log: {server.log})"
    return page, cells


def _raw_values_in_tables(page: NotebookPage) -> list[str]:
    """Every rendered table (outputs and widgets) that shows a raw None, NaN, <NA> or escaped line break."""
    tables = page.page.locator(".jp-OutputArea-output table").all_inner_texts()
    return [f"{sorted(set(raw))} in {text[:300]!r}" for text in tables if (raw := cells.raw_values(text))]


def _text(cells_: list[dict]) -> str:
    return "\n".join(output_text(o) for cell in cells_ for o in cell["outputs"])


def _served_port(cells: list[dict]) -> int:
    """The port the notebook's kernel says it serves on (the one line printed when its web service starts)."""
    found = [WEB_SERVICE_LINE.search(output_text(o)) for cell in cells for o in cell["outputs"]]
    ports = [int(match.group(1)) for match in found if match]
    assert len(ports) == 1, f"expected one line saying which web service the notebook uses, found {ports}"
    return ports[0]


SERVED_PORTS: dict[str, int] = {}


def test_notebook_00_checks_pass_with_its_own_web_service(lab, tmp_path):
    _, cells = _run(lab, "00_setup_check.ipynb", tmp_path)
    SERVED_PORTS["00"] = _served_port(cells)
    assert any("Ready for the workshop" in output_text(o) for cell in cells for o in cell["outputs"])


def test_notebook_01_saves_the_pick_for_the_later_notebooks(lab, tmp_path):
    page, cells = _run(lab, "01_list_models.ipynb", tmp_path)
    assert "saved to" in _text(cells) and "for notebooks 03, 04 and 05" in _text(cells)
    assert page.page.locator(".widget-select-multiple").count() >= 1, "no model picker rendered in notebook 01"
    assert _raw_values_in_tables(page) == []


def test_notebook_03_playground_answers_a_typed_question(lab, tmp_path):
    page, cells = _run(lab, "03_run_and_probe.ipynb", tmp_path)
    assert PICKED in _text(cells), "notebook 03 should run the model picked in notebook 01"
    assert _raw_values_in_tables(page) == []
    SERVED_PORTS["03"] = _served_port(cells)
    assert SERVED_PORTS["03"] != SERVED_PORTS.get("00"), "two live kernels must not share (or fight over) a port"
    box = page.page.get_by_placeholder("Your message, then click Send")
    box.scroll_into_view_if_needed()
    box.fill(QUESTION)
    playground = page.page.locator(".widget-vbox", has=box).last
    playground.get_by_role("button", name="Send").click()
    conversation = playground.locator(".widget-output").first
    # The answer streams into the conversation; the line under it shows its timing once the answer is complete.
    page.page.wait_for_function(
        """([question]) => {
             const text = [...document.querySelectorAll('.widget-output')].map(e => e.innerText).join('\\n');
             const at = text.lastIndexOf('you: ' + question);
             if (at < 0) return false;
             const after = text.slice(at + question.length + 5).split('\\n').slice(1).join('\\n');
             const stats = [...document.querySelectorAll('.widget-html')].map(e => e.innerText).join('\\n');
             return after.split(':').slice(1).join(':').trim().length > 0 && !stats.includes('generating');
           }""", arg=[QUESTION], timeout=120_000, polling=250)
    page.screenshot(tmp_path / "03_run_and_probe-playground.png")
    text = conversation.inner_text()
    answer = text[text.rindex(f"you: {QUESTION}"):].split("\n", 1)[1]
    assert answer.startswith(f"{MODEL}: "), f"the speaker label should be the alias the attendee chose: {answer!r}"
    assert answer.removeprefix(f"{MODEL}: ").strip(), f"no answer to the typed question: {text!r}"
    assert "Error displaying widget" not in page.page.inner_text("body")


def test_notebook_04_live_progress_reaches_the_planned_count(lab, tmp_path):
    page, cells = _run(lab, "04_benchmark.ipynb", tmp_path)
    assert PICKED in _text(cells), "notebook 04 should run the model picked in notebook 01"
    assert _raw_values_in_tables(page) == []
    values = PARAMETERS["04_benchmark.ipynb"]
    planned = values["WARMUP"] + values["ROUNDS"] * len(resolve_prompt_set(values["PROMPT_SET"])[1].prompts)
    for widget_class in ("widget-select-multiple", "widget-toggle-buttons", "widget-hprogress"):
        assert page.page.locator(f".{widget_class}").count() >= 1, f"no {widget_class} rendered in notebook 04"
    progress = page.page.locator(".widget-hprogress").first
    progress.scroll_into_view_if_needed()
    page.screenshot(tmp_path / "04_benchmark-progress.png")
    latest = page.page.locator(".widget-vbox", has=progress).first.inner_text()
    assert f"{planned}/{planned} ·" in latest, f"the live progress should end at {planned}/{planned}: {latest!r}"
    bar = progress.locator(".progress-bar").first.get_attribute("style") or ""
    assert "width: 100%" in bar, f"the progress bar should be full at the end: {bar!r}"
    summary = "".join(output_text(o) for cell in cells for o in cell["outputs"])
    assert "Benchmark complete" in summary and "Error displaying widget" not in summary


def test_notebook_05_runs_the_pick_and_shows_no_raw_values(lab, tmp_path):
    page, cells = _run(lab, "05_compare.ipynb", tmp_path)
    assert PICKED in _text(cells), "notebook 05 should run the model picked in notebook 01"
    assert _raw_values_in_tables(page) == []
