"""The suite's nbval runs of the heaviest notebooks, scaled down: parameters injected after each notebook's
`parameters` cell (`notebook_run.with_parameters`, papermill's way) before nbval collects its cells.

Every notebook still runs top to bottom under nbval and asserts its own outcome; only the amount of work shrinks
(one round, one prompt, the small judge, 06's answers capped at 128 tokens), because the same notebooks also run headless with reduced parameters
(test_notebook_claims, test_app_service_notebooks) and in the browser (tests/browser), and a full-size 05 alone
took 3.5 minutes of the suite. `pytest notebooks/05_compare.ipynb` without the tests/ folder runs it full size.

nbval reads a notebook with `nbformat.read` in its plugin module; `install()` gives that module a stand-in whose
`read` injects the cell and which hands every other name to nbformat.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from .notebook_run import with_parameters

SMOL = "smollm2-135m-instruct-int4"
NBVAL_PARAMETERS: dict[str, dict[str, Any]] = {
    "04_benchmark": {"ROUNDS": 1},
    "05_compare": {"MAX_PROMPTS": 1, "JUDGE": SMOL},
    "06_bring_your_own_model": {"ROUNDS": 1, "MAX_TOKENS": 128},
}


class _InjectingReader:
    """nbformat, except that `read` of a notebook in NBVAL_PARAMETERS injects its parameters."""

    def __getattr__(self, name: str) -> Any:
        return getattr(nbformat, name)

    @staticmethod
    def read(path: Any, as_version: int, **kwargs: Any) -> nbformat.NotebookNode:
        notebook = nbformat.read(path, as_version=as_version, **kwargs)
        values = NBVAL_PARAMETERS.get(Path(str(path)).stem)
        return nbformat.from_dict(with_parameters(notebook, values)) if values else notebook


def install() -> None:
    """Make nbval read the scaled-down notebooks (a no-op without nbval)."""
    try:
        import nbval.plugin
    except ImportError:
        return
    nbval.plugin.nbformat = _InjectingReader()
