"""The selection report of a run folder: quality, comparison and ranking, cost estimate, charts, recommendation.

`select(run)` scores the run's answers with every scorer of `evaluate.scoring` (facet coverage HEURISTIC, ROUGE-L
against the prompts' references, instruction checks, code run against test cases, atomic facts) and takes
`quality_score` from the scorer the calibration set measures best (`calibration/accuracy.json`), adds the
judge's verdicts when given (`judging.judge_run`: parse rate, agreement with the facet heuristic), joins them
with the benchmark, models.json footprint and license (`compare.comparison_table`), applies the gates (quality
floor, memory budget, license; models.json `gates`) and ranks the models that pass with the weights, estimates
cost and energy, and, given a baseline run, compares the two. `write_reports(selection)` writes next to results.jsonl:

- through their one writer `bench.outputs.write_run_files`: `summary.csv` (the benchmark summary),
  `summary.json` (everything, as JSON), `benchmark_report.md` (the benchmark report with the selection sections
  appended, linking the charts),
- `quality_scores.csv` (every scorer and quality_score per answer), `comparison.csv`, `energy_estimate.csv` (and
  `run_comparison.csv`, `answer_diffs.csv` with a baseline),
- `chart_<name>.png` for every chart, and `report.html`: self-contained, every chart embedded as a base64 PNG
  data URI, no external asset.

The Markdown sections and the HTML page are rendered by `helpers.present.render`.

Headless: `python -m helpers report RUN_DIR [--weights quality=0.5,latency=0.3] [--watts 45] [--baseline DIR]
[--judge MODEL|none]` (the judge's verdicts are kept in `judge_scores.csv`, see `judging`).
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..bench.markdown import console_table
from ..bench.outputs import write_run_files
from ..bench.results import RunFolderError
from ..bench.summary import BenchmarkRun, json_records, load_run
from ..core.config import ConfigError, ModelsConfig, PromptSet, SelectionGates, load_models, resolve_prompt_set
from ..core.lists import comma_list
from ..evaluate import answers, calibration, compare, facets, judging, scoring, uncertainty
from ..evaluate.judge import judge_facet_agreement, judge_parse_rate
from ..measure import energy
from . import plots
from .render import chart_file, selection_markdown, to_html

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
    scores: pd.DataFrame  # scoring.score_answers: one row per measured answer, every scorer
    quality: pd.DataFrame  # uncertainty.model_quality + facet summary + mean_rouge_l (+ mean judge score): per model
    ranked: pd.DataFrame  # compare.gated_ranking: one row per model, passing ones ranked best first
    weights: dict[str, float]  # resolved, summing to 1
    energy: pd.DataFrame  # energy.energy_estimate
    recommendation: str
    baseline: BenchmarkRun | None = None
    run_comparison: pd.DataFrame | None = None  # compare.compare_runs(baseline, run)
    answer_diffs: pd.DataFrame | None = None  # compare.answer_diffs(baseline, run)
    figures: dict[str, Figure] = field(default_factory=dict)
    gates: SelectionGates = field(default_factory=SelectionGates)
    judged: pd.DataFrame | None = None  # judging.judge_run: one verdict per model x prompt
    judge_note: str = "no judge"
    judge_parse: pd.DataFrame | None = None  # judge_parse_rate
    judge_agreement: dict | None = None  # judge_facet_agreement
    quality_method: str = scoring.DEFAULT_QUALITY_SCORER  # the scorer behind quality_score
    calibration: dict | None = None  # calibration/accuracy.json: every scorer's measured pairwise accuracy


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


def quality_tables(run: BenchmarkRun, prompt_set: PromptSet, judged: pd.DataFrame | None,
                    method: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(per-answer scores: `evaluate.scoring.score_answers`, every scorer and quality_score by `method`; per-model
    quality table: `uncertainty.model_quality` with the facet summary, mean_rouge_l and mean_judge_score) or
    (empty, None) without answers."""
    if run.trials.empty or answers.measured_answers(run.trials).empty:
        return pd.DataFrame(), None
    scores = scoring.score_answers(run.trials, prompt_set, judged, method)
    facet_table = facets.quality_summary(facets.score_answers(run.trials, prompt_set))
    table = uncertainty.model_quality(scores).merge(facet_table.drop(columns=["n", "n_prompts"]), on="model", how="left")
    rouge_means = scores.groupby("model", sort=False)["rouge_l"].mean().astype(float).rename("mean_rouge_l")
    table = table.merge(rouge_means.reset_index(), on="model", how="left")
    if judged is not None:
        judge_means = judged.groupby("model", sort=False)["judge_score"].mean().rename("mean_judge_score")
        table = table.merge(judge_means.astype(float).reset_index(), on="model", how="left")
    return scores, table


