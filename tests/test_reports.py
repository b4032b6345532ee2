"""The selection reports of real runs: Markdown, CSV/JSON and a self-contained HTML page with embedded charts."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from helpers.__main__ import main as cli
from helpers.bench.markdown import SUMMARY_COLUMNS, format_value, markdown_table
from helpers.bench.results import REPORT_MD, RESULTS_FILE, SUMMARY_JSON
from helpers.bench.session import run_benchmark
from helpers.bench.summary import load_run
from helpers.core.config import ConfigError, SelectionGates
from helpers.evaluate import judge, judging
from helpers.present import plots, widgets
from helpers.present import report as selection_report
from helpers.serve.errors import ModelNotFoundError

from .conftest import SMOL

MODELS = [SMOL, "smollm2-135m-instruct-int8"]
SETTINGS = {"models": MODELS, "prompts": "smoke", "rounds": 2, "max_tokens": 16, "progress": False}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OPEN_GATES = SelectionGates(quality_floor=None, memory_budget_mb=None, licenses=None)  # every model passes


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real runs with the same deterministic settings: a baseline and a candidate."""
    folders = tmp_path_factory.mktemp("baseline"), tmp_path_factory.mktemp("candidate")
    for folder in folders:
        run_benchmark(out_dir=folder, **SETTINGS)
    return folders


@pytest.fixture(scope="module")
def written(runs: tuple[Path, Path]) -> dict[str, Path]:
    baseline, candidate = runs
    run = load_run(candidate)
    judged, note = judging.judge_run(run, selection_report.run_prompt_set(run), SMOL)
    selection = selection_report.select(run, baseline=load_run(baseline), gates=OPEN_GATES, judged=judged,
                                        judge_note=note)
    return selection_report.write_reports(selection)


def test_every_report_file_is_written(written: dict[str, Path]) -> None:
    for kind in ("csv", "json", "markdown", "html", "quality_scores", "comparison", "energy", "run_comparison",
                 "answer_diffs", "chart_quality_vs_latency", "chart_prompt_heatmap", "chart_decode_rate"):
        assert written[kind].is_file() and written[kind].stat().st_size > 0, kind
    assert written["chart_memory_and_disk"].read_bytes().startswith(PNG_SIGNATURE)


def test_html_report_is_self_contained_with_every_chart_embedded(written: dict[str, Path]) -> None:
    soup = BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")
    images = soup.find_all("img")
    assert {img["alt"] for img in images} == set(selection_report.CHARTS)
    for img in images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix), img["alt"]
        assert base64.b64decode(img["src"][len(prefix):]).startswith(PNG_SIGNATURE)
    assert not soup.find_all(["link", "script"]), "no external stylesheet or script"
    assert not [tag for tag in soup.find_all(src=True) if not tag["src"].startswith("data:")]
    text = soup.get_text(" ")
    ranking = pd.read_csv(written["comparison"])
    assert f"Recommendation: {ranking.iloc[0]['model']}" in text
    assert "ESTIMATE" in text and "heuristic" in text
    assert len(soup.find_all("table")) >= 5
    summary = soup.find("h2", string="Benchmark summary").find_next("table")
    header = [th.get_text() for th in summary.find_all("th")]
    assert header == SUMMARY_COLUMNS  # tokens_source, ITL, reasoning and cache columns, as in benchmark_report.md
    assert "tokens_source: how output tokens were counted" in text and "itl_ms: per gap" in text
    cells = [td.get_text() for td in soup.find_all("td")]
    assert not {"<NA>", "nan", "NaN", "True", "False"} & set(cells), "cells as the Markdown report shows them"


def test_markdown_report_has_the_selection_sections_and_links_existing_charts(written: dict[str, Path]) -> None:
    markdown = written["markdown"].read_text(encoding="utf-8")
    assert markdown.startswith("# Benchmark report")
    for heading in ("## Summary per model", "## Recommendation", "## Quality (automatic metrics)", "## Judge",
                    "## Gates", "## Comparison and ranking", "## Cost and energy (ESTIMATE)",
                    "## Compared with the baseline run", "## Charts"):
        assert heading in markdown
    for name in selection_report.CHARTS:
        link = selection_report.chart_file(name)
        assert f"]({link})" in markdown and (written["markdown"].parent / link).is_file()


def test_summary_json_and_the_comparison_tables(written: dict[str, Path]) -> None:
    payload = json.loads(written["json"].read_text(encoding="utf-8"))
    assert payload["recommendation"].startswith("**Recommendation: ")
    assert [row["model"] for row in payload["comparison"]] and sum(payload["weights"].values()) == pytest.approx(1)
    assert {row["model"] for row in payload["quality"]} == set(MODELS)
    assert all("mean_rouge_l" in row and "mean_judge_score" in row for row in payload["quality"])
    assert payload["judge"]["note"] == f"judge {SMOL}" and payload["judge"]["parse_rate"][-1]["model"] == "all"
    assert payload["gates"] == OPEN_GATES.model_dump()
    regression = pd.read_csv(written["run_comparison"])
    assert set(regression["model"]) == set(MODELS) and (regression["ratio"] > 0).all()


