"""The selection report of a run folder: quality, comparison and ranking, cost estimate, charts, recommendation.

`select(run)` scores the run's answers (facet HEURISTIC), joins them with the benchmark, models.json footprint and
license (`compare.comparison_table`), ranks the models with the weights, estimates cost and energy, and, given a
baseline run, compares the two. `write_reports(selection)` writes next to results.jsonl:

- through their one writer `bench.outputs.write_run_files`: `summary.csv` (the benchmark summary),
  `summary.json` (everything, as JSON), `benchmark_report.md` (the benchmark report with the selection sections
  appended, linking the charts),
- `quality_scores.csv`, `comparison.csv`, `energy_estimate.csv` (and `run_comparison.csv`, `answer_diffs.csv`
  with a baseline),
- `chart_<name>.png` for every chart, and `report.html`: self-contained, every chart embedded as a base64 PNG
  data URI, no external asset.

The Markdown sections and the HTML page are rendered by `helpers.selection_render`.

Headless: `python -m helpers report RUN_DIR [--weights quality=0.5,latency=0.3] [--watts 45] [--baseline DIR]`.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import compare, energy, plots, quality
from .bench.markdown import console_table
from .bench.outputs import write_run_files
from .bench.results import RunFolderError
from .bench.summary import BenchmarkRun, json_records, load_run
from .config import ConfigError, ModelsConfig, PromptSet, load_models, resolve_prompt_set
from .lists import comma_list
from .selection_render import (  # noqa: F401 - notebook 05 reads the columns as selection_report.*
    RANKING_COLUMNS,
    VALUE_COLUMNS,
    chart_file,
    selection_markdown,
    to_html,
)

REPORT_HTML = "report.html"
QUALITY_CSV = "quality_scores.csv"
COMPARISON_CSV = "comparison.csv"
ENERGY_CSV = "energy_estimate.csv"
RUN_COMPARISON_CSV = "run_comparison.csv"
ANSWER_DIFFS_CSV = "answer_diffs.csv"


@dataclass
class Selection:
    """A run with everything needed to choose between its models."""

    run: BenchmarkRun
    prompt_set: PromptSet
    scores: pd.DataFrame  # quality.score_answers: one row per measured answer
    quality: pd.DataFrame  # quality.quality_summary: one row per model
    ranked: pd.DataFrame  # compare.rank_models: one row per model, best first
    weights: dict[str, float]  # resolved, summing to 1
    energy: pd.DataFrame  # energy.energy_estimate
    recommendation: str
    baseline: BenchmarkRun | None = None
    run_comparison: pd.DataFrame | None = None  # compare.compare_runs(baseline, run)
    answer_diffs: pd.DataFrame | None = None  # compare.answer_diffs(baseline, run)
    figures: dict[str, Figure] = field(default_factory=dict)


def run_prompt_set(run: BenchmarkRun) -> PromptSet:
    """The prompt set the run asked, checked against the fingerprint in its header."""
    name_or_file = run.config.get("prompts")
    _, prompt_set = resolve_prompt_set(name_or_file)
    expected = run.header["prompt_set"]["fingerprint"]
    if prompt_set.fingerprint() != expected:
        raise ConfigError(
            f"{run.out_dir}: the run asked prompt set '{name_or_file or 'default'}' with fingerprint {expected}, but "
            f"it now has fingerprint {prompt_set.fingerprint()} (edited since?). Restore the set, or rerun the "
            "benchmark so answers and rubric match.")
    return prompt_set


def select(run: BenchmarkRun, weights: Mapping[str, float] | None = None, watts: float = energy.DEFAULT_WATTS,
           power_source: str = "configured", price_per_kwh: float = energy.DEFAULT_PRICE_PER_KWH,
           baseline: BenchmarkRun | None = None, models: ModelsConfig | None = None,
           currency: str = energy.DEFAULT_CURRENCY) -> Selection:
    """Score, compare and rank a run's models, estimate cost at `watts`, and compare with `baseline` if given."""
    prompt_set = run_prompt_set(run)
    scores = quality.score_answers(run.trials, prompt_set) if not run.trials.empty else pd.DataFrame()
    quality_table = quality.quality_summary(scores) if not scores.empty else None
    table = compare.comparison_table(run.summary, quality_table, models or load_models())
    resolved = compare.resolve_weights(weights)
    ranked = compare.rank_models(table, resolved)
    selection = Selection(
        run=run, prompt_set=prompt_set, scores=scores,
        quality=quality_table if quality_table is not None else pd.DataFrame(),
        ranked=ranked, weights=resolved,
        energy=energy.energy_estimate(run.summary, watts, power_source, price_per_kwh, currency),
        recommendation=compare.recommendation(ranked, resolved),
        baseline=baseline,
    )
    if baseline is not None:
        selection.run_comparison = compare.compare_runs(baseline.summary, run.summary)
        selection.answer_diffs = compare.answer_diffs(baseline.trials, run.trials)
    selection.figures = charts(selection)
    return selection


