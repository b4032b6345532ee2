"""Measurement accuracy of helpers.timing against a scripted server (and, when built, the bundled SmolLM2)."""
from __future__ import annotations

import json
import statistics
from collections.abc import Iterator

import openai
import pytest

from fixture_server import Script, serve
from helpers import paths
from helpers.timing import NO_STREAM_NOTE, TrialTiming, time_inprocess_chat, time_openai_chat

# Script of the accuracy tests: the measured numbers must come back within these tolerances. Client and server
# share 2 cores, and the client's own send overhead (~5 ms per request once warm) is part of any real TTFT.
TTFT_S, GAP_S, TOKENS = 0.200, 0.020, 30
TTFT_TOL_MS = 15.0
E2E_TOL_MS = 25.0
RELATIVE_TOL = 0.10  # TPOT, decode rate
EXPECTED_E2E_MS = (TTFT_S + (TOKENS - 1) * GAP_S) * 1000
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count."}]


@pytest.fixture(scope="module", autouse=True)
def warm_openai_client() -> None:
    """The client's first streamed (~150 ms) and first non-streamed (~30 ms) request pay for lazy imports.

    Measure warm, as benchmarks do.
    """
    script = Script(ttft_s=0.0, gap_s=0.0, tokens=2)
    with serve(script) as base_url:
        for stream in (True, False):
            time_openai_chat(_client(base_url), script.model_id, MESSAGES, max_tokens=8, stream=stream)


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key="unused")


def _run(script: Script, **kwargs: object) -> TrialTiming:
    options = {"max_tokens": 64, **kwargs}
    with serve(script) as base_url:
        return time_openai_chat(_client(base_url), script.model_id, MESSAGES, **options)


def _expected_text(script: Script, n_tokens: int) -> str:
    return "".join(script.token_text(i) for i in range(n_tokens))


@pytest.fixture(scope="module")
def streamed_with_usage() -> tuple[Script, TrialTiming]:
    script = Script(ttft_s=TTFT_S, gap_s=GAP_S, tokens=TOKENS, usage=True)
    return script, _run(script, temperature=0.3, seed=42)


def test_stream_timing_matches_script(streamed_with_usage: tuple[Script, TrialTiming]) -> None:
    script, trial = streamed_with_usage
    assert trial.ok, trial.error
    # The server sends a role-only chunk (content "") at once; TTFT must wait for the first real token.
    assert trial.ttft_ms == pytest.approx(TTFT_S * 1000, abs=TTFT_TOL_MS)
    assert trial.e2e_ms == pytest.approx(EXPECTED_E2E_MS, abs=E2E_TOL_MS)
    assert trial.tpot_ms == pytest.approx(GAP_S * 1000, rel=RELATIVE_TOL)
    assert trial.decode_tps == pytest.approx(1 / GAP_S, rel=RELATIVE_TOL)
    assert trial.output_tps == pytest.approx(TOKENS / (EXPECTED_E2E_MS / 1000), rel=RELATIVE_TOL)
    assert len(trial.token_times) == TOKENS and len(trial.itl_ms) == TOKENS - 1
    assert statistics.median(trial.itl_ms) == pytest.approx(GAP_S * 1000, abs=3.0)
    assert trial.text == _expected_text(script, TOKENS)
    assert trial.finish_reason == "stop" and not trial.truncated


def test_usage_reported_is_used(streamed_with_usage: tuple[Script, TrialTiming]) -> None:
    script, trial = streamed_with_usage
    assert trial.tokens_source == "usage"
    assert trial.output_tokens == TOKENS
    assert trial.prompt_tokens == script.prompt_tokens


def test_request_parameters_reach_the_server(streamed_with_usage: tuple[Script, TrialTiming]) -> None:
    script, _ = streamed_with_usage
    [request] = [r for r in script.received if r.method == "POST"]
    body = request.body
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.3, 64, 42)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == MESSAGES and body["model"] == script.model_id


def test_without_usage_tokens_are_counted() -> None:
    trial = _run(Script(ttft_s=TTFT_S, gap_s=GAP_S, tokens=TOKENS, usage=False))
    assert trial.ok, trial.error
    assert (trial.tokens_source, trial.output_tokens, trial.prompt_tokens) == ("counted", TOKENS, None)
    assert trial.tpot_ms == pytest.approx(GAP_S * 1000, rel=RELATIVE_TOL)


def test_max_tokens_cut_is_reported_as_truncated() -> None:
    trial = _run(Script(ttft_s=0.01, gap_s=0.002, tokens=TOKENS), max_tokens=10)
    assert trial.finish_reason == "length" and trial.truncated
    assert trial.output_tokens == 10


