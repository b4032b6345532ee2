"""Fits before it loads: expected memory (weights + KV cache) against available RAM, with a fake small "available".

The estimate is checked on the real bundled SmolLM2 folder; the refusal on the real runtime and in the benchmark,
which must record `load_skipped` and go on instead of crashing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.bench.session import run_benchmark
from helpers.measure import memory_fit
from helpers.serve import runtime

from .conftest import SMOL

# Qwen2.5 0.5B's decoder as the builder writes it: 24 layers, 2 KV heads of size 64, float32 on the CPU.
QWEN_05_DECODER = {"num_hidden_layers": 24, "num_key_value_heads": 2, "head_size": 64,
                   "session_options": {"provider_options": []}}


def genai_config(decoder: dict, max_length: int) -> dict:
    return {"model": {"decoder": decoder}, "search": {"max_length": max_length}}


def test_kv_cache_is_layers_heads_head_size_k_and_v_bytes_context():
    assert memory_fit.kv_cache_mb(genai_config(QWEN_05_DECODER, 2048)) == pytest.approx(
        24 * 2 * 64 * 2 * 4 * 2048 / 1e6)
    assert memory_fit.kv_cache_mb(genai_config(QWEN_05_DECODER, 2048), context_length=32768) == pytest.approx(
        24 * 2 * 64 * 2 * 4 * 32768 / 1e6)
    on_gpu = {**QWEN_05_DECODER, "session_options": {"provider_options": [{"cuda": {}}]}}
    assert memory_fit.kv_cache_mb(genai_config(on_gpu, 2048)) == pytest.approx(24 * 2 * 64 * 2 * 2 * 2048 / 1e6)


def test_folder_estimate_adds_weights_kv_and_overhead(tmp_path: Path):
    (tmp_path / "genai_config.json").write_text(json.dumps(genai_config(QWEN_05_DECODER, 1024)))
    (tmp_path / "model.onnx").write_bytes(b"\0" * 1_000_000)
    (tmp_path / "model.onnx.data").write_bytes(b"\0" * 3_000_000)
    (tmp_path / "tokenizer.json").write_bytes(b"\0" * 5_000_000)  # not weights
    estimate = memory_fit.estimate_folder(tmp_path)
    assert estimate.weights_mb == pytest.approx(4.0)
    assert estimate.kv_cache_mb == pytest.approx(24 * 2 * 64 * 2 * 4 * 1024 / 1e6)
    assert estimate.total_mb == pytest.approx(4.0 + estimate.kv_cache_mb + memory_fit.RUNTIME_OVERHEAD_MB)


def test_refusal_names_both_figures_and_a_smaller_model():
    estimate = memory_fit.MemoryEstimate(weights_mb=1000, kv_cache_mb=117, context_length=2048)
    memory_fit.require_fit("big", estimate, available=5000)  # fits: nothing happens
    with pytest.raises(memory_fit.ModelTooLargeError) as caught:
        memory_fit.require_fit("big", estimate, available=900, smaller="small-one")
    message = str(caught.value)
    assert "big will not fit" in message and "1,417 MB" in message and "900 MB is available" in message
    assert "smaller small-one" in message and "KV cache 117 MB at context 2,048" in message


def test_bundled_smollm2_estimate_matches_its_folder(lab):
    item = lab.bundled[SMOL]
    estimate = memory_fit.estimate_folder(item.path)
    config = json.loads((item.path / "genai_config.json").read_text())
    assert estimate.context_length == config["search"]["max_length"] == 2048
    assert 50 < estimate.weights_mb < 150 and estimate.kv_cache_mb > 0


def test_runtime_refuses_to_load_when_available_ram_is_too_small(lab, monkeypatch):
    model, _ = runtime.get_model(SMOL, runtime=lab)
    runtime.unload(model)
    monkeypatch.setattr(memory_fit, "available_mb", lambda: 50.0)
    with pytest.raises(memory_fit.ModelTooLargeError, match=r"50 MB is available now"):
        runtime.load(model)
    assert not model.is_loaded


def test_benchmark_records_load_skipped_and_goes_on(lab, monkeypatch, tmp_path):
    monkeypatch.setattr(memory_fit, "available_mb", lambda: 50.0)
    run = run_benchmark(models=[SMOL], rounds=1, max_tokens=8, prompts="smoke", progress=False, out_dir=tmp_path)
    row = run.summary.set_index("model").loc[SMOL]
    assert row["status"] == "load_skipped"
    [record] = [r for r in map(json.loads, (tmp_path / "results.jsonl").read_text().splitlines())
                if r["type"] == "model"]
    assert record["status"] == "load_skipped" and "will not fit in memory" in record["error"]
