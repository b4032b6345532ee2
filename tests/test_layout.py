"""The package layout keeps its promises: every name a notebook calls resolves, setup needs only the standard
library, comma lists parse one way, and benchmark settings fail in the config files' style."""
from __future__ import annotations

import dataclasses
import importlib
import json
import re
import subprocess
import sys

import pytest

import helpers
from helpers import catalog_tables, runtime
from helpers.__main__ import main as cli
from helpers.bench.settings import BenchConfig, resolve_config
from helpers.config import ConfigError
from helpers.lists import comma_list
from helpers.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def _notebook_code(path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_helpers_name_a_notebook_uses_resolves(notebook) -> None:
    code = _notebook_code(notebook)
    imported = [name.strip() for line in re.findall(r"^from helpers import (.+)$", code, re.M) for name in line.split(",")]
    assert imported, f"{notebook.name} imports nothing from helpers"
    for module_name in imported:
        module = getattr(helpers, module_name, None) or importlib.import_module(f"helpers.{module_name}")
        for attr in set(re.findall(rf"(?<![\w.]){module_name}\.([A-Za-z_]\w*)", code)):
            assert hasattr(module, attr), f"{notebook.name}: {module_name}.{attr} no longer exists"
    for module_name, names in re.findall(r"^from (helpers\.[\w.]+) import (.+)$", code, re.M):
        module = importlib.import_module(module_name)
        assert all(hasattr(module, name.strip()) for name in names.split(",")), (notebook.name, module_name)


def test_runtime_still_offers_the_catalog_tables() -> None:
    assert runtime.list_catalog is catalog_tables.list_catalog
    assert runtime.cache_table is catalog_tables.cache_table
    with pytest.raises(AttributeError):
        runtime.no_such_name  # noqa: B018 - the attribute access is the test


@pytest.mark.cli
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
