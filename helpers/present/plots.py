"""Benchmark charts: one function per chart, each taking the benchmark's DataFrames and returning a Figure.

Inputs are the tables of `helpers.bench.summary.BenchmarkRun`: `trials` (one row per request: `model`, `warmup`, `ok`,
`ttft_ms`, `e2e_ms`, `outlier_ttft`, `outlier_e2e`, ...) and `summary` (one row per model: `decode_tps_median`
and its `_ci95_low/_high`, `load_s`, `peak_rss_mb`, `rss_before_mb`, `disk_mb`, ...). Distributions use the
trials the statistics use: measured (not warm-up) and successful.

Figures are built with the object API (`matplotlib.figure.Figure`), never pyplot: no GUI backend is touched, so
this works headless (saving renders with Agg) and from threads. In a notebook, `%matplotlib inline` displays a
returned Figure; elsewhere `fig.savefig(path)`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..bench.summary import footprint, measured_trials

MB_LABEL = "MB (10^6 bytes)"
_OUTLIER_COLOR = "#d62728"
_POINT_COLOR = "#1f77b4"


def _figure(rows: float, title: str) -> tuple[Figure, Axes]:
    """A figure sized for `rows` horizontal rows (one per model, more for grouped bars), titled, light grid."""
    fig = Figure(figsize=(8, 1.4 + 0.55 * max(rows, 1)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig, ax


def _models(frame: pd.DataFrame) -> list[str]:
    """Model names in the frame's order (the run's order), top to bottom."""
    return list(dict.fromkeys(frame["model"]))


def _distribution(trials: pd.DataFrame, metric: str, outlier_column: str, title: str, xlabel: str,
                  earlier: tuple[str, str] | None = None) -> Figure:
    """Box plot (Tukey whiskers, 1.5 IQR) per model with every trial drawn on top; IQR outliers in red.

    `earlier` = (column, label): an earlier time of the same trials, drawn as hollow points where it comes first
    (a reasoning model's first token, before its first answer token).
    """
    data = measured_trials(trials, ok_only=True)
    models = _models(trials)
    fig, ax = _figure(len(models), title)
    rng = np.random.default_rng(0)  # fixed jitter: the same data draws the same picture
    labels = []
    for row, model in enumerate(models):
        mine = data[(data["model"] == model) & data[metric].notna()]
        values = mine[metric].astype(float).to_numpy()
        labels.append(f"{model}\n(n={len(values)})")
        if len(values) == 0:
            ax.text(0.01, row, "no successful trials", va="center", transform=ax.get_yaxis_transform())
            continue
        ax.boxplot(values, positions=[row], orientation="horizontal", widths=0.5, whis=1.5, showfliers=False,
                   medianprops={"color": "black"})
        flagged = mine[outlier_column].astype(bool).to_numpy() if outlier_column in mine else np.zeros(len(values), bool)
        jitter = row + rng.uniform(-0.15, 0.15, len(values))
        ax.scatter(values[~flagged], jitter[~flagged], s=18, color=_POINT_COLOR, alpha=0.7, zorder=3)
        ax.scatter(values[flagged], jitter[flagged], s=30, color=_OUTLIER_COLOR, marker="x", zorder=4)
        if earlier and earlier[0] in mine:
            first = mine[earlier[0]].astype(float).to_numpy()
            sooner = first < values
            ax.scatter(first[sooner], jitter[sooner], s=18, facecolors="none", edgecolors=_POINT_COLOR, zorder=3)
    ax.set_yticks(range(len(models)), labels)
    _model_rows(ax, len(models))
    ax.set_xlabel(xlabel)
    ax.set_xlim(left=0)
    ax.scatter([], [], s=18, color=_POINT_COLOR, label="one trial")
    ax.scatter([], [], s=30, color=_OUTLIER_COLOR, marker="x", label="IQR outlier (flagged, kept)")
    if earlier and earlier[0] in data and (data[earlier[0]] < data[metric]).any():
        ax.scatter([], [], s=18, facecolors="none", edgecolors=_POINT_COLOR, label=earlier[1])
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    return fig


def ttft_distribution(trials: pd.DataFrame) -> Figure:
    """Time to first token of every measured trial, per model; a reasoning model's first token of any kind (its
    reasoning starts) as a hollow point before its TTFT."""
    return _distribution(trials, "ttft_ms", "outlier_ttft", "Time to first token per model",
                         "TTFT (ms): request sent → first answer token",
                         earlier=("ttft_any_ms", "first token of any kind (reasoning)"))


def latency_distribution(trials: pd.DataFrame) -> Figure:
    """End-to-end latency of every measured trial, per model."""
    return _distribution(trials, "e2e_ms", "outlier_e2e", "End-to-end latency per model",
                         "e2e latency (ms): request sent → response complete")


def _hbars(ax: Axes, values: pd.Series, offset: float = 0.0, height: float = 0.6, label_at: pd.Series | None = None,
           fmt: str = "{:,.1f}", **style: object) -> None:
    """Horizontal bars at rows 0..n-1 (+offset), each value written at its bar's end (or at `label_at`).

    Missing values draw no bar and say n/a.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ends = numbers if label_at is None else np.fmax(numbers, pd.to_numeric(label_at, errors="coerce").to_numpy(float))
    rows = np.arange(len(numbers)) + offset
    ax.barh(rows, np.nan_to_num(numbers), height=height, **style)
    for row, number, end in zip(rows, numbers, np.nan_to_num(ends)):
        ax.annotate("n/a" if np.isnan(number) else fmt.format(number), (end, row), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize="small")


