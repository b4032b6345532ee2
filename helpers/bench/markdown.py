"""The benchmark report as text: `benchmark_markdown(run)` (benchmark_report.md) and `console_table(run)`.

Rendering only: reads a `BenchmarkRun` (`helpers.bench.summary`), writes no file (`helpers.bench.outputs` does).
Extending: `MARKDOWN_SECTIONS` lists the functions that render the Markdown report, in order; append a function
`BenchmarkRun -> str` to add a section.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ..measure.prompt_cache import MODE_LABELS
from ..measure.roofline import EXPLANATION, bandwidth_summary
from ..measure.stats import BOOTSTRAP_RESAMPLES, MIN_N_FOR_CI, MIN_N_FOR_PERCENTILE
from . import metrics
from .results import RESULTS_FILE, SUMMARY_CSV
from .summary import MODEL_STATUSES, BenchmarkRun

CONSOLE_COLUMNS = ["model", "status", "n", "errors", "ttft_ms_p50", "e2e_ms_p50", "e2e_ms_p95", "tpot_ms_p50",
                   "decode_tps_median", "decode_roofline_pct", "threads", "output_tps_median", "output_tokens_mean",
                   "load_s", "peak_rss_mb", "disk_mb"]
_AT_TPOT = CONSOLE_COLUMNS.index("tpot_ms_p50") + 1
# The reports' summary table (Markdown and HTML): the console's columns with ITL next to TPOT (the AIPerf/vLLM
# naming is in the definitions), then errors, truncation, reasoning, prompt cache and how tokens were counted.
SUMMARY_COLUMNS = [c for c in CONSOLE_COLUMNS[:_AT_TPOT] if c != "errors"] + ["itl_ms_p50", "itl_ms_p95"] + [
    *CONSOLE_COLUMNS[_AT_TPOT:], "errors", "truncated", "ttft_any_ms_p50", "reasoning_tokens_mean",
    "cached_tokens_mean", "tokens_source", "threads_source", "weights_read_mb", "decode_ceiling_tps"]


def format_value(value: object) -> str:
    """A table cell as every report shows it (Markdown and HTML): missing (None, NaN, pd.NA) as '–', booleans as
    yes/no, floats rounded (2 decimals below 10, 1 from 10; 2 significant digits below 0.01, never a false 0.00)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if 0 < abs(value) < 0.01:
            return f"{value:.{1 - int(np.floor(np.log10(abs(value))))}f}"
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value).replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned, cells as `format_value` shows them."""
    if frame.empty:
        return "_none_\n"
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |",
             "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"]
    lines += ["| " + " | ".join(format_value(v).replace("|", "\\|") for v in row) + " |"
              for row in frame.itertuples(index=False)]
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
        "prompt cache": _cache_label(run),
        "decode threads": _threads_label(run),
        "memory bandwidth": bandwidth_summary(header.get("bandwidth")),
        "config fingerprint": header["config_fingerprint"],
        "started": header["created"],
        "sessions": f"{len(run.headers)}" + (f" (resumed at {', '.join(h['created'] for h in run.headers[1:])})"
                                            if len(run.headers) > 1 else ""),
    }
    table = markdown_table(pd.DataFrame({"setting": list(settings), "value": list(settings.values())}))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return (f"# Benchmark report\n\nGenerated {generated} from `{run.out_dir / RESULTS_FILE}` "
            f"(regenerate with `python -m helpers report {run.out_dir}`).\n\n## Run\n\n{table}")


def _threads_label(run: BenchmarkRun) -> str:
    """`model: 2 (build), other: 1 (override)` from the header (a run from before: not recorded)."""
    settings = run.header.get("threads")
    if not settings:
        return "not recorded (a run from before the kit set threads)"
    return "; ".join(f"{name}: {s['threads'] if s['threads'] is not None else '–'} ({s['threads_source']})"
                     for name, s in settings.items())


def _roofline_section(run: BenchmarkRun) -> str:
    columns = ["model", "threads", "decode_tps_median", "weights_read_mb", "decode_ceiling_tps", "decode_roofline_pct"]
    return (f"## Roofline: decode against this machine's memory bandwidth\n\n{EXPLANATION}\n\n"
            f"Bandwidth: {bandwidth_summary(run.header.get('bandwidth'))}. `weights_read_mb`: MB read per decoded "
            "token; `decode_ceiling_tps` = bandwidth / weights_read_mb; `decode_roofline_pct` = decode_tps_median / "
            f"decode_ceiling_tps × 100.\n\n{markdown_table(run.summary[columns])}")


def _cache_label(run: BenchmarkRun) -> str:
    mode = run.config.get("prompt_cache")
    return MODE_LABELS[mode] if mode in MODE_LABELS else "not recorded (a run from before the kit defeated prompt caches)"


def _summary_section(run: BenchmarkRun) -> str:
    legend = "\n".join(f"- `{status}`: {meaning}" for status, meaning in MODEL_STATUSES.items())
    return (f"## Summary per model\n\nStatistics over successful measured trials (warm-ups excluded); "
            f"`n` of `n_planned` = {run.summary['n_planned'].max()} per model. Every column, confidence intervals "
            f"included, is in `{SUMMARY_CSV}`.\n\n{markdown_table(run.summary[SUMMARY_COLUMNS])}\nStatus:\n\n{legend}\n")


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
    cache_label = _cache_label(run)
    return f"""## How each number is defined

