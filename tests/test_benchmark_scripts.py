"""Every script in benchmarks/ still imports (harness_overhead.py had broken on a removed private name unseen)."""
from __future__ import annotations

import importlib

import pytest

from helpers.core.paths import REPO_ROOT

SCRIPTS = sorted(path.stem for path in (REPO_ROOT / "benchmarks").glob("*.py") if path.stem != "__init__")


def test_there_are_benchmark_scripts() -> None:
    assert SCRIPTS, "benchmarks/ holds no script: the import check below would pass on nothing"


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_script_imports(name: str) -> None:
    """Imported, not run: a benchmark loads models and takes minutes; it prints figures, it asserts nothing."""
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, f"benchmarks/{name}.py: say what it measures and how to run it"
