"""What a run folder's results log says: the trials, models and sweeps as DataFrames, and their statistics.

`load_run(run_dir)` reads results.jsonl (`helpers.bench.results`) and derives every table as a `BenchmarkRun`:
one row per model (`summary`: SUMMARY_COLUMNS), per model x prompt (`per_prompt`), per model x concurrency level
(`sweep`) and per failure (`failures`). Statistics come from `helpers.measure.stats` (percentiles: numpy "linear",
Hyndman & Fan type 7; median CI95: percentile bootstrap) over successful measured trials (warm-ups excluded).
Units are in the column names: `_ms` milliseconds, `_s` seconds, `_tps` tokens per second, `_mb` MB = 10^6 bytes.
Nothing here writes a file: `helpers.bench.outputs` writes, `helpers.bench.markdown` renders.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..measure.roofline import roofline_columns
from ..measure.stats import describe, iqr_outliers, summarize
from .results import RESULTS_FILE, RunFolderError, read_records

TRIAL_METRICS = ("ttft_ms", "ttft_any_ms", "e2e_ms", "tpot_ms", "decode_tps", "output_tps", "output_tokens")
TOKEN_SPLIT = ("reasoning_tokens", "answer_tokens", "cached_tokens")  # summarised by their mean
PROMPT_METRICS = ("e2e_ms", "ttft_ms", "tpot_ms", "decode_tps", "output_tokens")
MODEL_STATUSES = {
    "ok": "every planned trial ran and succeeded",
    "partial": "some trials failed (see `errors` and the failures section)",
    "failed": "every trial that ran failed",
    "not_found": "no model with that name in any catalog the target can see",
    "load_failed": "the model was found but could not be loaded",
    "load_skipped": "not loaded: its expected memory (weights + KV cache) exceeds the RAM available (see the error)",
    "incomplete": "interrupted before every planned trial ran: `--resume` finishes it",
    "not_run": "the run stopped before reaching this model: `--resume` runs it",
}
LOOKUP_FAILURES = ("not_found", "load_failed", "load_skipped")  # model statuses set before any trial
_TRIAL_COLUMNS = ["session", "model", "model_id", "target", "prompt_id", "round", "warmup", "ok", "error",
                  "truncated", "finish_reason", "tokens_source", "note", "prompt_prefix", *TRIAL_METRICS, *TOKEN_SPLIT]
_MODEL_FIELDS = ["model_id", "target", "device", "execution_provider", "load_s", "disk_mb", "context_length",
                 "peak_rss_mb", "rss_before_mb", "threads", "threads_source", "weights_read_mb", "ready_wait_s",
                 "cpu_busy_pct", "other_cpu_pct", "loadavg_1m", "model_rss_mb", "rss_baseline_mb", "process_peak_rss_mb",
                 "memory_method"]
SUMMARY_COLUMNS = [
    "model", "status", "target", "model_id", "device", "execution_provider", "n", "n_planned", "errors", "truncated",
    "ttft_ms_p50", "ttft_ms_p95", "ttft_ms_median_ci95_low", "ttft_ms_median_ci95_high",
    "ttft_any_ms_p50", "ttft_any_ms_p95",
    "e2e_ms_mean", "e2e_ms_p50", "e2e_ms_p90", "e2e_ms_p95", "e2e_ms_p99", "e2e_ms_min", "e2e_ms_max", "e2e_ms_std",
    "e2e_ms_median_ci95_low", "e2e_ms_median_ci95_high",
    "tpot_ms_p50", "tpot_ms_p95", "itl_ms_p50", "itl_ms_p95", "decode_tps_median", "decode_tps_median_ci95_low", "decode_tps_median_ci95_high",
    "output_tps_median", "output_tokens_mean", "reasoning_tokens_mean", "answer_tokens_mean", "cached_tokens_mean",
    "tokens_source", "finish_reasons",
    "load_s", "ready_wait_s", "peak_rss_mb", "model_rss_mb", "rss_baseline_mb", "process_peak_rss_mb",
    "memory_method", "rss_before_mb", "disk_mb", "context_length",
    "threads", "threads_source", "weights_read_mb", "decode_ceiling_tps", "decode_roofline_pct",
    "cpu_busy_pct", "other_cpu_pct", "loadavg_1m", "warnings", "notes", "error",
]
PER_PROMPT_COLUMNS = [
    "model", "prompt_id", "n", "errors", "truncated", "outliers", "outlier_rounds",
    "e2e_ms_mean", "e2e_ms_p50", "e2e_ms_min", "e2e_ms_max", "e2e_ms_median_ci95_low", "e2e_ms_median_ci95_high",
    "ttft_ms_p50", "tpot_ms_p50", "decode_tps_median", "output_tokens_mean", "warnings",
]
SWEEP_COLUMNS = ["model", "concurrency", "requests", "ok", "errors", "wall_s", "req_per_s", "scaling",
                 "output_tps_total", "e2e_ms_p50", "e2e_ms_p95", "ttft_ms_p50", "ttft_ms_p95", "stopped_by"]
FAILURE_COLUMNS = ["model", "kind", "prompt_id", "round", "warmup", "error"]

def planned_trials(rounds: int, prompts: int, warmup: int = 0) -> int:
    """Requests one model is planned to send: `warmup` warm-ups plus `rounds` x `prompts` measured trials.

    The one count behind the summary's `n_planned` (warmup 0), the live progress bar and the run's progress bar.
    """
    return warmup + rounds * prompts


# --- the run and its statistics -----------------------------------------------------------------------------------

@dataclass
class BenchmarkRun:
    """A run folder read back: the log's records as DataFrames, and the statistics derived from them."""

    out_dir: Path
    headers: list[dict[str, Any]]  # one per session; all share the config fingerprint
    models: pd.DataFrame  # one row per model (index): the latest `model` and `model_done` records
    trials: pd.DataFrame  # one row per timed request, warm-ups included (`warmup` column)
    summary: pd.DataFrame  # one row per model: SUMMARY_COLUMNS
    per_prompt: pd.DataFrame  # one row per model x prompt: PER_PROMPT_COLUMNS
    sweep: pd.DataFrame  # one row per model x concurrency level: SWEEP_COLUMNS
    failures: pd.DataFrame  # models that did not run, failed requests: FAILURE_COLUMNS

    @property
    def header(self) -> dict[str, Any]:
        return self.headers[0]

    @property
    def config(self) -> dict[str, Any]:
        return self.header["config"]

    def to_json(self) -> dict[str, Any]:
        return {
            "metadata": {**self.header, "sessions": len(self.headers),
                         "resumed_at": [h["created"] for h in self.headers[1:]]},
            "summary": json_records(self.summary),
            "per_prompt": json_records(self.per_prompt),
            "sweep": json_records(self.sweep),
            "failures": json_records(self.failures),
        }