def test_cut_stream_records_error_and_keeps_partial_tokens() -> None:
    script = Script(ttft_s=TTFT_S, gap_s=GAP_S, tokens=TOKENS, mode="cut_stream", cut_after=5)
    trial = _run(script)
    assert trial.error is not None and not trial.ok
    assert (trial.output_tokens, trial.tokens_source) == (5, "counted")
    assert trial.text == _expected_text(script, 5)
    assert trial.ttft_ms == pytest.approx(TTFT_S * 1000, abs=TTFT_TOL_MS)
    assert trial.finish_reason is None


def test_http_500_is_recorded_once_without_retry() -> None:
    script = Script(mode="http_500")
    trial = _run(script)
    assert trial.error is not None and "500" in trial.error
    assert trial.ttft_s is None and trial.text == ""
    assert len([r for r in script.received if r.method == "POST"]) == 1


def test_timeout_is_recorded_not_raised() -> None:
    trial = _run(Script(ttft_s=5.0), timeout=0.3)
    assert trial.error is not None and "Timeout" in trial.error
    assert trial.e2e_ms == pytest.approx(300, abs=100)


def test_non_streamed_has_no_ttft_and_says_why() -> None:
    trial = _run(Script(ttft_s=TTFT_S, gap_s=GAP_S, tokens=TOKENS), stream=False)
    assert trial.ok, trial.error
    assert (trial.ttft_s, trial.ttft_ms, trial.tpot_ms, trial.decode_tps) == (None, None, None, None)
    assert trial.note == NO_STREAM_NOTE and not trial.streamed and trial.token_times == []
    assert trial.e2e_ms == pytest.approx(EXPECTED_E2E_MS, abs=E2E_TOL_MS)
    assert (trial.output_tokens, trial.tokens_source) == (TOKENS, "usage")


def test_derived_metrics_follow_the_definitions() -> None:
    trial = TrialTiming(start=100.0, e2e_s=1.0, ttft_s=0.2, token_times=[0.2, 0.5, 1.0], output_tokens=5,
                        tokens_source="usage", prompt_tokens=1000)
    assert trial.end == 101.0
    assert trial.tpot_ms == pytest.approx(200.0)  # (1.0 - 0.2) / (5 - 1)
    assert trial.decode_tps == pytest.approx(5.0)  # (5 - 1) / 0.8; prompt tokens play no part
    assert trial.output_tps == pytest.approx(5.0)
    assert trial.itl_ms == pytest.approx([300.0, 500.0])
    record = json.loads(json.dumps(trial.to_record()))
    assert record["tpot_ms"] == pytest.approx(200.0) and record["ok"] is True


def test_per_token_metrics_need_two_tokens() -> None:
    one_token = TrialTiming(start=0.0, e2e_s=0.3, ttft_s=0.3, token_times=[0.3], output_tokens=1,
                            tokens_source="counted")
    assert (one_token.tpot_ms, one_token.decode_tps, one_token.itl_ms) == (None, None, [])
    assert one_token.output_tps == pytest.approx(1 / 0.3)


# --- Real in-process inference (foundry_local_sdk 2.x) on the bundled SmolLM2 ---------------------------------
# TEMPORARY test-local setup: registers and loads the model directly. The lead's runtime layer replaces this.
SMOLLM2_DIR = paths.bundled_models_dir() / "smollm2-135m-instruct-int4"
SMOLLM2_ID = "smollm2-135m-instruct-int4:1"


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (SMOLLM2_DIR / "genai_config.json").is_file() or not any(SMOLLM2_DIR.glob("*.onnx")):
        pytest.skip(f"bundled model not built yet (no genai_config.json + *.onnx in {SMOLLM2_DIR})")
    from foundry_local_sdk import CatalogType, Configuration, FoundryLocalManager, ModelInfoBuilder

    home = tmp_path_factory.mktemp("foundry_home")
    FoundryLocalManager.initialize(Configuration(
        app_name="foundry_lab_test", app_data_dir=str(home / "app"), model_cache_dir=str(home / "cache"),
        logs_dir=str(home / "logs"), disable_nonessential_telemetry=True,
    ))
    manager = FoundryLocalManager.instance
    try:
        with ModelInfoBuilder() as metadata:
            metadata.set_string_property("task", "chat-completion")
            model = manager.get_catalog(CatalogType.LOCAL).register_model(SMOLLM2_DIR, SMOLLM2_ID, metadata)
        model.load()
        time_inprocess_chat(model, MESSAGES, max_tokens=4)  # warm-up: the first request in a process is slow
        yield model
        model.unload()
    finally:
        manager.close()


def test_inprocess_streamed_trial_on_smollm2(smollm2: object) -> None:
    trial = time_inprocess_chat(smollm2, MESSAGES, max_tokens=24, seed=1)
    assert trial.ok, trial.error
    assert trial.ttft_s is not None and 0 < trial.ttft_s < trial.e2e_s
    assert trial.output_tokens > 0 and trial.tokens_source == "usage"
    assert trial.prompt_tokens and trial.prompt_tokens > 0
    assert trial.decode_tps is not None and trial.decode_tps > 0
    assert trial.text.strip()
    assert trial.finish_reason in {"stop", "length"}