# --- charts ---------------------------------------------------------------------------------------------------------

CHARTS: dict[str, Callable[[Selection], Figure | None]] = {
    "ttft_distribution": lambda s: plots.ttft_distribution(s.run.trials),
    "latency_distribution": lambda s: plots.latency_distribution(s.run.trials),
    "decode_rate": lambda s: plots.decode_rate(s.run.summary),
    "quality_vs_latency": lambda s: plots.quality_vs_latency(s.ranked),
    "prompt_heatmap": lambda s: plots.prompt_heatmap(s.scores) if "facet_score" in s.scores else None,
    "memory_and_disk": lambda s: plots.memory_and_disk(s.run.summary),
}


def charts(selection: Selection) -> dict[str, Figure]:
    """Every chart of CHARTS that has data, by name."""
    made = {name: make(selection) for name, make in CHARTS.items()}
    return {name: figure for name, figure in made.items() if figure is not None}


# --- writing --------------------------------------------------------------------------------------------------------

def write_reports(selection: Selection) -> dict[str, Path]:
    """Write every report file into the run folder (see the module docstring); returns their paths by kind.

    summary.csv, summary.json and benchmark_report.md go through their one writer, `bench.outputs.write_run_files`,
    with the selection's sections and data added; this function is the one writer of the other files.
    """
    run, out = selection.run, selection.run.out_dir
    extra_json = {
        "quality": json_records(selection.quality), "comparison": json_records(selection.ranked),
        "weights": selection.weights, "energy_estimate": json_records(selection.energy),
        "recommendation": selection.recommendation, "run_comparison": json_records(selection.run_comparison),
    }
    written = write_run_files(run, selection_markdown(selection), extra_json)
    for name, figure in selection.figures.items():
        written[f"chart_{name}"] = out / chart_file(name)
        figure.savefig(written[f"chart_{name}"], dpi=100)
    tables = {"quality_scores": (QUALITY_CSV, selection.scores), "comparison": (COMPARISON_CSV, selection.ranked),
              "energy": (ENERGY_CSV, selection.energy), "run_comparison": (RUN_COMPARISON_CSV, selection.run_comparison),
              "answer_diffs": (ANSWER_DIFFS_CSV, selection.answer_diffs)}
    for kind, (filename, frame) in tables.items():
        if frame is not None:
            written[kind] = out / filename
            frame.to_csv(written[kind], index=False, float_format="%.6g")
    written["html"] = out / REPORT_HTML
    written["html"].write_text(to_html(selection), encoding="utf-8")
    return written


def parse_weights(text: str | None) -> dict[str, float]:
    """'quality=0.5,latency=0.3' -> {'quality': 0.5, 'latency': 0.3}; raises ValueError naming a bad entry."""
    weights: dict[str, float] = {}
    for item in comma_list(text):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--weights entry '{item}': use NAME=NUMBER with NAME one of "
                             f"{list(compare.DIMENSIONS)}") from None
    return weights


def main(run_dir: str | Path, weights: str | None = None, watts: float = energy.DEFAULT_WATTS,
         baseline_dir: str | Path | None = None, price_per_kwh: float = energy.DEFAULT_PRICE_PER_KWH,
         currency: str = energy.DEFAULT_CURRENCY) -> int:
    """CLI entry (`foundry-lab report RUN_DIR`): regenerate every report of the run folder."""
    try:
        run = load_run(run_dir)
        baseline = load_run(baseline_dir) if baseline_dir else None
        selection = select(run, parse_weights(weights), watts, baseline=baseline, price_per_kwh=price_per_kwh,
                           currency=currency)
    except (RunFolderError, ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    written = write_reports(selection)
    print(console_table(run))
    print("\n" + selection.recommendation)
    print("\n" + "\n".join(f"wrote {path}" for path in written.values()))
    return 0
