"""One table of metric facts: per summary column, its unit, which direction is better, the formula, and the source of
the definition. The README's metrics table and the report's definitions table are produced from it
(`python -m helpers.bench.metrics --markdown` prints the README's), and `helpers.evaluate.compare` takes the
directions of its dimensions from it.

Sources: vLLM `bench serve` (TTFT, TPOT, ITL per gap, e2e), NVIDIA AIPerf (its "inter token latency" is the kit's
TPOT; output token throughput), MLPerf Inference (goodput: requests meeting the latency targets), the roofline model
(Williams, Waterman, Patterson 2009). Per-trial formulas are the properties of `helpers.measure.trial.TrialTiming`.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Metric:
    """One summary column: `unit`, `better` direction, `formula` (per trial unless it says pooled), `source`."""

    column: str
    name: str
    unit: str
    better: Better
    formula: str
    source: str


METRICS: dict[str, Metric] = {m.column: m for m in (
    Metric("ttft_ms_p50", "TTFT (time to first token), median", "ms", "lower",
           "request sent → first chunk with non-empty answer text (reasoning is not answer)", "vLLM bench serve, AIPerf"),
    Metric("ttft_any_ms_p50", "first token of any kind, median", "ms", "lower",
           "request sent → first chunk with generated text, reasoning or answer", "AIPerf (time to first token)"),
    Metric("e2e_ms_p50", "e2e latency, median", "ms", "lower",
           "request sent → last generated token (not the stream's close)", "vLLM bench serve (e2el), AIPerf (request latency)"),
    Metric("e2e_ms_p95", "e2e latency, p95", "ms", "lower",
           "request sent → last generated token (not the stream's close); numpy linear percentile",
           "vLLM bench serve (e2el), AIPerf (request latency)"),
    Metric("tpot_ms_p50", "TPOT (time per output token), median", "ms", "lower",
           "(e2e − first token) / (output tokens − 1)", "vLLM bench serve (TPOT); AIPerf calls it inter token latency"),
    Metric("itl_ms_p50", "ITL (inter-token latency), median", "ms", "lower",
           "every gap between consecutive streamed chunks, pooled over the model's trials", "vLLM bench serve (ITL)"),
    Metric("decode_tps_median", "decode rate, median", "tokens/s", "higher",
           "(output tokens − 1) / (e2e − first token)", "1 / TPOT (vLLM, AIPerf)"),
    Metric("output_tps_median", "output throughput per request, median", "tokens/s", "higher",
           "output tokens / e2e (never total tokens / latency)", "AIPerf (output token throughput per user)"),
    Metric("decode_roofline_pct", "decode rate as % of the roofline", "%", "higher",
           "decode_tps_median / (memory bandwidth / weights read per token) × 100",
           "roofline model (Williams et al. 2009); helpers.measure.roofline"),
    Metric("peak_rss_mb", "peak memory (model measured alone)", "MB", "lower",
           "peak resident set size of a fresh process that loads the model and answers", "psutil RSS"),
    Metric("disk_mb", "model files on disk", "MB", "lower", "sum of the model folder's file sizes (10^6 bytes)",
           "the model folder"),
    Metric("load_s", "cold load time", "s", "lower", "load call → model ready", "the runtime's load call"),
)}
# Goodput (MLPerf Inference, DistServe: requests per second that meet TTFT/TPOT targets) is not a summary column:
# `foundry-lab route --max-p95-ms` and the report's gates apply latency targets to the p95 instead.


def better(column: str) -> Better:
    """Which direction is better for a summary column of METRICS; KeyError names an unknown column."""
    return METRICS[column].better


def markdown_table() -> str:
    """The table of METRICS in Markdown (the README's metrics table, the report's definitions table)."""
    rows = ["| column | metric | unit | better | formula | source |", "|---|---|---|---|---|---|"]
    rows += [f"| `{m.column}` | {m.name} | {m.unit} | {m.better} | {m.formula} | {m.source} |" for m in METRICS.values()]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the metrics table in Markdown (README)")
    parser.parse_args(argv)
    print(markdown_table(), end="")


if __name__ == "__main__":
    main()
