"""The runtime layer on the real Foundry Local runtime with the real bundled models, offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.core import paths
from helpers.measure.timing import time_inprocess_chat, time_openai_chat
from helpers.present import tables
from helpers.serve import endpoints, runtime
from helpers.serve.errors import ModelNotFoundError
from helpers.serve.offline_catalog import CatalogModel, catalog_entry

from .conftest import SMOL

HELLO = [{"role": "user", "content": "Say hello in five words."}]


def _run_helpers(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "FOUNDRY_LAB_PORT": "0", **(env or {})})


def test_start_is_idempotent_in_process(lab):
    assert runtime.start(quiet=True) is lab


def test_registration_is_idempotent_across_processes(lab):
    script = (
        "from helpers import runtime; from foundry_local_sdk import CatalogType; rt = runtime.start(quiet=True); "
        "print(sorted(m.id for m in rt.manager.get_catalog(CatalogType.LOCAL).list_models()))"
    )
    outputs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout.strip().splitlines()[-1])
    assert outputs[0] == outputs[1]
    assert f"'{SMOL}:1'" in outputs[0]
    assert outputs[0].count(f"'{SMOL}:1'") == 1


def test_catalog_lists_bundled_models_with_metadata(lab):
    table = tables.list_catalog(lab)
    row = table[table.alias == SMOL].iloc[0]
    assert row.source == "bundled" and row.cached
    assert row.license == "apache-2.0"
    assert row.context_length == 2048
    assert row.device == "cpu" and row.execution_provider == "CPUExecutionProvider"
    assert 50 < row.size_mb < 200
    size_classes = dict(zip(table.alias, table.size_class))
    assert size_classes[SMOL] == "tiny" and size_classes["qwen2.5-coder-1.5b-instruct-int4"] == "mid"


def test_inprocess_chat_answers_with_usage(smol):
    streamed = time_inprocess_chat(smol, HELLO, max_tokens=16)
    assert streamed.error is None and streamed.text.strip()
    assert streamed.tokens_source == "usage" and streamed.output_tokens > 0 and streamed.prompt_tokens > 0
    assert len(streamed.token_times) > 1 and streamed.ttft_ms > 0
    whole = time_inprocess_chat(smol, HELLO, max_tokens=16, stream=False)
    assert whole.error is None and whole.text.strip() and whole.output_tokens > 0


def test_web_service_lists_aliases_and_streams_usage(lab, smol):
    """The served API lists what a client should send (the alias) and accepts the alias and the variant id."""
    client = endpoints.openai_client(runtime.web_service_url(lab))
    listed = {m.id: m for m in client.models.list()}
    assert SMOL in listed and listed[SMOL].model_extra["foundry_id"] == f"{SMOL}:1"
    assert runtime.web_service_url(lab).startswith("http://127.0.0.1:")
    by_id = client.chat.completions.create(model=f"{SMOL}:1", messages=HELLO, max_tokens=8, temperature=0)
    assert by_id.choices[0].message.content.strip()
    stream = client.chat.completions.create(model=SMOL, messages=HELLO, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = [c.usage for c in chunks if c.usage]
    assert text.strip()
    assert usage and usage[-1].completion_tokens > 0


def test_http_and_inprocess_give_the_same_answer_at_temperature_zero(lab, smol):
    client = endpoints.openai_client(runtime.web_service_url(lab))
    over_http = time_openai_chat(client, f"{SMOL}:1", HELLO, max_tokens=12)
    in_process = time_inprocess_chat(smol, HELLO, max_tokens=12)
    assert over_http.text == in_process.text


def test_external_endpoint_mode(served_smol, monkeypatch):
    """FOUNDRY_LOCAL_ENDPOINT: the same code talks to a web service started by another process."""
    url, _ = served_smol
    monkeypatch.setenv(endpoints.ENDPOINT_ENV, url + "/v1")
    assert runtime.web_service_url() == url
    client = endpoints.openai_client(runtime.web_service_url())
    model_id = endpoints.http_model_id(SMOL, client)
    assert model_id == SMOL  # the kit's server lists aliases
    trial = time_openai_chat(client, model_id, HELLO, max_tokens=12)
    assert trial.error is None and trial.text.strip() and trial.tokens_source == "usage"


def test_gpu_request_on_cpu_machine_says_what_is_missing(lab):
    model, choice = runtime.get_model(SMOL, "gpu", lab)
    assert choice.device == "cpu" and model.id == f"{SMOL}:1"
    assert "GPU requested but no GPU execution provider is available" in choice.message
    assert "Continuing on the CPU" in choice.message


def test_unknown_model_is_named(lab):
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        runtime.get_model("no-such-model", runtime=lab)


def test_load_and_unload_with_timing(lab):
    model, _ = runtime.get_model("smollm2-135m-instruct-int8", runtime=lab)
    runtime.unload(model)
    seconds = runtime.load(model)
    assert model.is_loaded and seconds > 0
    assert runtime.load(model) == 0.0
    runtime.unload(model)
    assert not model.is_loaded


def test_cache_table_has_sizes(lab):
    table = tables.cache_table(lab)
    assert SMOL in set(table.alias)
    assert (table[table.alias == SMOL].size_mb > 50).all()


def test_bundled_model_cannot_be_removed_from_cache(lab):
    with pytest.raises(ValueError, match="bundled model built by setup"):
        runtime.remove_from_cache(SMOL)


def test_offline_catalog_entry_format_is_pinned():
    """The asset-gallery format is not a documented contract: these are the fields Foundry Local 2.2.1 reads."""
    entry = catalog_entry(CatalogModel(name="m-int4", alias="m-int4", display_name="M", license="mit"))
    assert entry["name"] == entry["entityId"] == "m-int4" and entry["version"] == "1"
    assert entry["annotations"]["tags"] == {"alias": "m-int4", "task": "chat-completion", "license": "mit"}
    assert entry["properties"]["variantInfo"]["variantMetadata"] == {
        "device": "cpu", "executionProvider": "CPUExecutionProvider", "modelType": "ONNX"}
    placed = paths.model_cache_dir() / "local" / SMOL / "inference_model.json"
    assert json.loads(placed.read_text()) == {"Name": f"{SMOL}:1", "PromptTemplate": None}


def test_preflight_cli_json_passes_for_a_bundled_model(lab):
    done = _run_helpers("preflight", "--models", SMOL, "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    checks = json.loads(done.stdout[done.stdout.index("["):])
    assert all(c["ok"] for c in checks)
    assert {"answers in-process", "answers over HTTP"} <= {c["check"] for c in checks}


def test_preflight_cli_fails_with_fix_for_unknown_model(lab):
    done = _run_helpers("preflight", "--models", "no-such-model", "--json", "--no-http")
    assert done.returncode == 1
    failed = [c for c in json.loads(done.stdout[done.stdout.index("["):]) if not c["ok"]]
    assert failed[0]["target"] == "no-such-model" and "setup" in failed[0]["fix"]
