"""ROUGE-L against the references (rouge-score), the judge's parse rate and its agreement with the facet heuristic."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers.core.config import resolve_prompt_set
from helpers.evaluate import judge, rouge


def test_rouge_l_is_the_lcs_f1_of_words():
    # LCS of "the cat sat on the mat" and "a cat sat on a mat" is "cat sat on mat": 4 of 6 words each way.
    assert rouge.rouge_l("a cat sat on a mat", "the cat sat on the mat") == pytest.approx(4 / 6)
    assert rouge.rouge_l("", "the cat") == 0.0
    assert rouge.rouge_l("Cats SAT.", "the cat sat") == pytest.approx(rouge.rouge_l("cat sat", "the cat sat"))


def test_meeting_notes_set_has_a_reference_for_every_prompt():
    _, meeting = resolve_prompt_set("meeting-notes")
    assert all(p.reference and len(p.reference.split()) > 30 for p in meeting.prompts)


def test_rouge_scores_per_answer_and_per_model():
    _, meeting = resolve_prompt_set("meeting-notes")
    standup = meeting.prompts[0]
    answers = pd.DataFrame({
        "model": ["copies", "copies", "paraphrase", "warm"],
        "prompt_id": [standup.id] * 4,
        "round": [0, 1, 0, 0],
        "text": [standup.reference, standup.reference, "Beta on March 14. Dark mode later.", "x"],
        "warmup": [False, False, False, True],
        "ok": [True, True, True, True],
    })
    scores = rouge.rouge_scores(answers, meeting)
    assert len(scores) == 3 and "automatic metric" in scores["rouge_method"].iloc[0]
    summary = rouge.rouge_summary(scores).set_index("model")
    assert summary.at["copies", "mean_rouge_l"] == pytest.approx(1.0)
    assert 0 < summary.at["paraphrase", "mean_rouge_l"] < 0.3
    assert summary.at["copies", "n_rouge_prompts"] == 1


def judged_frame(scores: list[int | None], errors: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"model": ["a", "a", "b", "b"], "prompt_id": ["p1", "p2", "p1", "p2"],
                         "judge_score": pd.array(scores, dtype="Int64"), "judge_error": errors})


def test_parse_rate_counts_parsed_verdicts_of_requests_that_answered():
    judged = judged_frame([5, None, 3, None], [None, None, None, "timeout"])
    rates = judge.judge_parse_rate(judged).set_index("model")
    assert rates.at["a", "parse_rate"] == pytest.approx(0.5)
    assert rates.at["b", "parse_rate"] == pytest.approx(1.0)  # the failed request is not the judge's format
    assert rates.loc["all"].to_dict() == {"n": 4, "n_errors": 1, "n_parsed": 2, "parse_rate": pytest.approx(2 / 3)}


def test_judge_facet_agreement_rounds_the_facet_score_per_model_and_prompt():
    judged = judged_frame([5, 2, 3, 1], [None] * 4)
    scores = pd.DataFrame({"model": ["a", "a", "a", "b", "b"], "prompt_id": ["p1", "p1", "p2", "p1", "p2"],
                           "facet_score": [5.0, 4.0, 2.0, 3.0, 5.0]})  # a/p1 averages 4.5 -> rounds to 4
    agreement = judge.judge_facet_agreement(judged, scores)
    assert agreement["n"] == 4
    assert agreement["exact"] == pytest.approx(0.5) and agreement["within_1"] == pytest.approx(0.75)
    assert agreement["mean_abs_diff"] == pytest.approx((1 + 0 + 0 + 4) / 4)
