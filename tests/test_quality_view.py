"""Notebook 05's quality tables (`present.quality_view`): a calibration pair per scorer, accuracy, cost per answer."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers.core.config import resolve_prompt_set
from helpers.evaluate import calibration
from helpers.present import cells, quality_view

pytestmark = pytest.mark.unit


def _pair(pair_id: str = "c001") -> tuple[pd.Series, object]:
    pairs = calibration.load_pairs()
    pair = pairs[pairs["id"] == pair_id].iloc[0]
    prompt = next(p for p in resolve_prompt_set(pair["set"])[1].prompts if p.id == pair["prompt_id"])
    return pair, prompt


def test_the_swapped_owner_pair_ties_on_facets_and_the_fact_scorer_sees_the_swap():
    pair, prompt = _pair()  # dev pair of issue #16: Marcus and Jonas swapped, every keyword still there
    assert pair["split"] == "dev" and pair["kind"] == "swapped-owner"
    scores, detail = quality_view.pair_table(pair, prompt)
    by_scorer = scores.set_index("scorer")["better_minus_worse"]
    assert by_scorer["facet_score"] == 0  # the keyword heuristic cannot tell them apart
    assert by_scorer["fact_score"] > 0 and by_scorer["composite"] > 0
    assert "code_score" not in by_scorer  # no code in a meeting summary: not a row, rather than a None
    assert "contradicted" in detail.set_index("side").at["worse", "facts_not_stated"]
    assert cells.raw_values(cells.show(scores).to_html() + cells.show(detail).to_html()) == []


def test_accuracy_tables_are_percentages_best_first():
    measured = {"rows": [
        {"scorer": s, "split": split, "kind": kind, "accuracy": acc}
        for s, acc in (("facet_score", 0.25), ("composite", 0.9))
        for split in ("dev", "test", "all") for kind in ("all", "negation")]}
    measured["rows"].append({"scorer": "code_score", "split": "all", "kind": "all", "accuracy": None})
    overall, by_kind = quality_view.accuracy_tables(measured)
    assert list(overall.index[:2]) == ["composite", "facet_score"] and list(overall.columns) == ["dev_pct", "test_pct",
                                                                                                 "all_pct"]
    assert overall.at["composite", "all_pct"] == pytest.approx(90.0)
    assert by_kind.at["negation", "facet_score"] == pytest.approx(25.0)
    assert cells.raw_values(cells.show(overall).to_html()) == []  # a missing accuracy shows as "–"


def test_each_scorer_is_timed_on_the_answers_it_applies_to():
    prompt_set = resolve_prompt_set("meeting-notes")[1]
    first = prompt_set.prompts[0]
    answers = pd.DataFrame({"model": ["a", "b"], "prompt_id": [first.id] * 2,
                            "text": ["Lena owns the release notes.", ""]})
    timed = quality_view.time_scorers(answers, prompt_set)
    assert timed["code_score"] == (None, 0)  # meeting notes have no code
    assert timed["composite"][1] == 2 and timed["composite"][0] > 0
    assert timed["fact_score"][1] == (2 if first.facts else 0)
    with pytest.raises(ValueError, match="not in the prompt set"):
        quality_view.time_scorers(answers.assign(prompt_id="nope"), prompt_set)


def test_the_cost_table_says_why_a_figure_is_missing():
    timed = {"composite": (0.004, 6), "code_score": (None, 0)}
    measured = {"rows": [{"scorer": "composite", "split": split, "kind": "all", "accuracy": 0.85}
                         for split in ("dev", "test", "all")]}
    table = quality_view.cost_table(timed, measured, "judge-model", 2.5, 6).set_index("scorer")
    assert table.at["composite", "ms_per_answer"] == pytest.approx(4.0)
    assert table.at["composite", "pairs_right_pct"] == pytest.approx(85.0)
    assert table.at["code_score", "note"] == "no code prompts in this set"
    assert table.at["judge (judge-model)", "ms_per_answer"] == pytest.approx(2500.0)
    assert "quality_calibration --judge judge-model" in table.at["judge (judge-model)", "note"]
    calibrated = measured | {"judges": {"j|dev|3": {"judge": "judge-model", "split": "dev", "pairs": ["c1", "c2"],
                                                      "rows": [{"scorer": "judge_holistic", "split": "all",
                                                                "kind": "all", "accuracy": 0.3}]}}}
    judged = quality_view.cost_table(timed, calibrated, "judge-model", None).set_index("scorer")
    assert judged.at["judge (judge-model)", "pairs_right_pct"] == pytest.approx(30.0)
    assert "2 dev pairs" in judged.at["judge (judge-model)", "note"] and "not run here" in judged.at[
        "judge (judge-model)", "note"]
    unmeasured = quality_view.cost_table(timed, None)
    assert unmeasured["note"].str.contains("accuracy unmeasured").all() and len(unmeasured) == len(
        quality_view.SCORERS)
    assert cells.raw_values(cells.show(unmeasured).to_html()) == []
