"""A benchmark run folder: its results log, the statistics derived from it, and the reports written from it.

A run folder holds `results.jsonl`, the append-only log the benchmark writes (one JSON record per line, each
flushed and fsynced as soon as it exists), and the files derived from it: `summary.csv`, `summary.json` and
`benchmark_report.md`. Everything derived is regenerated from the log by `python -m helpers report RUN_DIR`
(`helpers.selection_report.main`, which adds quality, comparison, charts and report.html).

Record types in results.jsonl (field `type`):

- `header`: one per session (the first run and every `--resume`): kit and package versions, system, config and
  its fingerprint, prompt set (name, fingerprint, prompt ids), target description.
- `model`: a model was looked up and loaded, or not: `status` (`loaded`, `not_found`, `load_failed`), model id,
  device, execution provider, load_s, disk_mb, context length, error.
- `trial`: one timed request: model, prompt_id, round, warmup, and every field of `TrialTiming.to_record()`.
- `model_done`: the model's run ended: peak and starting RSS (or why memory is not observable), trials run.
- `sweep_level`: one concurrency level of a load sweep, with each of its requests.

Extending: `MARKDOWN_SECTIONS` lists the functions that render the Markdown report, in order; append a function
`BenchmarkRun -> str` to add a section (quality scores, charts).
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .stats import BOOTSTRAP_RESAMPLES, MIN_N_FOR_CI, MIN_N_FOR_PERCENTILE, describe, iqr_outliers, summarize

RESULTS_FILE = "results.jsonl"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
REPORT_MD = "benchmark_report.md"

TRIAL_KEY = ("model", "prompt_id", "round", "warmup")
TRIAL_METRICS = ("ttft_ms", "e2e_ms", "tpot_ms", "decode_tps", "output_tps", "output_tokens")
PROMPT_METRICS = ("e2e_ms", "ttft_ms", "tpot_ms", "decode_tps", "output_tokens")
MODEL_STATUSES = {
    "ok": "every planned trial ran and succeeded",
    "partial": "some trials failed (see `errors` and the failures section)",
    "failed": "every trial that ran failed",
    "not_found": "no model with that name in any catalog the target can see",
    "load_failed": "the model was found but could not be loaded",
    "incomplete": "interrupted before every planned trial ran: `--resume` finishes it",
    "not_run": "the run stopped before reaching this model: `--resume` runs it",
}
_TRIAL_COLUMNS = ["session", "model", "model_id", "target", "prompt_id", "round", "warmup", "ok", "error",
                  "truncated", "finish_reason", "tokens_source", "note", *TRIAL_METRICS]
_MODEL_FIELDS = ["model_id", "target", "device", "execution_provider", "load_s", "disk_mb", "context_length",
                 "peak_rss_mb", "rss_before_mb"]
SUMMARY_COLUMNS = [
    "model", "status", "target", "model_id", "device", "execution_provider", "n", "n_planned", "errors", "truncated",
    "ttft_ms_p50", "ttft_ms_p95", "ttft_ms_median_ci95_low", "ttft_ms_median_ci95_high",
    "e2e_ms_mean", "e2e_ms_p50", "e2e_ms_p90", "e2e_ms_p95", "e2e_ms_p99", "e2e_ms_min", "e2e_ms_max", "e2e_ms_std",
    "e2e_ms_median_ci95_low", "e2e_ms_median_ci95_high",
    "tpot_ms_p50", "tpot_ms_p95", "decode_tps_median", "decode_tps_median_ci95_low", "decode_tps_median_ci95_high",
    "output_tps_median", "output_tokens_mean", "tokens_source", "finish_reasons",
    "load_s", "peak_rss_mb", "rss_before_mb", "disk_mb", "context_length", "warnings", "notes", "error",
]
PER_PROMPT_COLUMNS = [
    "model", "prompt_id", "n", "errors", "truncated", "outliers", "outlier_rounds",
    "e2e_ms_mean", "e2e_ms_p50", "e2e_ms_min", "e2e_ms_max", "e2e_ms_median_ci95_low", "e2e_ms_median_ci95_high",
    "ttft_ms_p50", "tpot_ms_p50", "decode_tps_median", "output_tokens_mean", "warnings",
]
SWEEP_COLUMNS = ["model", "concurrency", "requests", "ok", "errors", "wall_s", "req_per_s", "scaling",
                 "output_tps_total", "e2e_ms_p50", "e2e_ms_p95", "ttft_ms_p50", "ttft_ms_p95", "stopped_by"]
FAILURE_COLUMNS = ["model", "kind", "prompt_id", "round", "warmup", "error"]
CONSOLE_COLUMNS = ["model", "status", "n", "errors", "ttft_ms_p50", "e2e_ms_p50", "e2e_ms_p95", "tpot_ms_p50",
                   "decode_tps_median", "output_tps_median", "output_tokens_mean", "load_s", "peak_rss_mb", "disk_mb"]


class RunFolderError(ValueError):
    """A run folder has no usable results log."""


# --- the results log ----------------------------------------------------------------------------------------------

class ResultsLog:
    """Append-only JSONL log: every record is flushed and fsynced before `append` returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        ends_mid_line = path.is_file() and path.stat().st_size > 0 and _last_byte(path) != b"\n"
        self._file = path.open("a", encoding="utf-8")
        if ends_mid_line:  # a crash cut the last record short: start the next one on its own line
            self._file.write("\n")

    def append(self, record: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "ResultsLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def read_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every record of a run folder's results.jsonl; a line cut short by a crash is skipped with a warning."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise RunFolderError(f"{path}: no results log. Run `python -m helpers bench --out {run_dir}` first.")
    records, unreadable = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            unreadable += 1
    if unreadable:
        warnings.warn(f"{path}: skipped {unreadable} unreadable line(s) (a record cut short by a crash)", stacklevel=2)
    return records


def trial_key(record: Mapping[str, Any]) -> tuple[str, str, int, bool]:
    """What identifies a trial across sessions: (model, prompt_id, round, warmup)."""
    return record["model"], record["prompt_id"], int(record["round"]), bool(record["warmup"])


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

    def to_markdown(self) -> str:
        return "\n".join(part for part in (section(self) for section in MARKDOWN_SECTIONS) if part)

    def to_json(self) -> dict[str, Any]:
        return {
            "metadata": {**self.header, "sessions": len(self.headers),
                         "resumed_at": [h["created"] for h in self.headers[1:]]},
            "summary": _records(self.summary),
            "per_prompt": _records(self.per_prompt),
            "sweep": _records(self.sweep),
            "failures": _records(self.failures),
        }

    def write(self) -> dict[str, Path]:
        """Write summary.csv, summary.json and benchmark_report.md into the run folder; returns their paths."""
        written = {"csv": self.out_dir / SUMMARY_CSV, "json": self.out_dir / SUMMARY_JSON,
                   "markdown": self.out_dir / REPORT_MD}
        self.summary.to_csv(written["csv"], index=False, float_format="%.6g")
        written["json"].write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        written["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        return written


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
    planned = len(headers[0]["prompt_set"]["prompt_ids"]) * int(config["rounds"])
    return BenchmarkRun(
        out_dir=run_dir,
        headers=headers,
        models=models,
        trials=trials,
        summary=model_summary(trials, models, planned),
        per_prompt=prompt_summary(trials),
        sweep=sweep_summary([r for r in records if r["type"] == "sweep_level"]),
        failures=failures_frame(trials, models),
    )


def trials_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Trial records as a DataFrame, with IQR outlier flags (`outlier_e2e`, `outlier_ttft`) per model x prompt."""
    trials = pd.DataFrame([{k: v for k, v in r.items() if k != "type"} for r in records])
    if trials.empty:
        trials = pd.DataFrame(columns=_TRIAL_COLUMNS)
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
    """ok, partial, failed, not_found, load_failed, incomplete or not_run (see MODEL_STATUSES)."""
    if lookup_status in ("not_found", "load_failed"):
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


def model_summary(trials: pd.DataFrame, models: pd.DataFrame, planned: int) -> pd.DataFrame:
    """One row per model: status, counts and the statistics of its successful measured trials."""
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
            "tokens_source": "+".join(sorted(set(ok_mine["tokens_source"].dropna()))) or None,
            "finish_reasons": _counts(ok_mine["finish_reason"]),
            "warnings": row.get("e2e_ms_warnings") or ("no successful trials" if ok_mine.empty else ""),
            "notes": "; ".join(n for n in notes if isinstance(n, str) and n),
            "error": lookup_error or _counts(mine.loc[~mine["ok"], "error"], limit=3),
        }
        rows.append(row)
    return _numeric(pd.DataFrame(rows, columns=SUMMARY_COLUMNS)).astype({"context_length": "Int64"})


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
        for name, info in models.iterrows() if info["lookup_status"] in ("not_found", "load_failed")
    ]
    failed = trials[~trials["ok"]]
    rows += [{"model": t.model, "kind": "request", "prompt_id": t.prompt_id, "round": t.round,
              "warmup": t.warmup, "error": t.error} for t in failed.itertuples()]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


_TEXT_COLUMNS = {"model", "status", "target", "model_id", "device", "execution_provider", "tokens_source",
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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN -> None, numpy scalars -> Python)."""
    return json.loads(frame.to_json(orient="records"))


# --- Markdown -----------------------------------------------------------------------------------------------------

def _fmt(value: object) -> str:
    if value is None or (np.isscalar(value) and pd.isna(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned, missing values as '–'."""
    if frame.empty:
        return "_none_\n"
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |",
             "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _metadata_section(run: BenchmarkRun) -> str:
    header, config = run.header, run.config
    versions, system, target, prompt_set = header["versions"], header["system"], header["target"], header["prompt_set"]
    settings = {
        "kit version": header["kit_version"],
        **{f"{name} version": version for name, version in versions.items()},
        "OS": system["os"],
        "CPU": f"{system['cpu']} ({system['physical_cores']} physical / {system['logical_cores']} logical cores)",
        "RAM": f"{system['ram_gb']} GB",
        "target": f"{config['target']} ({target['description']})",
        "device requested": config["device"],
        "prompt set": f"{prompt_set['name']} ({len(prompt_set['prompt_ids'])} prompts, fingerprint {prompt_set['fingerprint']})",
        "rounds / warm-up per model": f"{config['rounds']} / {config['warmup']}",
        "max_tokens / temperature / seed": f"{config['max_tokens']} / {config['temperature']} / {config['seed']}",
        "streaming": "yes" if config["stream"] else "no (TTFT, TPOT and decode rate unavailable)",
        "config fingerprint": header["config_fingerprint"],
        "started": header["created"],
        "sessions": f"{len(run.headers)}" + (f" (resumed at {', '.join(h['created'] for h in run.headers[1:])})"
                                            if len(run.headers) > 1 else ""),
    }
    table = markdown_table(pd.DataFrame({"setting": list(settings), "value": list(settings.values())}))
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (f"# Benchmark report\n\nGenerated {generated} from `{run.out_dir / RESULTS_FILE}` "
            f"(regenerate with `python -m helpers report {run.out_dir}`).\n\n## Run\n\n{table}")


def _summary_section(run: BenchmarkRun) -> str:
    legend = "\n".join(f"- `{status}`: {meaning}" for status, meaning in MODEL_STATUSES.items())
    columns = [c for c in CONSOLE_COLUMNS if c != "errors"] + ["errors", "truncated", "tokens_source"]
    return (f"## Summary per model\n\nStatistics over successful measured trials (warm-ups excluded); "
            f"`n` of `n_planned` = {run.summary['n_planned'].max()} per model. Every column, confidence intervals "
            f"included, is in `{SUMMARY_CSV}`.\n\n{markdown_table(run.summary[columns])}\nStatus:\n\n{legend}\n")


def _notes_section(run: BenchmarkRun) -> str:
    lines = [f"- **{row.model}**: {text}" for row in run.summary.itertuples()
             for text in (row.warnings, row.notes) if text]
    return "## Warnings and notes\n\n" + "\n".join(lines) + "\n" if lines else ""


def _per_prompt_section(run: BenchmarkRun) -> str:
    columns = ["model", "prompt_id", "n", "errors", "truncated", "outliers", "outlier_rounds", "e2e_ms_p50",
               "e2e_ms_min", "e2e_ms_max", "ttft_ms_p50", "tpot_ms_p50", "decode_tps_median", "output_tokens_mean"]
    return ("## Per prompt\n\nOutliers: trials beyond 1.5 × IQR outside the quartiles of their model × prompt "
            "(e2e latency); flagged, never removed.\n\n" + markdown_table(run.per_prompt[columns]))


def _failures_section(run: BenchmarkRun) -> str:
    if run.failures.empty:
        return "## Failures\n\nNone.\n"
    shown = run.failures.head(50)
    more = f"\n{len(run.failures) - len(shown)} more in `{RESULTS_FILE}`.\n" if len(run.failures) > len(shown) else ""
    return ("## Failures\n\nA failed request is recorded once and never retried inside a timed region; the next "
            "trial is a new trial.\n\n" + markdown_table(shown) + more)


def _sweep_section(run: BenchmarkRun) -> str:
    if run.sweep.empty:
        return ""
    return (
        "## Load sweep\n\n"
        "Each level sends the prompt set (prompts × rounds requests, bounded by a time limit per level) from that "
        "many concurrent clients. `req_per_s` = successful requests / wall time of the level (first send to last "
        "completion); `output_tps_total` = output tokens of all successful requests / the same wall time; "
        "latencies are per request and include time spent waiting in the server's queue; `scaling` = req/s "
        "relative to the lowest level.\n\n"
        + markdown_table(run.sweep)
        + "\nFoundry Local serves one request at a time (no batching): extra concurrent requests wait in a queue. "
        "Expect `scaling` near 1.0 and latency growing with concurrency; that is queueing, not a slower model. "
        "Servers that batch requests (vLLM, llama.cpp with parallel slots) would show scaling above 1.\n"
    )


def _definitions_section(run: BenchmarkRun) -> str:
    interval_ms = run.header.get("rss_interval_s", 0) * 1000
    return f"""## How each number is defined

All times come from the client's monotonic clock (`time.perf_counter`), relative to the moment just before the
request is sent, on the one timed request (never from a second request).

- **e2e_ms** (end-to-end latency): until the response is complete (end of stream), or the error that ended it.
- **ttft_ms** (time to first token): until the first chunk carrying non-empty answer text; a role-only chunk is not
  a token. Not available without streaming.
- **tpot_ms** (time per output token): (e2e − TTFT) / (output_tokens − 1), the mean time per token after the first.
- **decode_tps** = (output_tokens − 1) / (e2e − TTFT): generation speed once the first token is out.
  **output_tps** = output_tokens / e2e: the overall rate a user sees, including the wait for the first token.
  Prompt tokens never enter a rate: `total_tokens / latency` is neither of these and is not reported.
- **output tokens**: from the server's usage report (`tokens_source` = usage), else the number of non-empty
  streamed chunks (`counted`, one chunk assumed to be one token). **truncated**: finish reason `length`, the answer
  was cut by max_tokens; `finish_reasons` counts how each answer ended (engines stop at different lengths, so
  compare rates per output token, not latency alone).
- **Percentiles** (p50 = median, p90, p95, p99): `numpy.percentile(method="linear")` (Hyndman & Fan type 7), always
  within [min, max]. A pth percentile needs n ≥ 1 / (1 − p/100) samples ({', '.join(f'p{p}: {n}' for p, n in MIN_N_FOR_PERCENTILE.items())});
  below that it is an interpolation between the largest values and the report warns.
- **median CI95**: 95% percentile-bootstrap confidence interval of the median ({BOOTSTRAP_RESAMPLES} resamples, fixed
  seed); rough below n = {MIN_N_FOR_CI}.
- **Warm-up**: {run.config['warmup']} request(s) per model right after loading, recorded with `warmup: true` and excluded
  from every statistic (the first request of a process is slow).
- **load_s**: cold load time of a model not yet in memory (in-process `load()`, or the load route of an external
  Foundry Local service). The model is unloaded after its run, so models never share memory.
- **peak_rss_mb**: the largest resident set size sampled every {interval_ms:.0f} ms from before the load to the
  end of the model's run; `rss_before_mb` is the RSS at the start. In-process and with the built-in web service this
  is this Python process (runtime + model + Python); for an external server only when its pid is given.
- **disk_mb**: total size of the files in the model's folder.
- **Deterministic mode**: temperature {run.config['temperature']} and a fixed seed ({run.config['seed']}), so
  rounds repeat the same answer and differences between rounds are timing noise.
"""


MARKDOWN_SECTIONS: list[Callable[[BenchmarkRun], str]] = [
    _metadata_section, _summary_section, _notes_section, _per_prompt_section, _failures_section, _sweep_section,
    _definitions_section,
]


def console_table(run: BenchmarkRun) -> str:
    """The summary's key columns as plain text for a terminal."""
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.1f}".format):
        table = run.summary[CONSOLE_COLUMNS].to_string(index=False)
    problems = [f"{row.model}: {row.status}" + (f": {row.error}" if row.error else "")
                for row in run.summary.itertuples() if row.status != "ok"]
    return "\n".join([table, *problems])

