"""Each case of issues #10 and #17 through the benchmark: `python -m helpers bench --endpoint …` (the CLI, in a subprocess)
and `benchmark.run_benchmark` (what notebook 04 calls), against the case's scripted loopback server.

Every measured trial of the run must show the case's right values; the summary and report must say what the
trials say (tokens_source counts, notes, failures, the prompt-cache mode).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers import benchmark
from helpers.core import paths
from helpers.core.api_key import API_KEY_ENV
from helpers.core.config import resolve_prompt_set
from helpers.measure.prompt_cache import NO_CACHE_FIELDS
from helpers.serve import endpoints

from ..fixture_server import Script, serve
from .cases import API_KEY, CASES, TTFT_MS, Case, near, scripted
from .conftest import chat_requests, run_case, with_send_time

ROUNDS = 2
COUNT_PROMPT = {"description": "one prompt", "prompts": [{"id": "count", "text": "Count."}]}
PATHS = ("cli", "notebook")


def _prompts_file(tmp_path: Path, case_name: str, encoding: str = "utf-8") -> Path:
    prompt_set = COUNT_PROMPT
    if case_name == "think-answer":  # the question whose facets the think block names
        slm = resolve_prompt_set("local-inference")[1].prompts[0]
        prompt_set = {"description": "the SLM question", "prompts": [slm.model_dump(mode="json")]}
    path = tmp_path / f"{case_name}.json"
    path.write_text(json.dumps(prompt_set), encoding=encoding)
    return path


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (API_KEY_ENV, endpoints.ENDPOINT_ENV)}
    return env | {"FOUNDRY_LAB_PORT": "0"} | extra


def bench(path: str, base_url: str, model: str, prompts: Path, out: Path, env: dict[str, str], *,
          stream: bool = True, rounds: int = ROUNDS, extra_args: tuple[str, ...] = ()) -> tuple[int, str]:
    """One benchmark run through the CLI (subprocess) or run_benchmark (in this process); (exit code, output)."""
    if path == "cli":
        command = [sys.executable, "-m", "helpers", "bench", "--endpoint", base_url, "--models", model,
                   "--prompts", str(prompts), "--rounds", str(rounds), "--warmup", "0", "--out", str(out),
                   *extra_args, *([] if stream else ["--no-stream"])]
        done = subprocess.run(command, env=_env(env), capture_output=True, text=True, timeout=300,
                              cwd=paths.REPO_ROOT)
        return done.returncode, done.stdout + done.stderr
    settings: dict[str, Any] = dict(zip(extra_args[::2], extra_args[1::2]))
    settings = {key.removeprefix("--").replace("-", "_"): value for key, value in settings.items()}
    with pytest.MonkeyPatch.context() as patch:
        for name in (API_KEY_ENV, endpoints.ENDPOINT_ENV):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        run = benchmark.run_benchmark(models=[model], endpoint=base_url, prompts=str(prompts), rounds=rounds,
                                      warmup=0, stream=stream, out_dir=out, progress=False, **settings)
    return (0 if run.summary["n"].sum() > 0 else 1), ""


def records(out: Path, kind: str) -> list[dict[str, Any]]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_the_right_value(case: Case, path: str, tmp_path: Path) -> None:
    prompts = _prompts_file(tmp_path, case.name)

    def measure(base_url: str, script: Script) -> tuple[int, str, Path]:
        out = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
        code, output = bench(path, base_url, script.model_id, prompts, out, case.env, stream=case.stream,
                             extra_args=("--max-tokens", str(case.max_tokens)))
        return code, output, out

    script, (code, output, out) = run_case(
        case, measure, lambda result: records(result[2], "trial") if (result[2] / "results.jsonl").is_file() else [])
    assert (out / "results.jsonl").is_file(), output
    trials = records(out, "trial")
    assert len(trials) == ROUNDS == len(chat_requests(script)), output
    for trial, received in zip(trials, chat_requests(script)):
        case.check(with_send_time(trial, received))
    summary = pd.read_csv(out / "summary.csv")
    report = (out / "benchmark_report.md").read_text(encoding="utf-8")
    ok = [t for t in trials if t["ok"]]
    assert code == (0 if ok else 1), output
    if ok:
        assert summary.loc[0, "tokens_source"] == f"{ok[0]['tokens_source']}×{len(ok)}"
        assert summary.loc[0, "status"] == "ok" and "tokens_source" in report
    else:
        assert summary.loc[0, "status"] == "failed" and trials[0]["error"][:60] in report
    if case.env.get(API_KEY_ENV):  # the key went on every route, load included
        assert {r.path for r in script.received} >= {"/models/load/fixture-model:1", "/openai/load/fixture-model:1"}
        assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in script.received)
        assert records(out, "model")[0]["status"] == "loaded" and records(out, "model")[0]["load_s"] is not None
    if case.name == "still-loading" and path == "cli":  # the wait was said on screen
        assert "still loading" in output and "ready after" in output, output
    if case.name == "chunks-no-tokenizer":
        assert "counted as streamed chunks" in summary.loc[0, "notes"] and "counted as streamed chunks" in report


def test_think_answer_scores_the_visible_answer_only(tmp_path: Path) -> None:
    """Case 9 end to end: bench, then `python -m helpers report` scores the answer without its <think> block."""
    case = next(c for c in CASES if c.name == "think-answer")
    with serve(case.script()) as base_url:
        code, output = bench("cli", base_url, "fixture-model:1", _prompts_file(tmp_path, case.name),
                             tmp_path / "run", {}, rounds=1)
    assert code == 0, output
    done = subprocess.run([sys.executable, "-m", "helpers", "report", str(tmp_path / "run")], env=_env({}),
                          capture_output=True, text=True, timeout=300, cwd=paths.REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    scores = pd.read_csv(tmp_path / "run" / "quality_scores.csv")
    assert scores["facet_score"].tolist() == [1.0]


@pytest.mark.parametrize("path", PATHS)
def test_prompts_file_with_a_bom(path: str, tmp_path: Path) -> None:
    """Case 10 through the benchmark: a --prompts file saved with a UTF-8 byte-order mark is accepted."""
    prompts = _prompts_file(tmp_path, "bom", encoding="utf-8-sig")
    assert prompts.read_bytes().startswith(b"\xef\xbb\xbf")
    with serve(scripted()()) as base_url:
        code, output = bench(path, base_url, "fixture-model:1", prompts, tmp_path / "run", {}, rounds=1)
    assert code == 0, output
    assert records(tmp_path / "run", "trial")[0]["ok"]


@pytest.mark.parametrize("path", PATHS)
def test_unreachable_endpoint_is_named(path: str, tmp_path: Path) -> None:
    with serve(Script()) as base_url:
        pass  # the port is closed again
    code, output = bench(path, base_url, "fixture-model", _prompts_file(tmp_path, "count"), tmp_path / "run", {})
    assert code == 1
    [model] = records(tmp_path / "run", "model")
    assert model["status"] == "load_failed" and base_url in model["error"]
    if path == "cli":
        assert base_url in output


# --- case 11: prefix caches -------------------------------------------------------------------------------------

def _cache_run(path: str, tmp_path: Path, honours_switch: bool, *extra_args: str) -> tuple[Script, list[dict]]:
    script = Script(ttft_s=TTFT_MS / 1000, gap_s=0.02, tokens=20, prefix_cache=True,
                    honours_cache_prompt=honours_switch)
    prompt_set = {"description": "two prompts", "system": "Be brief.",
                  "prompts": [{"id": "count", "text": "Count."}, {"id": "name", "text": "Name one."}]}
    prompts = tmp_path / "two.json"
    prompts.write_text(json.dumps(prompt_set), encoding="utf-8")
    with serve(script) as base_url:
        code, output = bench(path, base_url, script.model_id, prompts, tmp_path / "run", {}, rounds=3,
                             extra_args=extra_args)
    assert code == 0, output
    trials = records(tmp_path / "run", "trial")
    assert len(trials) == 6 == len(chat_requests(script))
    return script, [with_send_time(t, r) for t, r in zip(trials, chat_requests(script))]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("honours_switch", [True, False], ids=["llama.cpp-like", "vLLM-like"])
def test_cold_prefill_by_default(path: str, honours_switch: bool, tmp_path: Path) -> None:
    """TTFT measures a cold prefill every round, whether or not the server honours `cache_prompt: false`."""
    script, trials = _cache_run(path, tmp_path, honours_switch)
    for trial, received in zip(trials, chat_requests(script)):
        assert not received.cached and trial["cached_tokens"] == 0
        near(trial["ttft_ms"] - trial["send_ms"], TTFT_MS, 0.03)
        assert received.body["cache_prompt"] is NO_CACHE_FIELDS["cache_prompt"]
        first = received.body["messages"][0]["content"]
        assert first == trial["prompt_prefix"] + "Be brief." and len(trial["prompt_prefix"]) <= 10
    assert [t["prompt_prefix"] for t in trials] == [f"[r{r}p{p}] " for r in range(3) for p in range(2)]
    report = (tmp_path / "run" / "benchmark_report.md").read_text(encoding="utf-8")
    assert "cold prefill on every request" in report


@pytest.mark.parametrize("path", PATHS)
def test_warm_cache_is_an_explicit_labelled_option(path: str, tmp_path: Path) -> None:
    script, trials = _cache_run(path, tmp_path, True, "--prompt-cache", "warm")
    assert all(t["prompt_prefix"] == "" and "cache_prompt" not in r.body
               for t, r in zip(trials, chat_requests(script)))
    assert [t["cached_tokens"] for t in trials] == [0, 0, 17, 17, 17, 17]  # rounds 2 and 3 repeat round 1
    near(trials[-1]["ttft_ms"] - trials[-1]["send_ms"], script.cached_ttft_s * 1000, 0.15)
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert summary.loc[0, "cached_tokens_mean"] == pytest.approx(17 * 4 / 6, rel=1e-4)  # csv: 6 digits
    report = (tmp_path / "run" / "benchmark_report.md").read_text(encoding="utf-8")
    assert "warm: prompts repeat unchanged" in report


@pytest.mark.parametrize("path", PATHS)
def test_a_key_the_server_echoes_never_lands_in_outputs(path: str, tmp_path: Path) -> None:
    """A gateway answering 401 with the key it received ("…: Bearer KEY"): the run records the failure with the
    key redacted; no file of the run folder, no printed line carries it."""
    wrong = "sekrit123-not-the-servers"
    with serve(Script(api_key=API_KEY)) as base_url:
        code, output = bench(path, base_url, "fixture-model:1", _prompts_file(tmp_path, "count"), tmp_path / "run",
                             {API_KEY_ENV: wrong})
    assert code == 1
    [model] = records(tmp_path / "run", "model")
    assert model["status"] == "load_failed" and "HTTP 401" in model["error"]
    assert "missing or wrong API key: Bearer ***" in model["error"]
    written = [f for f in (tmp_path / "run").iterdir() if f.is_file()]
    assert len(written) >= 4 and all(wrong not in f.read_text(encoding="utf-8") for f in written)
    assert wrong not in output