def _model_rows(ax: Axes, count: int) -> None:
    """Rows top to bottom, one per model; a run where no model was measured says so instead of an empty frame."""
    ax.set_ylim(max(count, 1) - 0.5, -0.5)
    if count == 0:
        ax.text(0.5, 0.5, "no model was measured in this run", ha="center", va="center", transform=ax.transAxes)


def _model_axis(ax: Axes, summary: pd.DataFrame, models: list[str]) -> None:
    """One y tick per model, labelled with its number of successful measured trials."""
    counts = summary.set_index("model")["n"]
    ax.set_yticks(range(len(models)), [f"{model}\n(n={counts[model]})" for model in models])
    _model_rows(ax, len(models))
    ax.margins(x=0.15)


def decode_rate(summary: pd.DataFrame) -> Figure:
    """Median decode rate per model with its 95% bootstrap confidence interval as error bars."""
    models = _models(summary)
    fig, ax = _figure(len(models), "Decode rate per model (median, 95% CI)")
    rows = summary.set_index("model").loc[models]
    median = pd.to_numeric(rows["decode_tps_median"], errors="coerce")
    low = pd.to_numeric(rows["decode_tps_median_ci95_low"], errors="coerce")
    high = pd.to_numeric(rows["decode_tps_median_ci95_high"], errors="coerce")
    _hbars(ax, median, label_at=high, color="#2ca02c")
    error = np.vstack([(median - low).fillna(0).to_numpy(), (high - median).fillna(0).to_numpy()])
    ax.errorbar(median.fillna(0).to_numpy(), np.arange(len(models)), xerr=error, fmt="none", ecolor="black",
                capsize=4)
    _model_axis(ax, summary, models)
    ax.set_xlabel("decode rate (tokens/s) = (output tokens − 1) / (e2e − first token); higher is better\n"
                  "error bars: 95% bootstrap CI of the median (rough below n=10, none below n=2)")
    return fig


def memory_and_disk(summary: pd.DataFrame) -> Figure:
    """Per model, one process's memory before the load and at its peak (`bench.summary.footprint`: the fresh
    process of the isolated probe, else the benchmark's), and the model's size on disk."""
    models = _models(summary)
    fig, ax = _figure(len(models) * 1.6, "Memory and disk footprint per model")
    rows = footprint(summary).set_index("model").loc[models]
    bars = (("before_load_mb", "process RSS before the load", "#c7c7c7"),
            ("peak_rss_mb", "the same process's peak RSS", "#9467bd"), ("disk_mb", "model files on disk", "#8c564b"))
    for index, (column, label, color) in enumerate(bars):
        _hbars(ax, rows[column], offset=(index - 1) * 0.27, height=0.26, color=color, label=label)
    _model_axis(ax, summary, models)
    ax.set_xlabel(MB_LABEL)
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    return fig


