"""The selection report of a run folder: quality, comparison and ranking, cost estimate, charts, recommendation.

`select(run)` scores the run's answers with two automatic metrics (facet coverage HEURISTIC and ROUGE-L against
the prompts' references), adds the judge's verdicts when given (`judging.judge_run`: parse rate, agreement with
the facet heuristic), joins them with the benchmark, models.json footprint and license
(`compare.comparison_table`), applies the gates (quality floor, memory budget, license; models.json `gates`)
and ranks the models that pass with the weights, estimates cost and energy, and, given a baseline run, compares
the two. `write_reports(selection)` writes next to results.jsonl:

- through their one writer `bench.outputs.write_run_files`: `summary.csv` (the benchmark summary),
  `summary.json` (everything, as JSON), `benchmark_report.md` (the benchmark report with the selection sections
  appended, linking the charts),
- `quality_scores.csv` (facet score and ROUGE-L per answer), `comparison.csv`, `energy_estimate.csv` (and
  `run_comparison.csv`, `answer_diffs.csv` with a baseline),
- `chart_<name>.png` for every chart, and `report.html`: self-contained, every chart embedded as a base64 PNG
  data URI, no external asset.

Headless: `python -m helpers report RUN_DIR [--weights quality=0.5,latency=0.3] [--watts 45] [--baseline DIR]
[--judge MODEL|none]` (the judge's verdicts are kept in `judge_scores.csv`, see `judging`).
"""
from __future__ import annotations

import base64
import html
import io
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import compare, energy, judging, plots, quality, rouge
from .bench.markdown import CONSOLE_COLUMNS, console_table, markdown_table
from .bench.outputs import write_run_files
from .bench.results import RunFolderError
from .bench.summary import BenchmarkRun, json_records, load_run
from .config import ConfigError, ModelsConfig, PromptSet, SelectionGates, load_models, resolve_prompt_set
from .lists import comma_list

REPORT_HTML = "report.html"
QUALITY_CSV = "quality_scores.csv"
COMPARISON_CSV = "comparison.csv"
ENERGY_CSV = "energy_estimate.csv"
RUN_COMPARISON_CSV = "run_comparison.csv"
ANSWER_DIFFS_CSV = "answer_diffs.csv"
RANKING_COLUMNS = ["rank", "model", "size_class", "passed", "excluded_by", "weighted_score", "pareto",
                   *(f"score_{d}" for d in compare.DIMENSIONS), "missing"]
VALUE_COLUMNS = ["model", "params_b", "license", *(d.column for d in compare.DIMENSIONS.values() if d.column != "license_score")]


@dataclass
class Selection:
    """A run with everything needed to choose between its models."""

    run: BenchmarkRun
    prompt_set: PromptSet
    scores: pd.DataFrame  # quality.score_answers (+ rouge_l): one row per measured answer
    quality: pd.DataFrame  # quality.quality_summary + rouge.rouge_summary (+ mean judge score): one row per model
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
    judge_parse: pd.DataFrame | None = None  # quality.judge_parse_rate
    judge_agreement: dict | None = None  # quality.judge_facet_agreement


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


