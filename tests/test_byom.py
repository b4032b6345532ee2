"""Bring your own model on the real converter and runtime: convert the bundled SmolLM2 GGUF at a precision the
bundled set lacks, register it in the running process, answer in-process and over the web service; and the
OpenAI-compatible endpoint runner against the kit's web service in another process.

Bad inputs (not a model folder, unsupported architecture, corrupted GGUF, ...) are covered in test_convert.py.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from helpers import benchmark
from helpers.build import bundled, convert
from helpers.core import config, paths
from helpers.measure.timing import time_openai_chat
from helpers.serve import endpoints, registry, runtime
from helpers.workshop import byom

from .conftest import SMOL

TEST_NAME = "byom-test-smollm2-fp32"  # a test-only name, removed afterwards
QUESTION = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture
def smol_gguf(lab) -> str:
    spec = next(b for b in bundled.BUNDLED if b.name == SMOL)
    return str(bundled.fetch_gguf(spec))


def test_gguf_to_fp32_registers_loads_and_answers(lab, smol_gguf):
    try:
        built = byom.build(smol_gguf, TEST_NAME, "fp32", context_length=1024, license="apache-2.0",
                           capabilities=("chat", "short-answer"))
        assert built.status == "built" and built.path == paths.user_models_dir() / TEST_NAME
        assert built.manifest["precision"] == "fp32" and built.manifest["capabilities"] == ["chat", "short-answer"]
        again = byom.build(smol_gguf, TEST_NAME, "fp32", context_length=1024)
        assert again.status == "up to date" and again.seconds < 15

        item = runtime.register(built.path, lab)
        assert item.context_length == 1024 and TEST_NAME in registry.find_bundled()
        answer = byom.probe(TEST_NAME, "Name a colour.", max_tokens=12, rt=lab)
        assert answer.error is None and answer.text.strip() and answer.output_tokens > 0

        client = endpoints.openai_client(runtime.web_service_url(lab))
        over_http = time_openai_chat(client, f"{TEST_NAME}:1", QUESTION, max_tokens=12)
        assert over_http.error is None and over_http.text == answer.text
    finally:
        if TEST_NAME in lab.bundled:
            runtime.unregister(TEST_NAME, lab)
        shutil.rmtree(paths.user_models_dir() / TEST_NAME, ignore_errors=True)
    assert TEST_NAME not in registry.find_bundled()


def test_repo_id_offline_fails_fast_with_advice(monkeypatch, tmp_path):
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", unreachable)
    started = time.monotonic()
    with pytest.raises(convert.ConversionError, match="unreachable") as caught:
        byom.build("HuggingFaceTB/SmolLM2-135M-Instruct", "smol-from-hub")
    assert caught.value.step == "download" and "--local-dir" in caught.value.fix
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name,message", [("Bad Name", "lowercase"), (SMOL, "bundled model")])
def test_bad_names_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        byom.check_name(name)


def test_cli_reports_a_bad_source(tmp_path):
    done = subprocess.run([sys.executable, "-m", "helpers", "byom", str(tmp_path / "missing.gguf"), "--name", "x"],
                          cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "does not exist" in done.stdout


def endpoint_entry(monkeypatch: pytest.MonkeyPatch, name: str, url: str) -> None:
    """models.json as if `name` were `"source": "endpoint"` at `url`."""
    real = config.load_models()
    entry = real.models[name].model_copy(update={"source": "endpoint", "endpoint": url + "/v1", "bundle": None})
    patched = real.model_copy(update={"models": {**real.models, name: entry}})
    monkeypatch.setattr(config, "load_models", lambda *args: patched)


def test_endpoint_runner_against_the_kit_web_service_in_another_process(served_smol, tmp_path, monkeypatch):
    """--endpoint for a whole run, and a models.json endpoint entry side by side with an in-process model."""
    url, server_pid = served_smol
    run = benchmark.run_benchmark(models=[SMOL], prompts="smoke", rounds=1, warmup=0, max_tokens=12,
                                  target="http", endpoint=url, server_pid=server_pid, out_dir=tmp_path,
                                  progress=False)
    endpoint_entry(monkeypatch, SMOL, url)
    mixed = benchmark.run_benchmark(models=["smollm2-135m-instruct-int8", SMOL], prompts="smoke", rounds=1,
                                    warmup=0, max_tokens=12, target="inprocess", out_dir=tmp_path / "mixed",
                                    progress=False)
    row = run.summary.iloc[0]
    # the kit's served API lists aliases (what a client sends), so the id requests used is the alias
    assert row["status"] == "ok" and row["n"] == row["n_planned"] and row["model_id"] == SMOL
    assert row["peak_rss_mb"] > 50, "the server's memory is sampled through --server-pid"
    assert run.header["target"]["description"].startswith(f"external endpoint {url}")
    both = mixed.summary.set_index("model")
    assert (both["status"] == "ok").all()
    assert both.loc[SMOL, "model_id"] == SMOL and pd.isna(both.loc[SMOL, "execution_provider"])
    assert both.loc["smollm2-135m-instruct-int8", "execution_provider"] == "CPUExecutionProvider"
    assert pd.isna(both.loc[SMOL, "peak_rss_mb"]) and "not observable" in both.loc[SMOL, "notes"]