def load_time(summary: pd.DataFrame) -> Figure:
    """Cold load time per model (n/a where the target cannot tell, e.g. an external server)."""
    models = _models(summary)
    fig, ax = _figure(len(models), "Cold load time per model")
    _hbars(ax, summary.set_index("model").loc[models, "load_s"], fmt="{:.2f}", color="#ff7f0e")
    _model_axis(ax, summary, models)
    ax.set_xlabel("load time (s): model files → ready to answer")
    return fig


def quality_vs_latency(comparison: pd.DataFrame) -> Figure:
    """Quality score (1-5, the calibrated scorer) against p95 latency per model, with its 95% CI over prompts as an
    error bar when known, the Pareto front joined by a line.

    Takes `compare.rank_models(...)` (columns model, e2e_ms_p95, mean_quality_score, pareto; optional
    quality_ci_low / quality_ci_high).
    """
    data = comparison.dropna(subset=["e2e_ms_p95", "mean_quality_score"])
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Quality vs p95 latency (top left is better)")
    ax.grid(alpha=0.3)
    front = data[data["pareto"].astype(bool)].sort_values("e2e_ms_p95")
    ax.step(front["e2e_ms_p95"], front["mean_quality_score"], where="post", color=_OUTLIER_COLOR, alpha=0.6,
            marker="o", markersize=14, markerfacecolor="none",
            label="Pareto front (no model is both faster and better)")
    ax.scatter(data["e2e_ms_p95"], data["mean_quality_score"], s=60, color=_POINT_COLOR, zorder=3, label="model")
    if {"quality_ci_low", "quality_ci_high"} <= set(data.columns):
        known = data.dropna(subset=["quality_ci_low", "quality_ci_high"])
        ax.errorbar(known["e2e_ms_p95"], known["mean_quality_score"], fmt="none", ecolor=_POINT_COLOR, alpha=0.5,
                    yerr=[known["mean_quality_score"] - known["quality_ci_low"],
                          known["quality_ci_high"] - known["mean_quality_score"]], capsize=4)
    for row in data.itertuples():
        ax.annotate(row.model, (row.e2e_ms_p95, row.mean_quality_score), xytext=(6, 4), textcoords="offset points",
                    fontsize="small")
    ax.set_xlabel("p95 end-to-end latency (ms), lower is better")
    ax.set_ylabel("quality score 1-5 (95% CI over prompts), higher is better")
    ax.set_ylim(0.8, 5.2)
    ax.set_xlim(left=0, right=max(float(data["e2e_ms_p95"].max()) * 1.3, 1.0) if not data.empty else 1.0)
    fig.legend(loc="outside lower center", ncols=2, fontsize="small")
    return fig


def prompt_heatmap(scores: pd.DataFrame, value: str = "facet_score", label: str = "facet score 1-5 (heuristic)") -> Figure:
    """Model x prompt heatmap of `value` (mean over rounds), each cell labelled; missing cells left blank."""
    table = scores.pivot_table(index="model", columns="prompt_id", values=value, aggfunc="mean", sort=False)
    numbers = table.astype(float).to_numpy()
    fig = Figure(figsize=(max(6.0, 3.5 + 1.1 * len(table.columns)), 1.8 + 0.6 * max(len(table), 1)),
                 layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(f"Per prompt: {label} (mean over rounds)")
    image = ax.imshow(numbers, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table.index)), table.index)
    middle = np.nanmean(numbers) if np.isfinite(numbers).any() else 0.0
    for (row, column), number in np.ndenumerate(numbers):
        if not np.isnan(number):
            ax.text(column, row, f"{number:.1f}", ha="center", va="center", fontsize="small",
                    color="black" if number >= middle else "white")
    fig.colorbar(image, ax=ax, label=label)
    return fig
