"""The selection report as text: its Markdown sections (appended to benchmark_report.md) and report.html.

Rendering only: reads a `selection.Selection`, writes no file (`selection.write_reports` does).
`RANKING_COLUMNS` and `VALUE_COLUMNS` are the ranking table's columns as the reports and notebook 05 show them.
"""
from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from ..bench.markdown import SUMMARY_COLUMNS, format_value, markdown_table
from ..evaluate import compare, scoring
from ..measure.roofline import EXPLANATION, bandwidth_summary

if TYPE_CHECKING:
    from .report import Selection

RANKING_COLUMNS = ["rank", "model", "size_class", "passed", "excluded_by", "weighted_score", "pareto",
                   *(f"score_{d}" for d in compare.DIMENSIONS), "missing"]
VALUE_COLUMNS = ["model", "params_b", "license", *(d.column for d in compare.DIMENSIONS.values() if d.column != "license_score")]
QUALITY_DETAIL = ["quality_ci_low", "quality_ci_high", "n_cut", "n_looped", "n_overran"]  # beside the values: the quality CI, answers cut


def value_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """The values behind the ranking's scores, with the quality CI and the answers cut."""
    return ranked.reindex(columns=[*VALUE_COLUMNS, *QUALITY_DETAIL])


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


def _price_text(estimate: pd.DataFrame) -> str:
    """`in EUR at 0.30 EUR/kWh`: the currency and electricity price the costs of an energy estimate use."""
    if estimate.empty:
        return "not estimated"
    currency, price = estimate["currency"].iloc[0], estimate["price_per_kwh"].iloc[0]
    return f"in {currency} at {price:.2f} {currency}/kWh"


def _sentence(clause: str) -> str:
    return clause[:1].upper() + clause[1:]


def quality_intro(selection: Selection) -> str:
    """What the quality score is: the scorer, its measured accuracy, how many answers were cut, the CI."""
    scores = selection.scores
    measured = ("measured on the labelled pairs of calibration/pairs.jsonl (a pair is right when the better answer "
                "scores higher; ties are not right; dev = pairs the scorers' author read, test = held out)"
                if selection.calibration else "not yet measured: run benchmarks/quality_calibration.py")
    return (f"`quality_score` (1-5) is the **{selection.quality_method}** scorer, chosen as the best of every scorer "
            f"below, {measured}. `mean_quality_score` weighs each prompt once; `quality_ci_low`-`quality_ci_high`: "
            f"its 95% bootstrap interval over prompts. {_sentence(scoring.cut_note(scores))} (`n_cut`, `n_looped`, `n_overran`). "
            "Facet coverage (substring heuristic) and "
            "ROUGE-L (word overlap with the reference) are shown for comparison: both are blind to meaning.")


def scorer_accuracy(selection: Selection) -> pd.DataFrame:
    """Every scorer's pairwise accuracy on the calibration set: scorer, dev, test, all (right / n), empty when
    not measured."""
    if not selection.calibration:
        return pd.DataFrame(columns=["scorer", "dev", "test", "all"])
    rows = pd.DataFrame(selection.calibration["rows"])
    rows = rows[rows["kind"] == "all"]
    rows["cell"] = [f"{r}/{n} ({a:.0%})" for r, n, a in zip(rows["right"], rows["n"], rows["accuracy"].fillna(0))]
    table = rows.pivot(index="scorer", columns="split", values="cell").reindex(columns=["dev", "test", "all"])
    return table.reset_index().sort_values("scorer", key=lambda c: c != selection.quality_method, kind="stable")