def test_judge_verdicts_are_kept_and_reused_for_the_same_answers(runs: tuple[Path, Path], written) -> None:
    run = load_run(runs[1])
    verdicts = pd.read_csv(run.out_dir / judging.JUDGE_CSV)
    assert len(verdicts) == len(MODELS) * 2 and set(verdicts["judge_model"]) == {SMOL}
    again, note = judging.judge_run(run, selection_report.run_prompt_set(run), SMOL)
    assert note.endswith(f"(verdicts read from {judging.JUDGE_CSV})")
    assert again["judge_score"].tolist() == verdicts["judge_score"].astype("Int64").tolist()
    assert judge.judge_parse_rate(again).set_index("model").at["all", "n"] == len(MODELS) * 2
    assert judging.judge_run(run, selection_report.run_prompt_set(run), "none") == (
        None, "no judge (--judge none): quality is the automatic metrics only")


def test_default_gates_exclude_with_reasons_or_recommend(runs: tuple[Path, Path]) -> None:
    selection = selection_report.select(load_run(runs[1]))
    ranked = selection.ranked
    assert (ranked["passed"] | (ranked["excluded_by"] != "")).all()
    expected = "**Recommendation: " if ranked["passed"].any() else "**No recommendation: no model passes the gates.**"
    assert selection.recommendation.startswith(expected)


def test_deterministic_mode_repeats_every_answer_across_runs(written: dict[str, Path]) -> None:
    diffs = pd.read_csv(written["answer_diffs"], keep_default_na=False)
    assert len(diffs) == len(MODELS) * 2 * 2  # models x prompts x rounds
    assert diffs["same"].all(), diffs.loc[~diffs["same"], "diff"].tolist()


def test_cli_writes_the_reports_and_names_bad_weights(runs: tuple[Path, Path], capsys) -> None:
    baseline, candidate = runs
    assert cli(["report", str(candidate), "--baseline", str(baseline), "--weights", "quality=1,latency=0",
                "--watts", "15", "--judge", "none"]) == 0
    recommendation = json.loads((candidate / SUMMARY_JSON).read_text(encoding="utf-8"))["recommendation"]
    assert recommendation in capsys.readouterr().out
    energy = pd.read_csv(candidate / selection_report.ENERGY_CSV)
    assert (energy["watts"] == 15).all()
    assert cli(["report", str(candidate), "--weights", "speed=1"]) == 2
    assert "unknown weight(s) ['speed']" in capsys.readouterr().err


def test_a_changed_prompt_set_is_refused(runs: tuple[Path, Path], tmp_path: Path) -> None:
    records = [json.loads(line) for line in (runs[0] / RESULTS_FILE).read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record["type"] == "header":
            record["prompt_set"]["fingerprint"] = "0000000000000000"
    (tmp_path / RESULTS_FILE).write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="fingerprint 0000000000000000"):
        selection_report.select(load_run(tmp_path))
    assert not (tmp_path / REPORT_MD).exists() and not (tmp_path / SUMMARY_JSON).exists()


def test_quality_vs_latency_draws_the_pareto_front_through_the_undominated_models() -> None:
    table = pd.DataFrame({"model": ["fast", "good", "slow"], "e2e_ms_p95": [150.0, 400.0, 900.0],
                          "mean_facet_score": [2.0, 4.5, 4.0], "pareto": [True, True, False]})
    fig = plots.quality_vs_latency(table)
    front = fig.axes[0].lines[0]
    assert list(front.get_xdata()) == [150.0, 400.0] and list(front.get_ydata()) == [2.0, 4.5]
    assert {text.get_text() for text in fig.axes[0].texts} == {"fast", "good", "slow"}


def test_prompt_heatmap_averages_rounds_and_labels_each_cell() -> None:
    scores = pd.DataFrame({"model": ["a", "a", "a", "b"], "prompt_id": ["p", "p", "q", "p"],
                           "facet_score": [2.0, 4.0, 5.0, 1.0]})
    fig = plots.prompt_heatmap(scores)
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["1.0", "3.0", "5.0"]  # b × q is blank


def test_weight_sliders_headless_apply_the_weights_once(capsys) -> None:
    seen = []
    chosen = widgets.weight_sliders({"quality": 0.5, "latency": 0.5}, seen.append)
    assert seen == [{"quality": 0.5, "latency": 0.5}] and chosen.value == seen[0]
    assert "headless" in capsys.readouterr().out


@pytest.mark.parametrize(("value", "shown"), [
    (pd.NA, "–"), (float("nan"), "–"), (None, "–"), (True, "yes"), (0.000095, "0.000095"), (0.0049, "0.0049"),
    (0.0, "0.00"), (5.126, "5.13"), (123.45, "123.5"), ("a|b", "a|b"),
])
def test_cells_are_rounded_and_missing_values_shown_as_a_dash(value: object, shown: str) -> None:
    """An excluded model's rank is pd.NA (was `<NA>`); a cost per 1k tokens of 0.000095 EUR was `0.00`."""
    assert format_value(value) == shown


def test_markdown_table_escapes_the_column_separator() -> None:
    table = markdown_table(pd.DataFrame({"rank": pd.array([pd.NA, 1], dtype="Int64"), "note": ["a|b", "c"]}))
    assert table.splitlines()[2:] == ["| – | a\\|b |", "| 1 | c |"]


def test_a_named_judge_that_does_not_exist_is_an_error_not_a_silent_no_judge(runs: tuple[Path, Path]) -> None:
    run = load_run(runs[1])
    with pytest.raises(ModelNotFoundError, match=r"^--judge no-such-judge: Model 'no-such-judge' not found"):
        judging.judge_run(run, selection_report.run_prompt_set(run), "no-such-judge")
