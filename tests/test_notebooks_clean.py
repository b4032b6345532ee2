"""The workshop notebooks are committed clean and follow the lesson format.

Clean: no outputs, no execution counts, no saved widget state (outputs of a live run would leak machine details,
timings and, at worst, secrets into the repository). Format: a title cell with learning objectives and an
expected duration, exactly one cell tagged `parameters`, and a last cell that asserts the notebook's outcome.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from helpers.core.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["00_setup_check", "01_list_models", "02_download_and_cache", "03_run_and_probe", "04_benchmark", "05_compare"]


def _asserts(source: str) -> bool:
    """True when the cell's code holds an assert statement (magics and shell lines are ignored)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(code)))


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything that keeps a notebook from being committed; empty when it is clean and well formed."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has an execution count")
    if "widgets" in nb.metadata:
        found.append("saved widget state in the notebook metadata")
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        found.append(f"{len(tagged)} cells tagged 'parameters' (need exactly one)")
    title = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    if not title.startswith("# "):
        found.append("the first cell is not a markdown title ('# ...')")
    for word in ("objectives", "duration"):
        if word not in title.lower():
            found.append(f"the title cell does not state the {word}")
    last = nb.cells[-1] if nb.cells else None
    if last is None or last.cell_type != "code" or not _asserts(last.source):
        found.append("the last cell does not assert the notebook's outcome")
    return found


def test_the_core_workshop_notebooks_are_present() -> None:
    assert set(EXPECTED) <= {path.stem for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_clean_and_well_formed(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert problems(nb) == [], f"{path.name}: clear the outputs before committing (Edit → Clear Outputs of All Cells)"


def test_a_notebook_with_outputs_is_rejected() -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    code_index = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells[code_index].outputs = [nbformat.v4.new_output("stream", name="stdout", text="leaked\n")]
    nb.cells[code_index].execution_count = 3
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    assert problems(nb) == [f"cell {code_index} has outputs", f"cell {code_index} has an execution count",
                            "saved widget state in the notebook metadata"]


def test_a_notebook_without_the_lesson_format_is_rejected() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Some notes"),
                                         nbformat.v4.new_code_cell("x = 1  # assert nothing")])
    assert problems(nb) == [
        "0 cells tagged 'parameters' (need exactly one)",
        "the first cell is not a markdown title ('# ...')",
        "the title cell does not state the objectives",
        "the title cell does not state the duration",
        "the last cell does not assert the notebook's outcome",
    ]