def quality_note(method: str, measured: dict | None, scores: pd.DataFrame) -> str:
    """The sentence the recommendation ends with: which scorer the quality score is, its measured pairwise accuracy
    on the calibration set, and how many answers were cut."""
    if measured is None:
        accuracy = "not calibrated (no calibration/accuracy.json): treat it as unmeasured"
    else:
        best = measured["rows"]
        overall = {r["split"]: r for r in best if r["scorer"] == method and r["kind"] == "all"}
        accuracy = (f"it ranks {overall['all']['right']} of {overall['all']['n']} labelled calibration pairs right "
                    f"({overall['all']['accuracy']:.0%}; dev {overall['dev']['accuracy']:.0%}, held-out test "
                    f"{overall['test']['accuracy']:.0%})")
    return f"Quality score: {method} ({accuracy}); {scoring.cut_note(scores)}."


def select(run: BenchmarkRun, weights: Mapping[str, float] | None = None, watts: float = energy.DEFAULT_WATTS,
           power_source: str = "configured", price_per_kwh: float = energy.DEFAULT_PRICE_PER_KWH,
           baseline: BenchmarkRun | None = None, models: ModelsConfig | None = None,
           currency: str = energy.DEFAULT_CURRENCY, gates: SelectionGates | None = None,
           judged: pd.DataFrame | None = None, judge_note: str = "no judge") -> Selection:
    """Score, gate, compare and rank a run's models, estimate cost at `watts`, and compare with `baseline` if given.

    `gates` default to models.json `gates`; `judged` is `judging.judge_run`'s verdicts (None: no judge)."""
    prompt_set = run_prompt_set(run)
    models = models or load_models()
    gates = gates or models.gates
    method, measured = calibration.best_scorer()
    scores, quality_table = quality_tables(run, prompt_set, judged, method)
    table = compare.comparison_table(run.summary, quality_table, models)
    resolved = compare.resolve_weights(weights)
    ranked = compare.gated_ranking(table, gates, resolved)
    note = quality_note(method, measured, scores)
    selection = Selection(
        run=run, prompt_set=prompt_set, scores=scores,
        quality=quality_table if quality_table is not None else pd.DataFrame(),
        ranked=ranked, weights=resolved,
        energy=energy.energy_estimate(run.summary, watts, power_source, price_per_kwh, currency),
        recommendation=compare.gated_recommendation(ranked, gates, resolved, note),
        baseline=baseline, gates=gates, judged=judged, judge_note=judge_note, quality_method=method,
        calibration=measured,
    )
    if judged is not None:
        selection.judge_parse = judge_parse_rate(judged)
        selection.judge_agreement = judge_facet_agreement(judged, scores)
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
    "prompt_heatmap": lambda s: (plots.prompt_heatmap(s.scores, "quality_score", f"quality score 1-5 ({s.quality_method})")
                                 if "quality_score" in s.scores else None),
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
        "gates": selection.gates.model_dump(), "quality_method": selection.quality_method,
        "calibration": selection.calibration, "judge": {"note": selection.judge_note,
                                                         "parse_rate": json_records(selection.judge_parse),
                                                         "facet_agreement": selection.judge_agreement},
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
         currency: str = energy.DEFAULT_CURRENCY, judge: str | None = None) -> int:
    """CLI entry (`foundry-lab report RUN_DIR`): regenerate every report of the run folder, grading the answers
    with `judge` (default: models.json's judge for this world; `none`: no judge)."""
    try:
        run = load_run(run_dir)
        baseline = load_run(baseline_dir) if baseline_dir else None
        judged, judge_note = judging.judge_run(run, run_prompt_set(run), judge)
        selection = select(run, parse_weights(weights), watts, baseline=baseline, price_per_kwh=price_per_kwh,
                           currency=currency, judged=judged, judge_note=judge_note)
    except (RunFolderError, ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    written = write_reports(selection)
    print(console_table(run))
    print("\n" + selection.recommendation)
    print("\n" + "\n".join(f"wrote {path}" for path in written.values()))
    return 0
