"""Every script in benchmarks/ still imports (harness_overhead.py had broken on a removed private name unseen)."""
from __future__ import annotations

import ast
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


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_script_uses_only_public_names_of_the_kit(name: str) -> None:
    """A private name of `helpers` can vanish in any refactor (how harness_overhead.py broke); the scripts in
    benchmarks/ may share their own `_` helpers (`benchmarks._genai_loop`)."""
    tree = ast.parse((REPO_ROOT / "benchmarks" / f"{name}.py").read_text(encoding="utf-8"))
    private = [f"{node.module}.{alias.name}" for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers")
               for alias in node.names if alias.name.startswith("_")]
    private += [f"{node.value.id}.{node.attr}" for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and node.attr.startswith("_") and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in _kit_modules(tree)]
    assert not private, f"benchmarks/{name}.py uses private names of the kit: {private}; make them public"


def _kit_modules(tree: ast.Module) -> set[str]:
    """Names a script binds to modules of `helpers` (`from helpers.serve import runtime`, `import helpers.x as y`)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
            bound |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            bound |= {alias.asname or alias.name for alias in node.names if alias.name.startswith("helpers")}
    return bound