def load_run(run_dir: str | Path) -> BenchmarkRun:
    """Read a run folder's results.jsonl and derive every table of the report."""
    run_dir = Path(run_dir)
    records = read_records(run_dir)
    headers = [r for r in records if r["type"] == "header"]
    if not headers:
        raise RunFolderError(f"{run_dir / RESULTS_FILE}: no header record; this is not a benchmark results log.")
    config = headers[0]["config"]
    trials = trials_frame([r for r in records if r["type"] == "trial"])
    models = models_frame(records, config["models"])
    planned = planned_trials(int(config["rounds"]), len(headers[0]["prompt_set"]["prompt_ids"]))
    return BenchmarkRun(
        out_dir=run_dir,
        headers=headers,
        models=models,
        trials=trials,
        summary=model_summary(trials, models, planned, headers[0].get("bandwidth")),
        per_prompt=prompt_summary(trials),
        sweep=sweep_summary([r for r in records if r["type"] == "sweep_level"]),
        failures=failures_frame(trials, models),
    )


def trials_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Trial records as a DataFrame, with IQR outlier flags (`outlier_e2e`, `outlier_ttft`) per model x prompt."""
    trials = pd.DataFrame([{k: v for k, v in r.items() if k != "type"} for r in records])
    if trials.empty:
        trials = pd.DataFrame(columns=_TRIAL_COLUMNS)
    for column in (*TRIAL_METRICS, *TOKEN_SPLIT):  # a log written before a metric existed
        if column not in trials:
            trials[column] = np.nan
    trials = trials.astype({"ok": bool, "warmup": bool, "truncated": bool})
    trials["outlier_e2e"] = False
    trials["outlier_ttft"] = False
    for _, group in measured_trials(trials, ok_only=True).groupby(["model", "prompt_id"]):
        trials.loc[group.index, "outlier_e2e"] = iqr_outliers(group["e2e_ms"].tolist())
        trials.loc[group.index, "outlier_ttft"] = iqr_outliers(group["ttft_ms"].tolist())
    return trials


def measured_trials(trials: pd.DataFrame, ok_only: bool = False) -> pd.DataFrame:
    """Trials that count for statistics: not warm-ups (and, with ok_only, completed without error)."""
    keep = ~trials["warmup"].astype(bool) & (trials["ok"].astype(bool) if ok_only else True)
    return trials[keep]


def models_frame(records: Iterable[Mapping[str, Any]], configured: list[str]) -> pd.DataFrame:
    """One row per model (configured order first): fields of its latest `model` and `model_done` records."""
    latest: dict[str, dict[str, Any]] = {name: {} for name in configured}
    for record in records:
        if record["type"] in ("model", "model_done"):
            row = latest.setdefault(record["model"], {})
            row.update({k: v for k, v in record.items() if k not in ("type", "model", "status", "error")})
            if record["type"] == "model":  # a new load: its status replaces the one of an earlier session
                row["lookup_status"], row["lookup_error"] = record["status"], record.get("error")
    frame = pd.DataFrame.from_dict(latest, orient="index")
    for column in (*_MODEL_FIELDS, "lookup_status", "lookup_error", "device_note", "memory_note"):
        if column not in frame:
            frame[column] = None
    frame.index.name = "model"
    return frame


def model_status(lookup_status: str | None, measured: pd.DataFrame, planned: int) -> str:
    """ok, partial, failed, not_found, load_failed, load_skipped, incomplete or not_run (see MODEL_STATUSES)."""
    if lookup_status in LOOKUP_FAILURES:
        return lookup_status
    succeeded = int(measured["ok"].sum())
    failed = len(measured) - succeeded
    if failed and not succeeded:
        return "failed"
    if failed:
        return "partial"
    if lookup_status is None and measured.empty:
        return "not_run"
    return "incomplete" if len(measured) < planned else "ok"


def model_summary(trials: pd.DataFrame, models: pd.DataFrame, planned: int,
                  bandwidth: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per model: status, counts and the statistics of its successful measured trials; with the run's
    `bandwidth` record (the header's), the roofline columns (`helpers.measure.roofline.roofline_columns`)."""
    measured = measured_trials(trials)
    succeeded = measured[measured["ok"]]
    stats = summarize(succeeded, "model", TRIAL_METRICS).set_index("model")
    stats = stats.rename(columns=lambda c: c.replace("_tps_p50", "_tps_median"))
    rows = []
    for name, info in models.iterrows():
        mine = measured[measured["model"] == name]
        ok_mine = mine[mine["ok"]]
        row = stats.loc[name].to_dict() if name in stats.index else {}
        notes = [info["device_note"], info["memory_note"], *sorted(set(mine["note"].dropna()))]
        lookup_error = info["lookup_error"] if isinstance(info["lookup_error"], str) else None
        row |= {
            "model": name,
            "status": model_status(info["lookup_status"] if isinstance(info["lookup_status"], str) else None,
                                   mine, planned),
            **{field: _none_if_missing(info[field]) for field in _MODEL_FIELDS},
            "n": len(ok_mine),
            "n_planned": planned,
            "errors": len(mine) - len(ok_mine),
            "truncated": int(ok_mine["truncated"].sum()),
            **inter_token_latency(ok_mine),
            **{f"{column}_mean": pd.to_numeric(ok_mine[column]).mean() for column in TOKEN_SPLIT},
            "tokens_source": _counts(ok_mine["tokens_source"]),
            "finish_reasons": _counts(ok_mine["finish_reason"]),
            "warnings": row.get("e2e_ms_warnings") or ("no successful trials" if ok_mine.empty else ""),
            "notes": "; ".join(n for n in notes if isinstance(n, str) and n),
            "error": lookup_error or _counts(mine.loc[~mine["ok"], "error"], limit=3),
        }
        row |= roofline_columns(_none_if_missing(row.get("decode_tps_median")), row["weights_read_mb"],
                                dict(bandwidth) if bandwidth else None)
        rows.append(row)
    return _numeric(pd.DataFrame(rows, columns=SUMMARY_COLUMNS)).astype({"context_length": "Int64", "threads": "Int64"})


