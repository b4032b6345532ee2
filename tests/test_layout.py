"""The package layout keeps its promises: every name a notebook calls resolves, setup needs only the standard
library, comma lists parse one way, and benchmark settings fail in the config files' style."""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
import sys

import pytest

import helpers
from helpers.__main__ import main as cli
from helpers.bench.settings import BenchConfig, resolve_config
from helpers.core.config import ConfigError
from helpers.core.lists import comma_list
from helpers.core.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def _notebook_code(path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return re.sub(r"^(\s*)([%!])", r"\1# \2", code, flags=re.M)  # IPython magics and shell lines: not Python


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_helpers_name_a_notebook_uses_resolves(notebook) -> None:
    """Notebooks import only from `helpers` (its LAB table), and every `name.attribute` they call exists."""
    tree = ast.parse(_notebook_code(notebook))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom | ast.Import)]
    kit_modules = [node.module for node in imports if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("helpers.")]
    assert not kit_modules, f"{notebook.name} imports {kit_modules}: notebooks import from `helpers` only"
    imported = [alias.name for node in imports if isinstance(node, ast.ImportFrom) and node.module == "helpers"
                for alias in node.names]
    assert imported, f"{notebook.name} imports nothing from helpers"
    for name in imported:
        assert name in helpers.LAB, f"{notebook.name}: helpers.{name} is not a notebook-facing name (helpers.LAB)"
        owner = getattr(helpers, name)
        for attr in {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                     and isinstance(node.value, ast.Name) and node.value.id == name}:
            assert hasattr(owner, attr), f"{notebook.name}: {name}.{attr} no longer exists"


def test_every_notebook_facing_name_resolves() -> None:
    for name in helpers.LAB:
        assert getattr(helpers, name) is not None
    with pytest.raises(AttributeError):
        helpers.no_such_name  # noqa: B018 - the attribute access is the test


def test_setup_path_imports_only_the_standard_library() -> None:
    code = ("import sys; import helpers.__main__, helpers.build, helpers.build.setup_env, helpers.build.convert; "
            "print(sorted(m for m in ('pydantic', 'pandas', 'numpy', 'tqdm', 'psutil', 'foundry_local_sdk') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("given", "expected"), [
    ("a, b,,c ", ["a", "b", "c"]), ("", []), (None, []), (" , ", []), (["x ", " y", ""], ["x", "y"]),
])
def test_comma_list(given, expected) -> None:
    assert comma_list(given) == expected


def test_bad_settings_are_all_named_with_flag_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        BenchConfig(models=" , ", rounds=0, max_tokens=0, device="tpu", target="grpc", sweep=(2, 0))
    message = str(caught.value)
    assert message.startswith("Invalid benchmark settings: 6 problem(s):")
    for expected in ("models (--models / BENCH_MODELS): is empty", "rounds (--rounds / BENCH_ROUNDS)",
                     "max_tokens (--max-tokens / BENCH_MAX_TOKENS)", "device (--device)", "got 'tpu'",
                     "target (--target)", "sweep (--sweep)"):
        assert expected in message
    assert "Fix the named setting(s)" in message


def test_http_only_settings_need_the_http_target() -> None:
    with pytest.raises(ConfigError, match="endpoint .*needs --target http.*sweep .*needs --target http"):
        BenchConfig(models=("a",), target="inprocess", endpoint="http://127.0.0.1:1/v1", sweep=(1,))


def test_settings_normalise_and_replace_validates() -> None:
    config = BenchConfig(models="a, b", target="http", endpoint="http://127.0.0.1:1/v1/", sweep=[1, 2])
    assert (config.models, config.endpoint, config.sweep) == (("a", "b"), "http://127.0.0.1:1", (1, 2))
    assert dataclasses.replace(config, device="cpu").device == "cpu"  # notebook 04 uses dataclasses.replace
    with pytest.raises(ConfigError, match="rounds"):
        dataclasses.replace(config, rounds=-1)


def test_unknown_setting_and_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"unknown benchmark setting\(s\) \['round'\]"):
        resolve_config({"models": "a", "round": 3})
    monkeypatch.setenv("BENCH_ROUNDS", "three")
    with pytest.raises(ConfigError, match="BENCH_ROUNDS must be a whole number, got 'three'"):
        resolve_config({"models": "a"})


def test_cli_bad_settings_exit_2_without_traceback(tmp_path, capsys: pytest.CaptureFixture) -> None:
    assert cli(["bench", "--models", "a", "--rounds", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "rounds (--rounds / BENCH_ROUNDS): Input should be greater than or equal to 1, got 0" in err
    assert "Traceback" not in err
    assert not (tmp_path / "results.jsonl").exists()  # nothing started


@pytest.mark.parametrize("models", ["", " , "])
def test_an_explicitly_empty_model_list_is_an_error_not_the_default_benchmark(models: str) -> None:
    """`--models ""` (a shell variable that was empty) ran the whole default ladder for minutes."""
    with pytest.raises(ConfigError, match=r"models \(--models / BENCH_MODELS\): is empty: name at least one model"):
        resolve_config({"models": models})


def test_an_out_folder_that_is_a_file_is_named(tmp_path, capsys: pytest.CaptureFixture) -> None:
    taken = tmp_path / "notes.json"
    taken.write_text("{}", encoding="utf-8")
    assert cli(["bench", "--models", "a", "--out", str(taken)]) == 2  # was a FileExistsError traceback
    assert capsys.readouterr().err.strip() == (f"--out {taken}: is a file, not a folder. Give a folder for the run's "
                                               "files (created when missing).")
    assert taken.read_text(encoding="utf-8") == "{}"