All times come from the client's monotonic clock (`time.perf_counter`), relative to the moment just before the
request is sent, on the one timed request (never from a second request).

{metrics.markdown_table()}

- **When a trial ends** — **e2e_ms** (end-to-end latency): until the END OF GENERATION, the arrival of the last chunk
  carrying generated text (streamed); without streaming, until the whole reply arrived; for a failed trial, until
  the error. What a server sends after its last token (the usage chunk, `[DONE]`, keep-alives; vLLM may send them
  hundreds of ms later) is not generation: **close_ms**, recorded per trial apart, is the time until the response
  closed (≥ e2e_ms).
- **ttft_ms** is the first non-empty *answer* text: a role-only chunk is not a token, and reasoning is not answer
  text (a `reasoning_content` or `reasoning` field, `<think>…</think>` in the content, the SDK's
  TextItemType.REASONING). TTFT, ITL, TPOT and decode_tps are not available without streaming; when a server sends
  all the text in one chunk there is no decode window: TPOT and decode_tps are missing, with a note.
- **output tokens** (reasoning included), recorded per trial as `tokens_source` and counted per model in the
  summary. The server's usage report is used when the stream does not contradict it: `usage` (its
  `completion_tokens` counts every generated token, reasoning included: OpenAI's convention) or `usage+reasoning`
  (its `completion_tokens` left the reasoning out and reported it apart, as some proxies do: output = completion +
  reasoning tokens; decided from what the server sends: reasoning tokens above the completion tokens, or completion
  tokens too few for the answer's own streamed chunks). **When usage and the stream disagree**: every streamed chunk
  with text holds at least one token, so a usage report below that count (or 0 for a non-empty answer) is not
  used, with a note, and the tokens are counted by `tokenizer` (the model's own tokenizer.json, for models the kit
  built or converted), else `chunks` (one chunk assumed to be one token: an undercount when a server sends several
  tokens per chunk; flagged in the notes). **reasoning_tokens / answer_tokens**: the split, where the server
  (`completion_tokens_details.reasoning_tokens`), the tokenizer, or one-token chunks tell them apart.
- **truncated**: the answer was cut by max_tokens: `truncation` = `length` when the finish reason says so, or
  **likely** when the output tokens reached max_tokens although the server said `stop` (some engines report `stop`
  at the cap: Foundry Local #243, ik_llama.cpp): an answer exactly as long as the cap is itself evidence of a cut,
  noted on the trial. `finish_reasons` counts how each answer ended (engines stop at different lengths, so compare
  rates per output token, not latency alone).
- **ok / failed trial**: a trial is ok only when the response ended properly (a finish reason or `[DONE]`) and
  carried answer or reasoning text. A response with neither is never a silent ok: it fails as EmptyResponse, even
  with a usage report (text in a shape the kit could not read). Reasoning without an answer is ok with a note: cut
  at the cap (max_tokens is too small for this model to answer) or stopped without answering. An error in any form
  (HTTP status, an `error:` line or `error` event in the stream, an `{{"error": …}}` payload) or a stream that stops
  without finishing makes it a failed trial with that message. The body decides how a reply is read, not its
  Content-Type: a body starting with `data:` is an event stream. A server still loading its model (HTTP 503) is
  waited for before measuring, bounded, with `ready_wait_s` recorded.
- **prompt cache** ({cache_label}): `cached_tokens_mean` is the mean of the prompt tokens a server said it served
  from its prefix cache (`usage.prompt_tokens_details.cached_tokens`, llama.cpp `timings.cache_n`), where it says.
  By default every request starts with a short, recorded prefix (`prompt_prefix`, `[r<round>p<prompt>] `, the same
  for every engine in the same round) and HTTP requests carry `cache_prompt: false`, so TTFT measures a cold
  prefill on every engine; `--prompt-cache warm` measures TTFT with the cache on (repeats of the same prompt).
- **Percentiles** (p50 = median, p90, p95, p99): `numpy.percentile(method="linear")` (Hyndman & Fan type 7), always
  within [min, max]. A pth percentile needs n ≥ 1 / (1 − p/100) samples ({', '.join(f'p{p}: {n}' for p, n in MIN_N_FOR_PERCENTILE.items())});
  below that it is an interpolation between the largest values and the report warns.
- **median CI95**: 95% percentile-bootstrap confidence interval of the median ({BOOTSTRAP_RESAMPLES} resamples, fixed
  seed); rough below n = {MIN_N_FOR_CI}.
- **Warm-up**: {run.config['warmup']} request(s) per model right after loading, recorded with `warmup: true` and excluded
  from every statistic (the first request of a process is slow).
- **load_s**: cold load time of a model not yet in memory (in-process `load()`, or the load route of an external
  Foundry Local service). The model is unloaded after its run, so models never share memory.
- **peak_rss_mb**: the largest resident set size, sampled every {interval_ms:.0f} ms. For a model run in this
  process (in-process, or the built-in web service) it is measured in ISOLATION (`memory_method` `isolated`): after
  the model's run a fresh process loads it and answers one fixed request (`helpers.bench.memory_probe`), so the
  figure does not carry what ran before it in this process and is the same wherever the model is benchmarked;
  `rss_baseline_mb` is that process before the load (Python + SDK + runtime), `model_rss_mb` = peak − baseline,
  the model's own footprint. `process_peak_rss_mb` (and `rss_before_mb`) is this process sampled during the run,
  leftovers of earlier models included (`memory_method` `process` when no probe ran: `--no-memory-probe`). For an
  external server: its process, only when its pid is given.
- **disk_mb**: total size of the files in the model's folder. Every `_mb` column is in MB = 10^6 bytes.
- **Machine load**: the header records the load averages at the start; per model, `cpu_busy_pct` is the whole
  machine's CPU busy during its run and `other_cpu_pct` the part taken by processes other than the measured ones.
  Two runs are compared (`compare_runs`) as a change only when the medians' CIs are apart, the difference exceeds
  the between-run noise floor (measured from repeats), and `other_cpu_pct` stays under 50% in both runs and differs
  by at most 15 points; otherwise `within noise` or `cannot tell`.
- **Deterministic mode**: temperature {run.config['temperature']} and a fixed seed ({run.config['seed']}), so
  rounds repeat the same answer and differences between rounds are timing noise.
"""


MARKDOWN_SECTIONS: list[Callable[[BenchmarkRun], str]] = [
    _metadata_section, _summary_section, _roofline_section, _notes_section, _per_prompt_section, _failures_section,
    _sweep_section, _definitions_section,
]


def console_table(run: BenchmarkRun) -> str:
    """The summary's key columns as plain text for a terminal."""
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.1f}".format):
        table = run.summary[CONSOLE_COLUMNS].to_string(index=False, na_rep="–")  # never NaN for unmeasured
    problems = [f"{row.model}: {row.status}" + (f": {row.error}" if row.error else "")
                for row in run.summary.itertuples() if row.status != "ok"]
    return "\n".join([table, *problems])


def benchmark_markdown(run: BenchmarkRun) -> str:
    """The whole benchmark report (every section of MARKDOWN_SECTIONS that has content), as Markdown."""
    return "\n".join(part for part in (section(run) for section in MARKDOWN_SECTIONS) if part)
