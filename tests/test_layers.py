"""The import layers of `helpers` (README "Layout"): a package imports only from its own layer or the ones below,
and no module imports itself back through others at import time. Pure: reads the sources with `ast`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.core.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "helpers"
LAYERS = ["core", "measure", "build", "serve", "bench", "evaluate", "present", "workshop", "classroom", "__main__"]
RANK = {name: rank for rank, name in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """The layer a module belongs to: `helpers.serve.runtime` -> `serve`; the root package is the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__main__"


def _imports(path: Path, module: str | None = None, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every `helpers` module `path` (named `module`) imports; with `top_level_only`, the
    imports that run when the module is imported (not inside a function, not under `if TYPE_CHECKING:`)."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # descend into try/if blocks that run at import, except TYPE_CHECKING ones
        stack, nodes = list(nodes), []
        while stack:
            node = stack.pop()
            nodes.append(node)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try):
                stack.extend(ast.iter_child_nodes(node))
    found: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "helpers"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "helpers":
                continue
            for alias in node.names:  # `from . import runtime` imports the module helpers.serve.runtime
                sub = f"{target}.{alias.name}"
                is_module = (REPO_ROOT / Path(*sub.split("."))).with_suffix(".py").is_file() or \
                    (REPO_ROOT / Path(*sub.split("."))).is_dir()
                found.append((node.lineno, sub if is_module else target))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages <= set(LAYERS), f"packages without a layer: {sorted(packages - set(LAYERS))}: add them to LAYERS"


def _upward(path: Path, module: str) -> list[str]:
    """The imports of `path` (module `module`) that reach above its layer."""
    own = _package(module)
    if own == "__main__" or module == "helpers":
        return []  # the command line and the notebook-facing names sit on top of everything
    return [f"line {line}: {target} ({_package(target)})" for line, target in _imports(path, module)
            if RANK[_package(target)] > RANK[own]]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_its_own_layer_or_below(path: Path) -> None:
    upward = _upward(path, _module_name(path))
    assert not upward, f"{path.relative_to(REPO_ROOT)} imports from a higher layer: {upward}"


def test_no_import_cycles() -> None:
    graph = {_module_name(p): {t for _, t in _imports(p, top_level_only=True)} for p in SOURCES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = trail[trail.index(target):] + [target] if target in trail else [module, target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target in graph and not state.get(target):
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: an upward import in a core module is reported, a sideways one is not."""
    probe = tmp_path / "probe.py"
    probe.write_text("from ..serve import runtime\nfrom . import paths\n", encoding="utf-8")
    assert _upward(probe, "helpers.core.probe") == ["line 1: helpers.serve.runtime (serve)"]
