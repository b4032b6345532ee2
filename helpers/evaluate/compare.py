"""Choosing a model: join benchmark, quality, footprint and license per model, weigh them, rank, and explain.

Six dimensions (`DIMENSIONS`), each read from one column of the comparison table and turned into a 0-1 score
where 1 is the best model of this comparison and 0 the worst (min-max over the models compared; a dimension on
which every model is equal scores 1 for all, so it cannot decide):

| dimension  | column              | better | source                                                   |
|------------|---------------------|--------|----------------------------------------------------------|
| latency    | e2e_ms_p95          | lower  | benchmark summary (slow tail of end-to-end latency)      |
| throughput | decode_tps_median   | higher | benchmark summary                                        |
| memory     | peak_rss_mb         | lower  | benchmark summary                                        |
| quality    | mean_quality_score  | higher | `evaluate.uncertainty.model_quality` (calibrated, 1-5)   |
| disk       | disk_mb             | lower  | benchmark summary, else models.json `size_mb`            |
| license    | license_score       | higher | models.json `license`, scored by `LICENSE_SCORES`        |

A missing value scores 0 on its dimension (unknown counts as worst) and is listed in the table's `missing` column.

Gates before weights (`apply_gates`, `gated_ranking`): like goodput's SLOs, a model must first meet the
constraints of the task (a quality floor on the task's prompt set, a memory budget, an allowed license; defaults in
models.json `gates`); only the models that pass are weighed and ranked, and the report says which gate excluded
which model. When none passes, nothing is recommended.

Weights: `DEFAULT_WEIGHTS` (quality first, for a summarizer whose answers people read), overridable per call with
any subset of the six names; they are rescaled to sum to 1.

Two saved runs (CPU vs GPU, before vs after a change) are compared by `compare_runs`: ratios of medians, and a
difference counts as a change only when the 95% bootstrap CIs of the medians do not overlap, it exceeds the
between-run noise floor, and the machine was about as busy in both runs; otherwise `within noise` or
`cannot tell` (`helpers.measure.run_noise` has the rule and measures the floor from repeats). With temperature 0
and a fixed seed the same model answers the same prompt with the same text, so `answer_diffs` shows every
answer that changed between the runs as a unified diff.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..bench import metrics
from ..bench.summary import measured_trials
from ..core.config import ModelsConfig, SelectionGates, size_class
from ..measure import run_noise
from ..serve.registry import find_bundled
from . import uncertainty

Direction = metrics.Better  # benchmark columns take theirs from helpers.bench.metrics


@dataclass(frozen=True)
class Dimension:
    """One selection dimension: the comparison-table column it reads and which way is better."""

    column: str
    better: Direction
    label: str


DIMENSIONS: dict[str, Dimension] = {
    "latency": Dimension("e2e_ms_p95", metrics.better("e2e_ms_p95"), "p95 end-to-end latency (ms)"),
    "throughput": Dimension("decode_tps_median", metrics.better("decode_tps_median"), "median decode rate (tokens/s)"),
    "memory": Dimension("peak_rss_mb", metrics.better("peak_rss_mb"), "peak memory, model measured alone (MB)"),
    "quality": Dimension("mean_quality_score", "higher", "quality score (1-5, calibrated scorer)"),
    "disk": Dimension("disk_mb", metrics.better("disk_mb"), "model files on disk (MB)"),
    "license": Dimension("license_score", "higher", "license permissiveness (0-1)"),
}
DEFAULT_WEIGHTS: dict[str, float] = {
    "quality": 0.30, "latency": 0.20, "throughput": 0.15, "memory": 0.15, "disk": 0.10, "license": 0.10,
}
# Permissive licenses allow any commercial use; custom terms (Gemma, Llama) add conditions to review.
LICENSE_SCORES: dict[str, float] = {"apache-2.0": 1.0, "mit": 1.0, "bsd-3-clause": 1.0, "gemma": 0.5, "llama": 0.5}
UNKNOWN_LICENSE_SCORE = 0.0
COMPARISON_COLUMNS = ["model", "status", "params_b", "size_class", "license", "license_score", "e2e_ms_p50",
                      "e2e_ms_p95", "ttft_ms_p50", "ttft_any_ms_p50", "decode_tps_median", "output_tps_median",
                      "reasoning_tokens_mean", "peak_rss_mb", "disk_mb", "mean_quality_score", "quality_ci_low",
                      "quality_ci_high", "quality_sd", "n_prompts", "n_cut", "n_looped", "n_overran", "quality_method",
                      "mean_facet_score", "facet_coverage"]
QUALITY_TABLE_COLUMNS = ["mean_quality_score", "quality_ci_low", "quality_ci_high", "quality_sd", "n_prompts", "n_cut",
                         "n_looped", "n_overran", "quality_method", "mean_facet_score", "facet_coverage"]


# --- the comparison table -----------------------------------------------------------------------------------------

def license_score(license_name: str | None) -> float:
    """How freely a license lets a product ship the model: 1 permissive, 0.5 custom terms, 0 unknown."""
    if not isinstance(license_name, str):
        return UNKNOWN_LICENSE_SCORE
    return LICENSE_SCORES.get(license_name.lower(), UNKNOWN_LICENSE_SCORE)


def comparison_table(summary: pd.DataFrame, quality: pd.DataFrame | None, models: ModelsConfig) -> pd.DataFrame:
    """One row per model of the benchmark summary: speed (TTFT = first answer token, ttft_any = first token of any
    kind, reasoning tokens: a reasoning model's answer waits for its thinking), memory, quality, footprint, license.

    `quality` is the report's per-model quality table (`evaluate.uncertainty.model_quality` joined with
    `facets.quality_summary`; or None: quality columns missing). A model missing from
    models.json keeps an unknown license and size (scored worst) rather than failing the comparison.
    """
    table = summary.copy()
    entries = {name: models.models.get(name) for name in table["model"]}
    table["params_b"] = [entry.params_b if entry else np.nan for entry in entries.values()]
    table["size_class"] = table["params_b"].map(size_class)
    built = find_bundled()  # converted models (byom) carry their license in kit_model.json, not in models.json
    table["license"] = [entry.license if entry else (built[name].catalog.license if name in built else None)
                        for name, entry in entries.items()]
    table["license_score"] = table["license"].map(license_score)
    catalog_size = pd.Series([entry.size_mb if entry else np.nan for entry in entries.values()], index=table.index)
    table["disk_mb"] = pd.to_numeric(table["disk_mb"], errors="coerce").fillna(catalog_size)
    if quality is not None and not quality.empty:
        present = [c for c in QUALITY_TABLE_COLUMNS if c in quality.columns]
        table = table.merge(quality[["model", *present]], on="model", how="left")
    return table.reindex(columns=COMPARISON_COLUMNS).reset_index(drop=True)  # a summary without a column: NaN


def normalized_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and dimension, 0 (worst of the models) to 1 (best); equal values score 1, missing 0."""
    scores = pd.DataFrame(index=table.index)
    for name, dimension in DIMENSIONS.items():
        values = pd.to_numeric(table[dimension.column], errors="coerce").astype(float)
        low, high = values.min(), values.max()
        if high > low:
            scaled = (values - low) / (high - low)
            scaled = 1 - scaled if dimension.better == "lower" else scaled
        else:
            scaled = pd.Series(1.0, index=values.index)
        scores[name] = scaled.where(values.notna(), 0.0)
    return scores