def inter_token_latency(trials: pd.DataFrame) -> dict[str, float | None]:
    """`itl_ms_p50` and `itl_ms_p95`: percentiles (numpy "linear") of the inter-token latency in ms, pooled over
    every gap between consecutive streamed tokens of the given trials (their per-request `itl_ms` lists), as vLLM's
    benchmarks define ITL. None when no trial streamed two tokens (e.g. without streaming).
    """
    gaps = [gap for per_request in trials.get("itl_ms", pd.Series(dtype=object)) if isinstance(per_request, list)
            for gap in per_request]
    if not gaps:
        return {"itl_ms_p50": None, "itl_ms_p95": None}
    p50, p95 = np.percentile(np.asarray(gaps, dtype=float), [50, 95], method="linear")
    return {"itl_ms_p50": float(p50), "itl_ms_p95": float(p95)}


def prompt_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per model x prompt: counts, outliers, and the statistics of its successful measured trials."""
    measured = measured_trials(trials)
    if measured.empty:
        return pd.DataFrame(columns=PER_PROMPT_COLUMNS)
    succeeded = measured[measured["ok"]]
    stats = summarize(succeeded, ["model", "prompt_id"], PROMPT_METRICS).set_index(["model", "prompt_id"])
    stats = stats.rename(columns=lambda c: c.replace("_tps_p50", "_tps_median"))
    rows = []
    for (model, prompt_id), group in measured.groupby(["model", "prompt_id"], sort=False):
        ok = group[group["ok"]]
        row = stats.loc[(model, prompt_id)].to_dict() if (model, prompt_id) in stats.index else {}
        outliers = ok[ok["outlier_e2e"]]
        row |= {
            "model": model,
            "prompt_id": prompt_id,
            "n": len(ok),
            "errors": len(group) - len(ok),
            "truncated": int(ok["truncated"].sum()),
            "outliers": len(outliers),
            "outlier_rounds": ",".join(str(r) for r in sorted(outliers["round"])),
            "warnings": row.get("e2e_ms_warnings", "no successful trials"),
        }
        rows.append(row)
    return _numeric(pd.DataFrame(rows, columns=PER_PROMPT_COLUMNS))


def sweep_summary(levels: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model x concurrency: throughput over the level's wall time and latency under load."""
    rows = []
    for level in levels:
        requests = pd.DataFrame(level["requests"], columns=["ok", "e2e_ms", "ttft_ms", "output_tokens"])
        ok = requests[requests["ok"].astype(bool)]
        wall_s = level["wall_s"]
        e2e, ttft = describe(ok["e2e_ms"]), describe(ok["ttft_ms"])
        rows.append({
            "model": level["model"],
            "concurrency": level["concurrency"],
            "requests": len(requests),
            "ok": len(ok),
            "errors": len(requests) - len(ok),
            "wall_s": wall_s,
            "req_per_s": len(ok) / wall_s if wall_s else None,
            "output_tps_total": float(ok["output_tokens"].fillna(0).sum()) / wall_s if wall_s else None,
            "e2e_ms_p50": e2e["median"], "e2e_ms_p95": e2e["p95"],
            "ttft_ms_p50": ttft["median"], "ttft_ms_p95": ttft["p95"],
            "stopped_by": level["stopped_by"],
        })
    sweep = pd.DataFrame(rows, columns=[c for c in SWEEP_COLUMNS if c != "scaling"])
    sweep = sweep.drop_duplicates(["model", "concurrency"], keep="last").sort_values(["model", "concurrency"])
    lowest = sweep.groupby("model")["req_per_s"].transform("first")
    sweep["scaling"] = sweep["req_per_s"] / lowest
    return sweep.reset_index(drop=True)[SWEEP_COLUMNS]


