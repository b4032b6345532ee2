"""Both spellings of the Foundry Local CLI: the session's (`model run`, `service start|status`, `cache list`) and
today's, CLI 0.10+ (`run`, `server start|status`, `model list|info|download|load|unload`, `cache ls`, `-o json`).

The first tests need no model (they check that both spellings reach the same action, and the verbs' answers where
nothing runs); the last ones run the real bundled SmolLM2 behind `foundry-lab serve`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import __main__ as cli
from helpers.core import paths
from helpers.workshop import server_verbs, terminal

SMOL = "smollm2-135m-instruct-int4"


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Replace every action with a recorder; returns the list of (action, args) the command line reached."""
    calls: list[tuple] = []
    for module, names in ((terminal, ("model_run", "model_list", "cache_list", "model_download")),
                          (server_verbs, ("load", "unload", "print_status"))):
        for name in names:
            monkeypatch.setattr(module, name, lambda *a, _n=name: calls.append((_n, *a)) or 0)
    monkeypatch.setattr("helpers.serve.runtime.serve", lambda models, port: calls.append(("serve", models, port)))
    return calls


@pytest.mark.parametrize("old, new, expected", [
    (["model", "run", SMOL, "--prompt", "hi"], ["run", SMOL, "--prompt", "hi"], ("model_run", SMOL, "hi", "auto", None, None)),
    (["model", "run", SMOL, "--max-tokens", "8"], ["run", SMOL, "--max-tokens", "8"], ("model_run", SMOL, None, "auto", 8, None)),
    (["model", "run", SMOL, "--threads", "2"], ["run", SMOL, "--threads", "2"], ("model_run", SMOL, None, "auto", None, 2)),
    (["service", "start", "--models", SMOL, "--port", "0"], ["server", "start", "--models", SMOL, "--port", "0"],
     ("serve", [SMOL], 0)),
    (["service", "status"], ["server", "status"], ("print_status", False)),
    (["cache", "list"], ["cache", "ls"], ("cache_list", False)),
    (["serve", "--models", SMOL], ["server", "start", "--models", SMOL], ("serve", [SMOL], None)),
    (["catalog"], ["model", "list"], ("model_list", False)),
])
def test_old_and_new_spellings_reach_the_same_action(monkeypatch, old, new, expected):
    calls = _calls(monkeypatch)
    assert cli.main(old) == 0 and cli.main(new) == 0
    assert calls == [expected, expected]


@pytest.mark.parametrize("argv, expected", [
    (["model", "list", "-o", "json"], ("model_list", True)),
    (["cache", "ls", "-o", "json"], ("cache_list", True)),
    (["server", "status", "--output", "json"], ("print_status", True)),
    (["model", "load", SMOL, "--device", "cpu"], ("load", SMOL, "cpu")),
    (["model", "unload", SMOL], ("unload", SMOL)),
])
def test_todays_verbs_and_json_output(monkeypatch, argv, expected):
    calls = _calls(monkeypatch)
    assert cli.main(argv) == 0
    assert calls == [expected]


def _foundry_lab(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


@pytest.mark.cli
def test_server_status_with_nothing_running_says_how_to_start_one(unused_port):
    run = _foundry_lab("server", "status", "-o", "json", FOUNDRY_LAB_PORT=str(unused_port))
    assert run.returncode == 1
    status = json.loads(run.stdout)
    assert status["running"] is False and status["kind"] == "none" and str(unused_port) in status["detail"]
    old = _foundry_lab("service", "status", FOUNDRY_LAB_PORT=str(unused_port))
    assert old.returncode == 1 and "foundry-lab server start" in old.stdout


@pytest.mark.cli
def test_model_load_without_a_server_is_one_clear_line(unused_port):
    run = _foundry_lab("model", "load", SMOL, FOUNDRY_LAB_PORT=str(unused_port))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: No server to load into") and "server start" in run.stderr


@pytest.mark.cli
def test_model_info_of_a_catalog_model_offline_comes_from_models_json():
    run = _foundry_lab("model", "info", "phi-4-mini", "-o", "json", FOUNDRY_LAB_OFFLINE="1")
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout)
    assert facts["license"] == "mit" and facts["tool_calling"] is True and facts["disk_mb"] == 3700
    assert facts["disk_measured"] is False and facts["variants"] == []
    assert "catalog unreachable (offline): variants unknown" in facts["sources"]


@pytest.mark.cli
def test_model_info_of_an_unknown_model_names_it():
    run = _foundry_lab("model", "info", "no-such-model", FOUNDRY_LAB_OFFLINE="1")
    assert run.returncode == 1 and "'no-such-model' is not known here" in run.stderr and "Traceback" not in run.stderr


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- with the real bundled model ----------------------------------------------------------------------------------

def test_model_info_of_a_bundled_model_reads_its_folder(lab):
    from helpers.workshop.model_info import model_facts, render

    facts = model_facts(SMOL)
    assert facts.source == "bundled" and facts.context_length == 2048 and facts.disk_measured
    assert facts.disk_mb == pytest.approx(lab.bundled[SMOL].meta["size_mb"], rel=0.05)
    assert [(v.device, v.execution_provider) for v in facts.variants] == [("cpu", "CPUExecutionProvider")]
    assert facts.tool_calling is not None  # SmolLM2's template says either way; known, not guessed
    text = render(facts)
    assert "2048 tokens" in text and "(on disk)" in text and "apache-2.0" in text


@pytest.mark.model
def test_run_is_model_run_on_the_real_model():
    run = _foundry_lab("run", SMOL, "--prompt", "Say hello.", "--max-tokens", "8")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{SMOL}: ") and "TTFT" in run.stdout


def test_server_status_load_and_unload_at_the_kits_server(served_smol):
    url, pid = served_smol
    port = url.rsplit(":", 1)[1]
    status = json.loads(_foundry_lab("server", "status", "-o", "json", FOUNDRY_LAB_PORT=port).stdout)
    assert status["running"] and status["kind"] == "kit" and status["pid"] == pid and SMOL in status["models"]
    unloaded = _foundry_lab("model", "unload", SMOL, FOUNDRY_LAB_PORT=port)
    assert unloaded.returncode == 0, unloaded.stderr
    assert SMOL not in json.loads(_foundry_lab("server", "status", "-o", "json", FOUNDRY_LAB_PORT=port).stdout)["models"]
    loaded = _foundry_lab("model", "load", SMOL, FOUNDRY_LAB_PORT=port)
    assert loaded.returncode == 0 and "loaded at" in loaded.stdout, loaded.stderr
    assert SMOL in json.loads(_foundry_lab("server", "status", "-o", "json", FOUNDRY_LAB_PORT=port).stdout)["models"]


@pytest.mark.parametrize("argv", [("cache", "ls", "-o", "json"), ("model", "list", "-o", "json")])
def test_json_output_lists_the_bundled_model(lab, argv):
    run = _foundry_lab(*argv)
    assert run.returncode == 0, run.stderr
    rows = {row["alias"]: row for row in json.loads(run.stdout)}  # the whole stdout is JSON: no extra lines
    assert rows[SMOL]["size_mb"] > 0


def test_tool_calling_is_read_from_the_chat_template(tmp_path):
    from helpers.workshop.model_info import template_supports_tools

    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": "{% if tools %}<tools>{{ tools | tojson }}</tools>{% endif %}{{ messages }}"}))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    (tmp_path / "none").mkdir()
    assert [template_supports_tools(tmp_path / name) for name in ("tools", "plain", "none")] == [True, False, None]
