"""`foundry-lab`, the installed command: the seed's verbs, streamed answers with timing, errors without tracebacks,
and every verb against the Foundry Local app service (emulated on loopback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from helpers.core import paths

SMOL = "smollm2-135m-instruct-int4"
FOUNDRY_LAB = Path(sys.executable).with_name("foundry-lab")


def _run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    assert FOUNDRY_LAB.exists(), "setup installs the kit (pip install -e) with its `foundry-lab` command"
    return subprocess.run([str(FOUNDRY_LAB), *args], cwd=paths.REPO_ROOT, input=stdin, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "FOUNDRY_LAB_PORT": "0", **env})


def test_the_command_offers_the_seed_verbs_and_the_kit_verbs():
    run = _run("--help")
    assert run.returncode == 0 and run.stdout.startswith("usage: foundry-lab")
    for verb in ("model", "cache", "serve", "bench", "report", "preflight", "byom", "route", "setup"):
        assert verb in run.stdout
    assert "list" in _run("model", "--help").stdout and "remove" in _run("cache", "--help").stdout


def test_model_run_streams_the_answer_then_its_timing():
    run = _run("model", "run", SMOL, "--prompt", "List three benefits of local inference.", "--max-tokens", "24")
    assert run.returncode == 0, run.stderr
    answer, _, timing = run.stdout.rpartition("\n[")
    assert answer.startswith(f"{SMOL}: ") and answer.removeprefix(f"{SMOL}: ").strip()
    assert timing.startswith("TTFT ") and " tok/s" in timing and "24 tokens" in timing
    assert f"{SMOL}:1 loaded in-process" in run.stderr


def test_model_run_without_a_prompt_is_a_chat_that_keeps_the_conversation():
    run = _run("model", "run", SMOL, "--max-tokens", "8", stdin="My name is Ada.\nWhat is my name?\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count(f"{SMOL}: ") == 2 and run.stdout.count("\n[TTFT ") == 2


@pytest.mark.parametrize("args, says", [
    (("cache", "remove", SMOL), "is a bundled model built by setup"),
    (("model", "run", "no-such-model", "--prompt", "hi"), "Model 'no-such-model' not found"),
])
def test_clear_errors_are_one_line_without_a_traceback(args, says):
    run = _run(*args)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert "Traceback" not in run.stderr and last.startswith("error: ") and says in last


@pytest.mark.parametrize("args, env, code, says", [
    (("serve", "--port", "99999"), {}, 2, "argument --port: needs a whole number from 0 to 65535, got '99999'"),
    (("serve",), {"FOUNDRY_LAB_PORT": "abc"}, 1,
     "error: FOUNDRY_LAB_PORT must be a port number from 1 to 65535 (or 0 for any free port), got 'abc'."),
    (("model", "run", SMOL, "--prompt", "hi"), {"FOUNDRY_LAB_PORT": "70000"}, 1, "FOUNDRY_LAB_PORT must be a port"),
    (("model", "run", SMOL, "--prompt", "hi", "--max-tokens", "0"), {}, 2,
     "argument --max-tokens: needs a whole number from 1 up, got '0'"),
    (("route", "chat", "--max-p95-ms", "-5"), {}, 2, "argument --max-p95-ms: needs a number above 0, got '-5'"),
    (("byom", "x.gguf", "--name", "x", "--context-length", "0"), {}, 2, "argument --context-length: needs a whole"),
])
def test_out_of_range_numbers_are_refused_before_anything_starts(args, env, code, says):
    """Was: a traceback (OverflowError from bind, ValueError from int()), or --max-tokens 0 answering 46 tokens."""
    run = _run(*args, **env)
    assert run.returncode == code and "Traceback" not in run.stderr
    assert says in run.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("args, env, code, says", [
    (("model", "list"), {"FOUNDRY_LOCAL_ENDPOINT": "garbage"}, 1,
     "error: FOUNDRY_LOCAL_ENDPOINT='garbage' is not a server URL: give one like http://127.0.0.1:5272/v1"),
    (("model", "run", SMOL, "--prompt", "hi"), {"FOUNDRY_LOCAL_ENDPOINT": "http://127.0.0.1:9/v1"}, 1,
     "error: cannot reach http://127.0.0.1:9/v1/ ("),
    (("bench", "--endpoint", "notaurl", "--models", SMOL), {}, 2,
     "endpoint (--endpoint / FOUNDRY_LOCAL_ENDPOINT): is not a server URL"),
])
def test_a_bad_or_silent_endpoint_is_named(args, env, code, says):
    """Was: a garbage FOUNDRY_LOCAL_ENDPOINT silently ignored; an unreachable one an APIConnectionError traceback."""
    run = _run(*args, **env)
    assert run.returncode == code and "Traceback" not in run.stderr
    assert any(line.strip().lstrip("- ").startswith(says) for line in run.stderr.splitlines()), run.stderr


def test_old_verbs_keep_working():
    run = subprocess.run([sys.executable, "-m", "helpers", "cache", "--remove", SMOL], cwd=paths.REPO_ROOT,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "FOUNDRY_LAB_PORT": "0"})
    assert run.returncode == 1 and "is a bundled model" in run.stderr
    catalog = subprocess.run([sys.executable, "-m", "helpers", "catalog"], cwd=paths.REPO_ROOT, capture_output=True,
                             text=True, timeout=300)
    assert catalog.returncode == 0 and SMOL in catalog.stdout


# --- against the Foundry Local app's service --------------------------------------------------------------------

def test_every_verb_works_against_the_app_service(app_service_url, tmp_path):
    service = {"FOUNDRY_LOCAL_ENDPOINT": app_service_url}
    listed = _run("model", "list", **service)
    assert listed.returncode == 0 and "phi-4-mini" in listed.stdout and "service" in listed.stdout

    downloaded = _run("model", "download", "phi-4-mini", **service)
    assert downloaded.returncode == 0, downloaded.stderr
    assert "100/100%" in downloaded.stderr or "already in the service's cache" in downloaded.stdout
    cache = _run("cache", "list", **service)
    assert "Phi-4-mini-instruct-generic-cpu:1" in cache.stdout and "cache folder (at the service)" in cache.stdout

    answered = _run("model", "run", SMOL, "--prompt", "Say hi.", "--max-tokens", "8", **service)
    assert answered.returncode == 0 and "\n[TTFT " in answered.stdout and "at the service" in answered.stderr

    out = tmp_path / "run"
    bench = _run("bench", "--models", SMOL, "--device", "gpu", "--rounds", "1", "--warmup", "0", "--prompts", "smoke",
                 "--max-tokens", "8", "--out", str(out), **service)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert "GPU requested but the service could not load" in bench.stdout + bench.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "status"] == "ok" and summary.loc[0, "load_s"] > 0
    with urllib.request.urlopen(f"{app_service_url}/emulator/requests", timeout=10) as reply:
        routes = [(r["path"], r["query"].get("ep")) for r in json.load(reply)]
    assert (f"/openai/load/{SMOL}-cuda-gpu:1", "cuda") in routes and (f"/openai/unload/{SMOL}-generic-cpu:1", None) in routes

    checked = _run("preflight", "--models", "phi-4-mini", **service)
    assert checked.returncode == 0, checked.stdout
    assert "at the service" in checked.stdout and "answers in-process" not in checked.stdout


def test_preflight_json_prints_only_json_on_stdout():
    """`foundry-lab preflight --json | jq` failed: "Web service: … is this process's own …" came first on stdout."""
    run = _run("preflight", "--models", SMOL, "--json")
    checks = json.loads(run.stdout)  # the whole of stdout is the JSON list
    assert "endpoint" in {c["check"] for c in checks}
    assert "Web service:" in run.stderr  # the informational line is still shown, on stderr


def test_downloading_a_bundled_model_says_there_is_nothing_to_download():
    run = _run("model", "download", SMOL)
    assert run.returncode == 0 and "nothing to download, so no progress bar" in run.stdout and "on disk at:" in run.stdout


def test_preflight_at_another_openai_server_checks_its_models_not_the_kits():
    """FOUNDRY_LOCAL_ENDPOINT at llama.cpp/vLLM/Ollama: was 'Model fixture-model not found … offline' (looked up
    in-process) although the server lists and serves it."""
    from .fixture_server import Script, serve

    with serve(Script(tokens=4)) as base_url:
        run = _run("preflight", "--models", "fixture-model,no-such-model", "--json",
                   FOUNDRY_LOCAL_ENDPOINT=f"{base_url}/v1")
    assert run.returncode == 1, run.stderr
    rows = {(c["check"], c["target"]): c for c in json.loads(run.stdout)}
    assert rows[("model listed", "fixture-model")]["ok"] and rows[("model listed", "fixture-model")]["detail"] == "fixture-model:1"
    assert rows[("answers over HTTP", "fixture-model")]["ok"]
    missing = rows[("model listed", "no-such-model")]
    assert not missing["ok"] and f"{base_url} lists no model 'no-such-model' (it lists fixture-model:1)" in missing["detail"]
    assert not any(check == "load" for check, _ in rows)  # nothing loaded in-process