def resolve_weights(weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """DEFAULT_WEIGHTS updated with `weights`, rescaled to sum to 1; raises ValueError naming a bad entry."""
    merged = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = sorted(set(merged) - set(DIMENSIONS))
    if unknown:
        raise ValueError(f"unknown weight(s) {unknown}; the dimensions are {list(DIMENSIONS)}")
    negative = {name: value for name, value in merged.items() if value < 0}
    if negative:
        raise ValueError(f"weights must be 0 or more; got {negative}")
    total = sum(merged.values())
    if total <= 0:
        raise ValueError("at least one weight must be above 0")
    return {name: merged[name] / total for name in DIMENSIONS}


def rank_models(table: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The comparison table with `score_<dimension>` (0-1), `weighted_score` (0-1), `rank` (1 = best), `pareto`
    (on the quality vs p95 latency front) and `missing` (dimensions without data), best model first."""
    resolved = resolve_weights(weights)
    scores = normalized_scores(table)
    ranked = table.copy()
    for name in DIMENSIONS:
        ranked[f"score_{name}"] = scores[name]
    ranked["weighted_score"] = sum(scores[name] * weight for name, weight in resolved.items())
    ranked["rank"] = ranked["weighted_score"].rank(ascending=False, method="min").astype(int)
    ranked["pareto"] = pareto_front(table)
    ranked["missing"] = [", ".join(name for name, d in DIMENSIONS.items() if pd.isna(row[d.column]))
                         for _, row in table.iterrows()]
    return ranked.sort_values(["rank", "model"], kind="stable").reset_index(drop=True)


def pareto_front(table: pd.DataFrame, quality: str = "mean_quality_score", latency: str = "e2e_ms_p95") -> pd.Series:
    """True for models no other model beats on both quality (higher) and latency (lower), i.e. not dominated.

    A model without either value is never on the front.
    """
    q = pd.to_numeric(table[quality], errors="coerce").to_numpy(float)
    t = pd.to_numeric(table[latency], errors="coerce").to_numpy(float)
    known = ~np.isnan(q) & ~np.isnan(t)
    front = []
    for i in range(len(table)):
        dominated = known & (q >= q[i]) & (t <= t[i]) & ((q > q[i]) | (t < t[i]))
        front.append(bool(known[i] and not dominated.any()))
    return pd.Series(front, index=table.index, name="pareto")


# --- the recommendation -------------------------------------------------------------------------------------------

def _value(row: pd.Series, name: str) -> str:
    dimension = DIMENSIONS[name]
    value = row[dimension.column]
    if pd.isna(value):
        return "unknown"
    if name == "license":
        return str(row["license"])
    return f"{value:,.2f}" if name == "quality" else f"{value:,.0f}"


def recommendation(ranked: pd.DataFrame, weights: Mapping[str, float] | None = None,
                   quality_note: str | None = None) -> str:
    """A paragraph built from the ranking: which model, why (its strongest weighted dimensions), what it costs
    (where others beat it), framed as the smaller (SLM) versus the larger model of the comparison; whether the
    quality data can separate it from the others (`uncertainty.separation_text`), and `quality_note` (which scorer
    the quality score is and its measured accuracy)."""
    if ranked.empty:
        return "No model to recommend: the comparison is empty."
    resolved = resolve_weights(weights)
    best = ranked.iloc[0]
    contributions = {name: best[f"score_{name}"] * resolved[name] for name in DIMENSIONS}
    decisive = [name for name in DIMENSIONS if ranked[f"score_{name}"].nunique() > 1 and resolved[name] > 0]
    strengths = [name for name in sorted(decisive, key=contributions.get, reverse=True)
                 if best[f"score_{name}"] >= 0.999][:3]
    weights_text = ", ".join(f"{name} {resolved[name]:.0%}" for name in DIMENSIONS if resolved[name] > 0)
    parts = [f"**Recommendation: {best['model']}** ({best['size_class']}, {_params(best)}, license "
             f"{best['license'] or 'unknown'}), weighted score {best['weighted_score']:.2f} of 1 "
             f"with weights {weights_text}."]
    if strengths:
        parts.append("It is the best of the models compared on " + ", ".join(
            f"{name} ({DIMENSIONS[name].label}: {_value(best, name)})" for name in strengths) + ".")
    costs = [f"{name} ({_value(best, name)} vs {_value(ranked.loc[ranked[f'score_{name}'].idxmax()], name)} for "
             f"{ranked.loc[ranked[f'score_{name}'].idxmax(), 'model']})"
             for name in DIMENSIONS if best[f"score_{name}"] < 0.999 and resolved[name] > 0]
    parts.append("What it costs: it trails on " + "; ".join(costs) + "." if costs else
                 "It costs nothing on any weighted dimension: it is best or tied on all of them.")
    tied = [name for name in DIMENSIONS if name not in decisive and resolved[name] > 0]
    if tied and len(ranked) > 1:
        parts.append(f"Every model ties on {', '.join(tied)}: those weights could not decide.")
    if len(ranked) > 1:
        runner_up = ranked.iloc[1]
        parts.append(f"Runner-up: {runner_up['model']} ({runner_up['weighted_score']:.2f}).")
        parts.append(_size_framing(ranked, best))
    if best["missing"]:
        parts.append(f"No data for {best['missing']}: scored as worst there; measure it before deciding.")
    separation = uncertainty.separation_text(ranked)
    if separation:
        parts.append(separation)
    parts.append(quality_note or "Quality is measured on few prompts: confirm with manual annotation before shipping.")
    return " ".join(parts)


def _params(row: pd.Series) -> str:
    return "size unknown" if pd.isna(row["params_b"]) else f"{row['params_b'] * 1000:,.0f}M parameters"


def _size_framing(ranked: pd.DataFrame, best: pd.Series) -> str:
    """The recommended model against the largest (or, when it is the largest, the smallest) other model."""
    others = ranked[ranked["model"] != best["model"]].dropna(subset=["params_b"])
    if others.empty or pd.isna(best["params_b"]):
        return ""
    larger = others.loc[others["params_b"].idxmax()]
    other = larger if larger["params_b"] > best["params_b"] else others.loc[others["params_b"].idxmin()]
    role = ("larger" if other["params_b"] > best["params_b"] else
            "smaller" if other["params_b"] < best["params_b"] else "same-size")
    deltas = []
    for name in ("latency", "memory", "disk", "quality"):
        column = DIMENSIONS[name].column
        if pd.notna(best[column]) and pd.notna(other[column]):
            deltas.append(f"{name} {_value(best, name)} vs {_value(other, name)}")
    return (f"{best['size_class']} vs {role} {other['size_class']}: against {other['model']} ({_params(other)}), "
            f"the recommended model has " + ", ".join(deltas) + ".")


# --- two runs: regressions and answer diffs -----------------------------------------------------------------------

# metric -> (summary column of the median, prefix of its CI columns, which way is better)
RUN_METRICS: dict[str, tuple[str, str, Direction]] = {
    "e2e_ms": ("e2e_ms_p50", "e2e_ms", metrics.better("e2e_ms_p50")),
    "ttft_ms": ("ttft_ms_p50", "ttft_ms", metrics.better("ttft_ms_p50")),
    "decode_tps": ("decode_tps_median", "decode_tps", metrics.better("decode_tps_median")),
}
RUN_COMPARISON_COLUMNS = ["model", "metric", "baseline", "baseline_ci_low", "baseline_ci_high", "candidate",
                          "candidate_ci_low", "candidate_ci_high", "ratio", "noise_floor", "beyond_noise", "verdict",
                          "load_note", "baseline_threads", "candidate_threads"]


def compare_runs(baseline: pd.DataFrame, candidate: pd.DataFrame,
                 noise_floor: float | Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per model in both summaries (`BenchmarkRun.summary`) and metric of RUN_METRICS: medians, 95% CIs,
    ratio = candidate / baseline, the relative `noise_floor` used (a number, per metric from
    `run_noise.noise_floor(repeats, ...)`, or None: run_noise.DEFAULT_NOISE_FLOOR), `beyond_noise` (NA without both
    CIs), `verdict` (`better`, `worse`, `within noise`, `cannot tell` when the machine's load differed between the
    runs, `no CI` with fewer than 2 samples), `load_note` (the load difference, when there is one) and each side's
    decode `threads` (NA for a run from before the kit recorded them), so a change of thread setting is seen beside
    the change it made."""
    common = [model for model in baseline["model"] if model in set(candidate["model"])]
    before, after = baseline.set_index("model"), candidate.set_index("model")
    rows = []
    for model in common:
        load_note = run_noise.load_difference(before.loc[model], after.loc[model])
        for metric, (median, prefix, better) in RUN_METRICS.items():
            b_ci = (before.at[model, f"{prefix}_median_ci95_low"], before.at[model, f"{prefix}_median_ci95_high"])
            c_ci = (after.at[model, f"{prefix}_median_ci95_low"], after.at[model, f"{prefix}_median_ci95_high"])
            b_value, c_value = before.at[model, median], after.at[model, median]
            floor = (noise_floor.get(metric, run_noise.DEFAULT_NOISE_FLOOR) if isinstance(noise_floor, Mapping)
                     else run_noise.DEFAULT_NOISE_FLOOR if noise_floor is None else noise_floor)
            verdict, beyond = run_noise.verdict(b_value, c_value, b_ci, c_ci, better == "lower", floor, load_note)
            rows.append({"model": model, "metric": metric, "baseline": b_value, "baseline_ci_low": b_ci[0],
                         "baseline_ci_high": b_ci[1], "candidate": c_value, "candidate_ci_low": c_ci[0],
                         "candidate_ci_high": c_ci[1], "ratio": c_value / b_value if b_value else np.nan,
                         "noise_floor": floor, "beyond_noise": pd.NA if beyond is None else beyond,
                         "verdict": verdict, "load_note": load_note,
                         "baseline_threads": before.at[model, "threads"] if "threads" in before else pd.NA,
                         "candidate_threads": after.at[model, "threads"] if "threads" in after else pd.NA})
    frame = pd.DataFrame(rows, columns=RUN_COMPARISON_COLUMNS)
    return frame.astype({"beyond_noise": "boolean", "baseline_threads": "Int64", "candidate_threads": "Int64"})


def answer_diffs(baseline: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """The measured successful answers of two runs' trials, matched on model x prompt x round.

    Columns: model, prompt_id, round, same (identical text), diff (unified diff, empty when the same). With the
    deterministic mode (temperature 0, same seed) a difference means the model, runtime or settings changed.
    """
    key = ["model", "prompt_id", "round"]

    def answers(trials: pd.DataFrame) -> pd.DataFrame:
        measured = measured_trials(trials, ok_only=True)
        return measured[key + ["text"]].drop_duplicates(key, keep="last")

    paired = answers(baseline).merge(answers(candidate), on=key, suffixes=("_baseline", "_candidate"))
    paired["same"] = paired["text_baseline"].fillna("") == paired["text_candidate"].fillna("")
    paired["diff"] = [
        "" if same else "\n".join(difflib.unified_diff(
            str(old).splitlines(), str(new).splitlines(), "baseline", "candidate", lineterm=""))
        for old, new, same in zip(paired["text_baseline"], paired["text_candidate"], paired["same"])
    ]
    return paired[key + ["same", "diff"]]


# --- gates before weights -----------------------------------------------------------------------------------------

def gate_failures(row: pd.Series, gates: SelectionGates) -> list[str]:
    """Why a comparison-table row fails `gates` (empty when it passes); an unknown value fails its gate."""
    failures = []
    if gates.quality_floor is not None:
        quality = row.get("mean_quality_score")
        if pd.isna(quality):
            failures.append("quality unknown (no scored answers)")
        elif quality < gates.quality_floor:
            failures.append(f"quality {quality:.2f} < floor {gates.quality_floor:g} (quality score 1-5)")
    if gates.memory_budget_mb is not None:
        memory = row.get("peak_rss_mb")
        if pd.isna(memory):
            failures.append("memory unknown (peak RSS not measured)")
        elif memory > gates.memory_budget_mb:
            failures.append(f"memory {memory:,.0f} MB > budget {gates.memory_budget_mb:,.0f} MB")
    if gates.licenses is not None:
        license_name = row.get("license")
        allowed = {name.lower() for name in gates.licenses}
        if not isinstance(license_name, str) or license_name.lower() not in allowed:
            failures.append(f"license {license_name or 'unknown'} not in {', '.join(gates.licenses)}")
    return failures


def apply_gates(table: pd.DataFrame, gates: SelectionGates) -> pd.DataFrame:
    """The comparison table with `passed` (bool) and `excluded_by` (the failed gates, '; '-joined, '' if none)."""
    gated = table.copy()
    failures = [gate_failures(row, gates) for _, row in table.iterrows()]
    gated["passed"] = [not failed for failed in failures]
    gated["excluded_by"] = ["; ".join(failed) for failed in failures]
    return gated


def gates_text(gates: SelectionGates) -> str:
    parts = [f"quality >= {gates.quality_floor:g} of 5" if gates.quality_floor is not None else "no quality floor",
             f"peak memory <= {gates.memory_budget_mb:,.0f} MB" if gates.memory_budget_mb is not None else
             "no memory budget",
             f"license in {', '.join(gates.licenses)}" if gates.licenses is not None else "any license"]
    return ", ".join(parts)


def gated_ranking(table: pd.DataFrame, gates: SelectionGates,
                  weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Gate, then rank only the models that pass (scores normalised among them); the excluded follow with no rank
    or scores and their `excluded_by`. `pareto` is computed over every model, so the chart shows the whole ladder."""
    gated = apply_gates(table, gates)
    passing = gated[gated["passed"]]
    ranked = rank_models(passing.reset_index(drop=True), weights) if not passing.empty else pd.DataFrame()
    excluded = gated[~gated["passed"]].copy()
    if not ranked.empty:
        ranked["rank"] = ranked["rank"].astype("Int64")
    excluded["rank"] = pd.array([pd.NA] * len(excluded), dtype="Int64")
    excluded["missing"] = ""
    combined = pd.concat([frame for frame in (ranked, excluded) if not frame.empty], ignore_index=True)
    for column in ("weighted_score", *(f"score_{name}" for name in DIMENSIONS)):  # none passed: no scores at all
        if column not in combined:
            combined[column] = np.nan
    combined["pareto"] = pareto_front(combined).to_numpy()
    return combined


def gated_recommendation(ranked: pd.DataFrame, gates: SelectionGates,
                         weights: Mapping[str, float] | None = None, quality_note: str | None = None) -> str:
    """`recommendation` over the models that passed the gates, then which gate excluded which model; when none
    passed, no recommendation and why."""
    passing = ranked[ranked["passed"]].reset_index(drop=True)
    excluded = ranked[~ranked["passed"]]
    exclusions = "; ".join(f"{row.model} ({row.excluded_by})" for row in excluded.itertuples())
    gate_line = f"Gates ({gates_text(gates)})"
    if passing.empty:
        return (f"**No recommendation: no model passes the gates.** {gate_line} excluded every model: {exclusions}. "
                "Lower a gate only if the task allows it (e.g. a smaller quality floor for drafts), or add a "
                "stronger model to the comparison.")
    text = recommendation(passing, weights, quality_note)
    return text + (f" {gate_line} excluded: {exclusions}." if exclusions else f" Every model passed the gates ({gates_text(gates)}).")