def selection_markdown(selection: Selection) -> str:
    """The selection sections appended to the benchmark report; charts are linked as PNG files beside it."""
    parts = [
        "## Recommendation\n\n" + selection.recommendation + "\n",
        "## Quality\n\n" + quality_intro(selection) + " `mean_judge_score`: the judge's mean grade (1-5).\n\n"
        + (markdown_table(selection.quality) if not selection.quality.empty else "_no scored answers_\n")
        + "\nEvery scorer's pairwise accuracy on the calibration set:\n\n" + markdown_table(scorer_accuracy(selection)),
        judge_markdown(selection),
        f"## Gates\n\nBefore weights, each model must pass: {compare.gates_text(selection.gates)} (models.json "
        "`gates`). Excluded models are not ranked.\n\n"
        + markdown_table(selection.ranked[["model", "passed", "excluded_by"]]),
        f"## Comparison and ranking\n\nWeights: {_weights_text(selection.weights)}. Each dimension is scored 0 "
        "(worst of these models) to 1 (best); `weighted_score` is the weighted mean; `pareto`: no other model is "
        "both better in quality and faster at p95.\n\n" + markdown_table(selection.ranked[RANKING_COLUMNS])
        + "\nThe values behind the scores:\n\n" + markdown_table(value_table(selection.ranked)),
        "## Cost and energy (ESTIMATE)\n\nEnergy and electricity cost per 1k output tokens = watts × seconds per 1k "
        f"tokens (median output_tps), one request at a time; cost {_price_text(selection.energy)}. An estimate, not a "
        "measurement of this machine's power.\n\n" + markdown_table(selection.energy),
    ]
    if selection.run_comparison is not None:
        changed = selection.answer_diffs[~selection.answer_diffs["same"]] if selection.answer_diffs is not None else pd.DataFrame()
        parts.append(
            f"## Compared with the baseline run\n\nBaseline: `{selection.baseline.out_dir}`. `ratio` = this run / "
            "baseline; a difference is beyond noise only when the 95% CIs of the medians do not overlap, it exceeds "
            "the between-run `noise_floor`, and the machine was about as busy in both runs (else `cannot tell`, "
            "see `load_note`).\n\n"
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
        "th{background:#f3f3f3}td{text-align:right;white-space:nowrap}.table{overflow-x:auto}img{max-width:100%}.estimate{color:#a00;font-weight:bold}"
        ".note{color:#555}")


def _html_table(frame: pd.DataFrame) -> str:
    """The frame's cells as the Markdown report shows them (`format_value`), in a box that scrolls sideways when
    the table is wider than the page (cells never wrap, so a model name stays on one line)."""
    cells = frame.astype(object).map(format_value) if not frame.empty else frame
    return f"<div class='table'>{cells.to_html(index=False, escape=True, border=0)}</div>"


_SUMMARY_NOTE = (
    "<p class='note'>ttft_ms: first <em>answer</em> token; ttft_any_ms: first token of any kind (reasoning "
    "included); tpot_ms and decode_tps: over everything generated after the first token; itl_ms: per gap between "
    "streamed chunks (vLLM; AIPerf's “ITL” is the kit's TPOT); tokens_source: how output tokens were counted per "
    "trial (usage: the server's report, tokenizer: the model's tokenizer.json, chunks: one chunk taken as one token, "
    "an undercount); truncated: answers cut by max_tokens. Every definition is in benchmark_report.md.</p>")


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
        "<h2>Benchmark summary</h2>" + _html_table(run.summary[SUMMARY_COLUMNS]) + _SUMMARY_NOTE
        + f"<h3>Roofline</h3><p class='note'>{html.escape(EXPLANATION)} Bandwidth: "
        f"{html.escape(bandwidth_summary(run.header.get('bandwidth')))}.</p>",
        f"<h2>Quality</h2><p class='note'>{_inline_markdown(quality_intro(selection))}</p>"
        + (_html_table(selection.quality) if not selection.quality.empty else "<p>No scored answers.</p>")
        + "<p>Every scorer's pairwise accuracy on the calibration set:</p>" + _html_table(scorer_accuracy(selection)),
        f"<h2>Judge</h2><p>{html.escape(selection.judge_note)}</p>"
        + (_html_table(selection.judge_parse) if selection.judge_parse is not None else ""),
        f"<h2>Gates</h2><p>{html.escape(compare.gates_text(selection.gates))}</p>"
        + _html_table(selection.ranked[["model", "passed", "excluded_by"]]),
        f"<h2>Ranking</h2><p>Weights: {html.escape(_weights_text(selection.weights))}</p>"
        + _html_table(selection.ranked[RANKING_COLUMNS]) + _html_table(value_table(selection.ranked)),
        "<h2>Cost and energy <span class='estimate'>ESTIMATE</span></h2>"
        f"<p class='note'>watts × seconds per 1k output tokens; electricity only; cost "
        f"{html.escape(_price_text(selection.energy))}.</p>" + _html_table(selection.energy),
    ]
    if selection.run_comparison is not None:
        sections.append(f"<h2>Compared with the baseline run</h2><p class='note'>Baseline "
                        f"<code>{html.escape(str(selection.baseline.out_dir))}</code>; beyond noise = the 95% CIs of "
                        "the medians do not overlap, the difference exceeds the between-run noise floor, and the "
                        "machine was about as busy in both runs (else cannot tell).</p>"
                        + _html_table(selection.run_comparison))
    sections.append("<h2>Charts</h2>" + "".join(
        f"<figure><img alt='{name}' src='{data_uri(figure)}'><figcaption>{name}</figcaption></figure>"
        for name, figure in selection.figures.items()))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Model selection report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n")
