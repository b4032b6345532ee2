"""The benchmark engine end to end: failure isolation, crash + resume, HTTP numbers, load sweep, real model runs.

Real runtime, no mocks: the bundled SmolLM2 in-process and over the built-in web service (skipped until it is
built), and the scripted OpenAI-compatible server of tests/fixture_server.py for exact timings and failures.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from helpers.__main__ import main as cli
from helpers.bench.results import REPORT_MD, RESULTS_FILE, SUMMARY_CSV, SUMMARY_JSON, read_records
from helpers.bench.session import ResumeError, run_benchmark
from helpers.bench.summary import load_run
from helpers.core import paths
from helpers.serve import endpoints, runtime

from .conftest import SMOL as SMOLLM2
from .fixture_server import Script, serve

REQUIRED_SUMMARY_COLUMNS = [
    "model", "status", "n", "ttft_ms_p50", "ttft_ms_p95", "e2e_ms_mean", "e2e_ms_p50", "e2e_ms_p95", "e2e_ms_min",
    "e2e_ms_max", "tpot_ms_p50", "decode_tps_median", "output_tps_median", "output_tokens_mean", "tokens_source",
    "load_s", "peak_rss_mb", "disk_mb", "errors",
]
# Scripted server timings and the tolerances of tests/test_timing.py (client and server share 2 cores).
TTFT_S, GAP_S, TOKENS = 0.100, 0.010, 20
TTFT_TOL_MS, E2E_TOL_MS, RELATIVE_TOL = 15.0, 25.0, 0.10
FAST = {"prompts": "smoke", "progress": False}


class SimulatedCrash(RuntimeError):
    """Raised from the after_trial hook: the process dies between two trials."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test, not from the shell that runs pytest."""
    for name in ("BENCH_MODELS", "BENCH_ROUNDS", "BENCH_STREAM", "BENCH_MAX_TOKENS", endpoints.ENDPOINT_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fixture_endpoint() -> Iterator[tuple[Script, str]]:
    script = Script(ttft_s=TTFT_S, gap_s=GAP_S, tokens=TOKENS)
    with serve(script) as base_url:
        yield script, base_url


def _measured_keys(run_dir: Path) -> list[tuple[str, str, int]]:
    return [(r["model"], r["prompt_id"], r["round"]) for r in read_records(run_dir)
            if r["type"] == "trial" and not r["warmup"]]


def _row(summary: pd.DataFrame, model: str) -> pd.Series:
    [row] = [row for _, row in summary.iterrows() if row["model"] == model]
    return row


def _posts(script: Script) -> list[dict]:
    return [r.body for r in script.received if r.method == "POST"]


# --- real model -----------------------------------------------------------------------------------------------------

def test_unknown_model_does_not_stop_the_run(lab: runtime.LabRuntime, tmp_path: Path) -> None:
    run = run_benchmark(models=["no-such-model-xyz", SMOLLM2], rounds=1, max_tokens=8, out_dir=tmp_path, **FAST)
    assert list(run.summary["model"]) == ["no-such-model-xyz", SMOLLM2]
    bogus, real = _row(run.summary, "no-such-model-xyz"), _row(run.summary, SMOLLM2)
    assert bogus["status"] == "not_found" and "no-such-model-xyz" in bogus["error"]
    assert real["status"] == "ok" and real["n"] == 2 and real["errors"] == 0
    assert list(run.failures["kind"]) == ["not_found"]


def test_crash_then_resume_loses_nothing_and_repeats_nothing(lab: runtime.LabRuntime, tmp_path: Path) -> None:
    measured_before_crash = 2

    def crash_after_two(record: dict) -> None:
        if not record["warmup"] and len(_measured_keys(tmp_path)) == measured_before_crash:
            raise SimulatedCrash

    with pytest.raises(SimulatedCrash):
        run_benchmark(models=[SMOLLM2], rounds=2, max_tokens=8, out_dir=tmp_path, after_trial=crash_after_two, **FAST)
    assert len(_measured_keys(tmp_path)) == measured_before_crash
    assert pd.read_csv(tmp_path / SUMMARY_CSV)["status"].tolist() == ["incomplete"]  # the partial report
    assert not runtime.get_model(SMOLLM2)[0].is_loaded  # unloaded on the way out

    run = run_benchmark(out_dir=tmp_path, resume=True, progress=False)  # no settings: the saved ones are reused
    keys = _measured_keys(tmp_path)
    expected = {(SMOLLM2, prompt, round_) for prompt in ("hello", "two-plus-two") for round_ in range(2)}
    assert Counter(keys) == Counter(expected)  # every trial exactly once
    warmups = [(r["round"], r["session"]) for r in read_records(tmp_path) if r["type"] == "trial" and r["warmup"]]
    assert warmups == [(0, 1), (1, 2)]  # the reloaded model is warmed up again, under a new key
    assert _row(run.summary, SMOLLM2)["status"] == "ok" and len(run.headers) == 2


@pytest.mark.parametrize("target", ["inprocess", "http"])
def test_end_to_end_on_the_bundled_model(lab: runtime.LabRuntime, tmp_path: Path, target: str) -> None:
    run_benchmark(models=[SMOLLM2], target=target, rounds=2, max_tokens=16, out_dir=tmp_path, **FAST)
    for name in (RESULTS_FILE, SUMMARY_CSV, SUMMARY_JSON, REPORT_MD):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = pd.read_csv(tmp_path / SUMMARY_CSV)
    assert set(REQUIRED_SUMMARY_COLUMNS) <= set(summary.columns)
    [row] = summary.to_dict("records")
    assert (row["model"], row["status"], row["n"], row["errors"], row["target"]) == (SMOLLM2, "ok", 4, 0, target)
    assert 0 < row["ttft_ms_p50"] < row["e2e_ms_p50"] and row["decode_tps_median"] > 0
    assert row["tokens_source"] == "usage×4" and 0 < row["output_tokens_mean"] <= 16  # rule × trials
    assert row["load_s"] > 0 and row["disk_mb"] > 0 and row["peak_rss_mb"] >= row["rss_before_mb"] > 0
    assert row["device"] == "cpu" and row["execution_provider"] == "CPUExecutionProvider"
    header = read_records(tmp_path)[0]
    assert header["type"] == "header" and header["prompt_set"]["name"] == "smoke"
    assert header["versions"]["foundry-local-sdk"].startswith("2.") and header["config"]["target"] == target
    markdown = (tmp_path / REPORT_MD).read_text()
    for section in ("## Run", "## Summary per model", "## Per prompt", "## Failures", "## How each number is defined"):
        assert section in markdown
    assert not runtime.get_model(SMOLLM2)[0].is_loaded


# --- scripted server ------------------------------------------------------------------------------------------------

def test_http_summary_matches_the_scripted_timings(fixture_endpoint: tuple[Script, str], tmp_path: Path) -> None:
    script, base_url = fixture_endpoint
    run = run_benchmark(models=["fixture-model"], endpoint=base_url + "/v1", rounds=3, out_dir=tmp_path, **FAST)
    row = _row(run.summary, "fixture-model")
    assert (row["status"], row["n"], row["errors"], row["target"]) == ("ok", 6, 0, "http")
    assert row["model_id"] == script.model_id  # alias resolved to the listed id
    assert row["ttft_ms_p50"] == pytest.approx(TTFT_S * 1000, abs=TTFT_TOL_MS)
    assert row["tpot_ms_p50"] == pytest.approx(GAP_S * 1000, rel=RELATIVE_TOL)
    assert row["itl_ms_p50"] == pytest.approx(GAP_S * 1000, rel=RELATIVE_TOL)  # pooled inter-token gaps
    assert row["itl_ms_p95"] >= row["itl_ms_p50"]
    assert row["decode_tps_median"] == pytest.approx(1 / GAP_S, rel=RELATIVE_TOL)
    assert row["e2e_ms_p50"] == pytest.approx((TTFT_S + (TOKENS - 1) * GAP_S) * 1000, abs=E2E_TOL_MS)
    assert (row["output_tokens_mean"], row["tokens_source"]) == (TOKENS, "usage×6")
    assert pd.isna(row["peak_rss_mb"]) and "not observable" in row["notes"]  # an external server's memory
    bodies = _posts(script)
    assert len(bodies) == 1 + 6  # one warm-up, six trials, no retries
    assert {(b["temperature"], b["seed"], b["max_tokens"], b["stream"]) for b in bodies} == {(0.0, 42, 64, True)}


def test_failing_server_gives_status_failed_with_errors_counted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    script = Script(mode="http_500")
    with serve(script) as base_url:
        code = cli(["bench", "--endpoint", base_url, "--models", "fixture-model", "--prompts", "smoke",
                    "--rounds", "2", "--out", str(tmp_path)])
    assert code == 1  # nothing at all succeeded
    row = _row(pd.read_csv(tmp_path / SUMMARY_CSV), "fixture-model")
    assert (row["status"], row["n"], row["errors"]) == ("failed", 0, 4)
    assert "500" in row["error"]
    assert len(_posts(script)) == 1 + 4  # every failure recorded once, never retried
    assert "fixture-model: failed" in capsys.readouterr().out


def test_resume_with_another_config_is_refused(fixture_endpoint: tuple[Script, str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    _, base_url = fixture_endpoint
    run_benchmark(models=["fixture-model"], endpoint=base_url, rounds=1, max_tokens=8, out_dir=tmp_path, **FAST)
    before = (tmp_path / RESULTS_FILE).read_bytes()
    with pytest.raises(ResumeError, match=r"max_tokens: 8 in the saved run, 32 now"):
        run_benchmark(out_dir=tmp_path, resume=True, max_tokens=32, progress=False)
    code = cli(["bench", "--resume", "--out", str(tmp_path), "--prompts", "local-inference"])
    assert code == 2 and "prompt_set_fingerprint" in capsys.readouterr().err
    assert (tmp_path / RESULTS_FILE).read_bytes() == before  # a refused resume writes nothing


def test_sweep_levels_report_throughput(tmp_path: Path) -> None:
    script = Script(ttft_s=0.05, gap_s=0.005, tokens=10)
    with serve(script) as base_url:
        run = run_benchmark(models=["fixture-model"], endpoint=base_url, rounds=2, sweep=(1, 2), out_dir=tmp_path, **FAST)
    sweep = run.sweep.set_index("concurrency")
    assert list(sweep.index) == [1, 2]
    assert (sweep["req_per_s"] > 0).all() and (sweep["output_tps_total"] > 0).all()
    assert (sweep["requests"] == 4).all() and (sweep["errors"] == 0).all()
    assert (sweep["stopped_by"] == "count").all()
    assert sweep.loc[2, "scaling"] > 1.3  # the fixture serves concurrently, unlike Foundry Local
    assert "## Load sweep" in (tmp_path / REPORT_MD).read_text()


def test_sweep_level_stops_at_its_time_limit(tmp_path: Path) -> None:
    script = Script(ttft_s=0.1, gap_s=0.001, tokens=2)
    with serve(script) as base_url:
        run = run_benchmark(models=["fixture-model"], endpoint=base_url, rounds=3, warmup=0, sweep=(1,),
                            sweep_max_s=0.05, out_dir=tmp_path, **FAST)
    [level] = run.sweep.to_dict("records")
    assert (level["stopped_by"], level["requests"], level["ok"]) == ("time", 1, 1)


def test_ctrl_c_keeps_finished_trials_and_resume_completes(tmp_path: Path) -> None:
    script = Script(ttft_s=0.02, gap_s=0.002, tokens=4)
    rounds, prompts = 25, 2
    with serve(script) as base_url:
        env = {k: v for k, v in os.environ.items() if k != endpoints.ENDPOINT_ENV}
        bench = subprocess.Popen(
            [sys.executable, "-m", "helpers", "bench", "--endpoint", base_url, "--models", "fixture-model",
             "--prompts", "smoke", "--rounds", str(rounds), "--out", str(tmp_path)],
            cwd=paths.REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while _trial_lines(tmp_path) < 5 and time.monotonic() < deadline and bench.poll() is None:
            time.sleep(0.05)
        bench.send_signal(signal.SIGINT)
        _, err = bench.communicate(timeout=60)
        assert bench.returncode == 130, err
        assert "--resume" in err
        interrupted = _measured_keys(tmp_path)
        assert 0 < len(interrupted) < rounds * prompts
        run = run_benchmark(out_dir=tmp_path, resume=True, progress=False)
    keys = _measured_keys(tmp_path)
    assert Counter(keys) == Counter(("fixture-model", p, r) for p in ("hello", "two-plus-two") for r in range(rounds))
    assert keys[: len(interrupted)] == interrupted
    assert _row(run.summary, "fixture-model")["status"] == "ok"
    assert load_run(tmp_path).summary.equals(run.summary)  # the report regenerates from the log alone


def _trial_lines(run_dir: Path) -> int:
    """Trial records written so far (read while another process appends)."""
    path = run_dir / RESULTS_FILE
    return path.read_text().count('"type": "trial"') if path.exists() else 0