def failures_frame(trials: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Models that could not run, then every failed request (warm-ups included)."""
    rows = [
        {"model": name, "kind": info["lookup_status"], "error": info["lookup_error"]}
        for name, info in models.iterrows() if info["lookup_status"] in LOOKUP_FAILURES
    ]
    failed = trials[~trials["ok"]]
    rows += [{"model": t.model, "kind": "request", "prompt_id": t.prompt_id, "round": t.round,
              "warmup": t.warmup, "error": t.error} for t in failed.itertuples()]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


_TEXT_COLUMNS = {"model", "status", "target", "model_id", "device", "execution_provider", "tokens_source",
                 "memory_method", "threads_source",
                 "finish_reasons", "warnings", "notes", "error", "prompt_id", "outlier_rounds"}


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Statistics columns as numbers (NaN where missing), whatever the rows held."""
    numeric = [c for c in frame.columns if c not in _TEXT_COLUMNS]
    frame[numeric] = frame[numeric].apply(pd.to_numeric)
    return frame


def _none_if_missing(value: object) -> object:
    return None if value is None or (np.isscalar(value) and pd.isna(value)) else value


def _counts(values: pd.Series, limit: int = 5) -> str | None:
    """'a×3, b×1' for the most frequent distinct values (None when there are none)."""
    counted = values.dropna().astype(str).value_counts()
    if counted.empty:
        return None
    return ", ".join(f"{value[:200]}×{count}" for value, count in counted.head(limit).items())


def json_records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """JSON-safe rows of a table (NaN -> None, numpy scalars -> Python); [] for None or an empty table."""
    return [] if frame is None or frame.empty else json.loads(frame.to_json(orient="records"))


FOOTPRINT_COLUMNS = ["model", "load_s", "memory_method", "before_load_mb", "peak_rss_mb", "model_rss_mb", "disk_mb"]


def footprint(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model (FOOTPRINT_COLUMNS, MB and s): load time; how its memory was measured (`memory_method`:
    `isolated` in a fresh process, `process` in the benchmark's own); the resident set of the process whose peak is
    `peak_rss_mb`, just before the load (`before_load_mb`: the fresh process's baseline when isolated, else the
    benchmark process's RSS before the load); the peak; what the model added (`model_rss_mb`: peak - before); disk.

    Before and peak always come from one process, so the difference is the model's: the benchmark process's RSS
    before a load carries every model that ran before it, the fresh process's does not."""
    column = lambda name: summary[name] if name in summary else pd.Series(np.nan, index=summary.index)  # noqa: E731
    isolated = column("memory_method").eq("isolated")
    before = pd.to_numeric(column("rss_baseline_mb"), errors="coerce").where(
        isolated, pd.to_numeric(column("rss_before_mb"), errors="coerce"))
    peak = pd.to_numeric(column("peak_rss_mb"), errors="coerce")
    return pd.DataFrame({"model": column("model"), "load_s": column("load_s"), "memory_method": column("memory_method"),
                         "before_load_mb": before, "peak_rss_mb": peak, "model_rss_mb": peak - before,
                         "disk_mb": column("disk_mb")}, columns=FOOTPRINT_COLUMNS)
