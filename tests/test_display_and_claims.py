"""The notebooks' display convention (`present.cells`), their claims (`present.claims`) and the saved pick."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.present import cells, claims
from helpers.workshop import picks


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["smollm2", "qwen-0.5b", "qwen-1.5b"],
        "load_s": [0.41, 1.234, 5.51],
        "peak_rss_mb": [443.333618, 1101.062304, 2446.0],
        "decode_tps_median": [np.nan, 31.0, 17.25],
        "decode_roofline_pct": [12.345, None, 61.0],
        "cold_minus_warm_ms": [12.0, -7.8, None],
        "error": [None, None, None],
        "n": pd.array([3, None, 3], dtype="Int64"),
        "answer": ["Line one.\nLine two.", "Short.", None],
        "finish_reasons": [{"stop": 2}, {"length": 1}, {}],
    })


def test_cells_round_with_units_and_never_show_none_nan_or_na():
    table = cells.show(_frame())
    shown = table.cells()
    assert list(shown["load_s"]) == ["0.41 s", "1.23 s", "5.51 s"]
    assert list(shown["peak_rss_mb"]) == ["443.3 MB", "1101.1 MB", "2446.0 MB"]  # was 443.333618, 1101.062304
    assert list(shown["decode_tps_median"]) == ["–", "31.0 tok/s", "17.2 tok/s"]
    assert list(shown["decode_roofline_pct"]) == ["12.3 %", "–", "61.0 %"]
    assert list(shown["finish_reasons"]) == ["stop 2", "length 1", "–"]  # never a raw dict
    assert list(shown["n"]) == ["3", "–", "3"] and list(shown["error"]) == ["–"] * 3
    page = table.to_html().split("</style>", 1)[1] + table.to_text()  # the cells, not the stylesheet
    for raw in ("None", "NaN", "<NA>", "nan", "\\n", "{"):
        assert raw not in page, raw
    assert "Line one.\nLine two." in table.to_html()  # a real line break, wrapped by CSS, not an escaped one


def test_an_answer_cut_by_max_tokens_says_so():
    assert cells.answer_cell("The answer", "length", 32) == "The answer [cut: reached max_tokens=32]"
    assert cells.answer_cell("Done.", "stop", 32) == "Done."
    assert cells.answer_cell("", None, 8, error="timeout") == "no answer: timeout"
    trials = pd.DataFrame({"model": ["a", "b"], "prompt_id": ["p", "p"], "text": ["x\ny", "z"],
                           "finish_reason": ["stop", "length"]})
    wide = cells.side_by_side(trials, ["b", "a"], 16)
    assert list(wide.frame.columns) == ["prompt_id", "b", "a"]
    assert wide.frame.loc[0, "b"] == "z [cut: reached max_tokens=16]" and "<span class='cut'>" in wide.to_html()


def test_a_dict_of_figures_is_a_table_not_a_raw_dict():
    table = cells.mapping({"n": 6, "exact": 0.5, "spearman": None}, "judge vs your annotation")
    assert "{" not in table.to_text() and "None" not in table.to_text() and "–" in table.to_text()


def test_settings_are_a_table_not_a_dataclass_repr():
    # the walk of 2026-12-08: notebook 04 showed "BenchConfig(models=(...), prompts='local-inference', ..."
    table = cells.settings({"models": ("a", "b"), "endpoint": None, "stream": True, "temperature": 0.0})
    text = table.to_text()
    assert "BenchConfig" not in text and "None" not in text and "(" not in text
    assert list(table.frame["setting"]) == ["models", "endpoint", "stream", "temperature"]
    assert list(table.frame["value"]) == ["a, b", "–", "yes", "0.00"]


def test_the_footprint_takes_before_and_peak_from_one_process():
    # the walk of 2026-12-08: notebook 04 showed Qwen 0.5B with 1237.4 MB "before the load" (the notebook kernel,
    # after SmolLM2) and a peak of 709.3 MB (a fresh process): the peak below the "before" of another process
    from helpers.bench.summary import footprint

    summary = pd.DataFrame({"model": ["smol", "qwen"], "load_s": [0.6, 2.3], "memory_method": ["isolated", "process"],
                            "rss_baseline_mb": [163.1, np.nan], "rss_before_mb": [221.7, 1237.4],
                            "peak_rss_mb": [478.4, 1900.0], "disk_mb": [90.0, 355.0]})
    table = footprint(summary)
    assert table["before_load_mb"].tolist() == [163.1, 1237.4]
    assert table["model_rss_mb"].round(1).tolist() == [315.3, 662.6]


def _executed(*outputs) -> dict:
    return {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data",
                                                          "data": o._repr_mimebundle_()}]} for o in outputs]}


def test_claims_state_what_the_table_shows_and_the_check_agrees():
    table = cells.show(_frame(), key="starts")
    said = [claims.ranking(table, "load_s", "Load time"), claims.extreme(table, "peak_rss_mb", "Largest"),
            claims.signs(table, "cold_minus_warm_ms", "Cold above warm", "not above"),
            claims.ranking(table, "decode_tps_median", "Decode", descending=False)]
    assert said[0].text == "Load time, highest first: qwen-1.5b (5.51 s) > qwen-0.5b (1.23 s) > smollm2 (0.41 s)."
    assert said[1].text == "Largest: qwen-1.5b (2446.0 MB)."
    assert said[2].text == "Cold above warm: smollm2 (+12.0 ms); not above: qwen-0.5b (-7.80 ms)."
    assert said[3].text.endswith("No value for smollm2.")
    assert claims.problems(_executed(table, *said)) == []


@pytest.mark.parametrize("change,found", [
    ({"order": ["smollm2", "qwen-0.5b"]}, "orders"),
    ({"values": {"qwen-1.5b": 4.0}}, "the table shows 5.51"),
    ({"table": "elsewhere"}, "no earlier output shows"),
    ({"text": "Load time: qwen-1.5b is slowest (5.5 s)."}, "does not show qwen-1.5b's 5.51 s"),
])
def test_a_claim_the_table_contradicts_is_found(change, found):
    table = cells.show(_frame(), key="starts")
    claim = claims.extreme(table, "load_s", "Slowest to load")
    for name, value in change.items():
        setattr(claim, name, value)
    assert any(found in problem for problem in claims.problems(_executed(table, claim)))


def test_the_warm_faster_than_cold_claim_of_the_issue_is_found():
    """On screen: Qwen 0.5B warm 231.8 ms vs cold 224.0 ms, under prose saying warm is faster."""
    table = cells.show(pd.DataFrame({"model": ["qwen-0.5b"], "cold_minus_warm_ms": [224.0 - 231.8]}), key="starts")
    claim = claims.Claim("Cold TTFT above the warm one: qwen-0.5b.", "starts", "cold_minus_warm_ms", above=["qwen-0.5b"])
    assert claims.problems(_executed(table, claim)) == [
        "cell 1: 'Cold TTFT above the warm one: qwen-0.5b.' says qwen-0.5b is above zero; the table shows -7.8"]


@pytest.mark.parametrize("sentence", [
    "**Duration:** about 25 minutes (the cells take about two minutes: the 1.5B model writes ~6 tokens/s).",
    "Expect a few seconds per model; Gemma 3 270M takes longest (its load alone takes about 8 seconds on two cores).",
    "3. Gemma 3 270M is the slowest to load and the largest in memory, and it does not follow instructions.",
    "SmolLM2 135M (tiny) answers fastest, but often wrongly.",
])
def test_prose_with_a_measured_figure_or_ordering_is_found(sentence):
    notebook = {"cells": [{"cell_type": "markdown", "source": sentence}]}
    assert claims.prose_problems(notebook)


def test_a_question_or_a_code_span_is_not_a_claim():
    notebook = {"cells": [{"cell_type": "markdown", "source": "Which model is the slowest to load here? Set "
                                                              "`MAX_P95_MS = 5000 ms`.\n\n**Duration:** 20 minutes."}]}
    assert claims.prose_problems(notebook) == []


def test_the_pick_carries_forward_with_the_defaults_as_fallback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(picks.PICKS_ENV, str(tmp_path / "picks.json"))
    defaults = picks.chosen_models(None, offline=True)
    assert "the defaults (models.json): no pick saved yet" in capsys.readouterr().out
    picks.save(["qwen2.5-coder-0.5b-instruct-int4", "gone-model"], "cpu")
    assert picks.chosen_models(None, offline=True, known={"qwen2.5-coder-0.5b-instruct-int4"}) == [
        "qwen2.5-coder-0.5b-instruct-int4"]
    assert "picked in notebook 01" in capsys.readouterr().out and picks.chosen_device() == "cpu"
    assert picks.chosen_models(["x"], quiet=True) == ["x"]  # the parameters cell wins
    assert picks.chosen_models(None, offline=True, known=set(), quiet=True) == defaults
    (tmp_path / "picks.json").write_text("{not json", encoding="utf-8")
    assert picks.chosen_models(None, offline=True, quiet=True) == defaults
    assert "is not a saved pick" in picks.load()[1]
    with pytest.raises(ValueError, match="at least one model"):
        picks.save([])
    assert json.loads(json.dumps(picks.load()[1]))  # the note is plain text


def test_a_notebook_s_own_defaults_come_before_the_world_s(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(picks.PICKS_ENV, str(tmp_path / "picks.json"))
    ladder = ["smollm2-135m-instruct-int4", "qwen2.5-coder-1.5b-instruct-int4"]
    assert picks.chosen_models(None, offline=True, defaults=ladder) == ladder
    assert "this notebook's defaults: no pick saved yet" in capsys.readouterr().out
    picks.save(["qwen2.5-coder-0.5b-instruct-int4"], "cpu")
    assert picks.chosen_models(None, offline=True, defaults=ladder) == ["qwen2.5-coder-0.5b-instruct-int4"]
    assert "picked in notebook 01" in capsys.readouterr().out  # the pick wins over the notebook's defaults
    assert picks.chosen_models(None, offline=True, known=set(), defaults=ladder, quiet=True) == ladder


def test_scored_answers_are_marked_cut_from_their_truncated_flag():
    scores = pd.DataFrame({"text": ["Done.", "Cut mid-", None], "truncated": pd.array([False, True, pd.NA], "boolean")})
    assert list(cells.answers(scores, 64)) == ["Done.", "Cut mid- [cut: reached max_tokens=64]", "(empty answer)"]