def _quality_tables(run: BenchmarkRun, prompt_set: PromptSet,
                    judged: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(per-answer scores with rouge_l, per-model quality table with mean_rouge_l and mean_judge_score) or
    (empty, None) without answers."""
    scores = quality.score_answers(run.trials, prompt_set) if not run.trials.empty else pd.DataFrame()
    if scores.empty:
        return scores, None
    rouge_scores = rouge.rouge_scores(run.trials, prompt_set)
    key = [c for c in ("model", "prompt_id", "round") if c in scores.columns]
    scores = scores.merge(rouge_scores[key + ["rouge_l"]], on=key, how="left") if not rouge_scores.empty else scores
    table = quality.quality_summary(scores).merge(rouge.rouge_summary(rouge_scores), on="model", how="left")
    if judged is not None:
        judge_means = judged.groupby("model", sort=False)["judge_score"].mean().rename("mean_judge_score")
        table = table.merge(judge_means.astype(float).reset_index(), on="model", how="left")
    return scores, table


def select(run: BenchmarkRun, weights: Mapping[str, float] | None = None, watts: float = energy.DEFAULT_WATTS,
           power_source: str = "configured", price_per_kwh: float = energy.DEFAULT_PRICE_PER_KWH,
           baseline: BenchmarkRun | None = None, models: ModelsConfig | None = None,
           gates: SelectionGates | None = None, judged: pd.DataFrame | None = None,
           judge_note: str = "no judge") -> Selection:
    """Score, gate, compare and rank a run's models, estimate cost at `watts`, and compare with `baseline` if given.

    `gates` default to models.json `gates`; `judged` is `judging.judge_run`'s verdicts (None: no judge)."""
    prompt_set = run_prompt_set(run)
    models = models or load_models()
    gates = gates or models.gates
    scores, quality_table = _quality_tables(run, prompt_set, judged)
    table = compare.comparison_table(run.summary, quality_table, models)
    resolved = compare.resolve_weights(weights)
    ranked = compare.gated_ranking(table, gates, resolved)
    selection = Selection(
        run=run, prompt_set=prompt_set, scores=scores,
        quality=quality_table if quality_table is not None else pd.DataFrame(),
        ranked=ranked, weights=resolved,
        energy=energy.energy_estimate(run.summary, watts, power_source, price_per_kwh),
        recommendation=compare.gated_recommendation(ranked, gates, resolved),
        baseline=baseline, gates=gates, judged=judged, judge_note=judge_note,
    )
    if judged is not None:
        selection.judge_parse = quality.judge_parse_rate(judged)
        selection.judge_agreement = quality.judge_facet_agreement(judged, scores)
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


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def data_uri(figure: Figure) -> str:
    """The figure as a `data:image/png;base64,...` URI, for a self-contained HTML page."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(figure)).decode("ascii")


def chart_file(name: str) -> str:
    return f"chart_{name}.png"


# --- Markdown -------------------------------------------------------------------------------------------------------

def _weights_text(weights: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {value:.0%}" for name, value in weights.items())


def selection_markdown(selection: Selection) -> str:
    """The selection sections appended to the benchmark report; charts are linked as PNG files beside it."""
    parts = [
        "## Recommendation\n\n" + selection.recommendation + "\n",
        "## Quality (automatic metrics)\n\nTwo automatic metrics, both blind to meaning: facet coverage, a substring "
        "heuristic (an answer scores 1 + 4 × the share of the prompt's key points it names, 1-5), and ROUGE-L F1 "
        "against the prompt's reference answer (0-1, rouge-score). `mean_judge_score`: the judge's mean grade (1-5). "
        "Confirm with manual annotation (notebook 05).\n\n"
        + (markdown_table(selection.quality) if not selection.quality.empty else "_no scored answers_\n"),
        judge_markdown(selection),
        f"## Gates\n\nBefore weights, each model must pass: {compare.gates_text(selection.gates)} (models.json "
        "`gates`). Excluded models are not ranked.\n\n"
        + markdown_table(selection.ranked[["model", "passed", "excluded_by"]]),
        f"## Comparison and ranking\n\nWeights: {_weights_text(selection.weights)}. Each dimension is scored 0 "
        "(worst of these models) to 1 (best); `weighted_score` is the weighted mean; `pareto`: no other model is "
        "both better in quality and faster at p95.\n\n" + markdown_table(selection.ranked[RANKING_COLUMNS])
        + "\nThe values behind the scores:\n\n" + markdown_table(selection.ranked[VALUE_COLUMNS]),
        "## Cost and energy (ESTIMATE)\n\nEnergy and electricity cost per 1k output tokens = watts × seconds per 1k "
        "tokens (median output_tps), one request at a time. An estimate, not a measurement of this machine's "
        "power.\n\n" + markdown_table(selection.energy),
    ]
    if selection.run_comparison is not None:
        changed = selection.answer_diffs[~selection.answer_diffs["same"]] if selection.answer_diffs is not None else pd.DataFrame()
        parts.append(
            f"## Compared with the baseline run\n\nBaseline: `{selection.baseline.out_dir}`. `ratio` = this run / "
            "baseline; a difference is beyond noise only when the 95% CIs of the medians do not overlap.\n\n"
            + markdown_table(selection.run_comparison)
            + f"\nDeterministic answers: {len(changed)} of {len(selection.answer_diffs)} matched answers changed"
            + (" (see `answer_diffs.csv`).\n" if len(changed) else ".\n"))
    parts.append("## Charts\n\n" + "\n".join(f"![{name}]({chart_file(name)})" for name in selection.figures) + "\n")
    return "\n".join(parts)


def judge_markdown(selection: Selection) -> str:
    """The judge section: which judge, its parse rate per model and its agreement with the facet heuristic."""
    if selection.judged is None:
        return f"## Judge\n\n_{selection.judge_note}._\n"
    agreement = selection.judge_agreement or {}
    overall = selection.judge_parse.set_index("model").loc["all"]
    rate = "n/a" if pd.isna(overall["parse_rate"]) else f"{overall['parse_rate']:.0%}"
    return (f"## Judge\n\n{selection.judge_note}: parsed {int(overall['n_parsed'])} of "
            f"{int(overall['n'] - overall['n_errors'])} verdicts ({rate}; goal >= 90%). An unparseable verdict is "
            "missing, never a default score.\n\n" + markdown_table(selection.judge_parse)
            + "\nAgreement with the facet heuristic (per model x prompt, facet score rounded): "
            + ", ".join(f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}"
                        for key, value in agreement.items()) + ".\n")


# --- HTML -----------------------------------------------------------------------------------------------------------

_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px}"
        "th{background:#f3f3f3}td{text-align:right}img{max-width:100%}.estimate{color:#a00;font-weight:bold}"
        ".note{color:#555}")


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, na_rep="–", float_format=lambda v: f"{v:,.4g}", border=0)


def _inline_markdown(text: str) -> str:
    """Escaped text with **bold** rendered."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def to_html(selection: Selection) -> str:
    """A self-contained HTML report: tables, the recommendation, and every chart as a base64 PNG data URI."""
    run = selection.run
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    sections = [
        f"<h1>Model selection report</h1><p class='note'>Generated {generated} from "
        f"<code>{html.escape(str(run.out_dir))}</code>; prompt set "
        f"<code>{html.escape(run.header['prompt_set']['name'])}</code>, {run.config['rounds']} round(s), "
        f"max_tokens {run.config['max_tokens']}, temperature {run.config['temperature']}, seed {run.config['seed']}, "
        f"target {html.escape(run.header['target']['description'])}.</p>",
        f"<h2>Recommendation</h2><p>{_inline_markdown(selection.recommendation)}</p>",
        "<h2>Benchmark summary</h2>" + _html_table(run.summary[CONSOLE_COLUMNS]),
        "<h2>Quality (automatic metrics)</h2><p class='note'>Facet coverage (substring heuristic, 1-5) and ROUGE-L "
        "F1 against the reference (0-1): both blind to meaning.</p>"
        + (_html_table(selection.quality) if not selection.quality.empty else "<p>No scored answers.</p>"),
        f"<h2>Judge</h2><p>{html.escape(selection.judge_note)}</p>"
        + (_html_table(selection.judge_parse) if selection.judge_parse is not None else ""),
        f"<h2>Gates</h2><p>{html.escape(compare.gates_text(selection.gates))}</p>"
        + _html_table(selection.ranked[["model", "passed", "excluded_by"]]),
        f"<h2>Ranking</h2><p>Weights: {html.escape(_weights_text(selection.weights))}</p>"
        + _html_table(selection.ranked[RANKING_COLUMNS]) + _html_table(selection.ranked[VALUE_COLUMNS]),
        "<h2>Cost and energy <span class='estimate'>ESTIMATE</span></h2>"
        "<p class='note'>watts × seconds per 1k output tokens; electricity only.</p>" + _html_table(selection.energy),
    ]
    if selection.run_comparison is not None:
        sections.append(f"<h2>Compared with the baseline run</h2><p class='note'>Baseline "
                        f"<code>{html.escape(str(selection.baseline.out_dir))}</code>; beyond noise = the 95% CIs of "
                        "the medians do not overlap.</p>" + _html_table(selection.run_comparison))
    sections.append("<h2>Charts</h2>" + "".join(
        f"<figure><img alt='{name}' src='{data_uri(figure)}'><figcaption>{name}</figcaption></figure>"
        for name, figure in selection.figures.items()))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Model selection report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n")


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
        "gates": selection.gates.model_dump(), "judge": {"note": selection.judge_note,
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
         baseline_dir: str | Path | None = None, judge: str | None = None) -> int:
    """CLI entry (`python -m helpers report RUN_DIR`): regenerate every report of the run folder, grading the
    answers with `judge` (default: models.json's judge for this world; `none`: no judge)."""
    try:
        run = load_run(run_dir)
        baseline = load_run(baseline_dir) if baseline_dir else None
        judged, judge_note = judging.judge_run(run, run_prompt_set(run), judge)
        selection = select(run, parse_weights(weights), watts, baseline=baseline, judged=judged,
                           judge_note=judge_note)
    except (RunFolderError, ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    written = write_reports(selection)
    print(console_table(run))
    print("\n" + selection.recommendation)
    print("\n" + "\n".join(f"wrote {path}" for path in written.values()))
    return 0
