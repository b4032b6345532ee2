"""Facts, not words: each fact of a prompt is stated, missing or contradicted, and a contradiction costs more."""
from __future__ import annotations

import pytest

from helpers.core.config import load_prompts
from helpers.evaluate import facts, statements

PROMPTS = load_prompts()


def _prompt(set_name, prompt_id):
    return next(p for p in PROMPTS.sets[set_name].prompts if p.id == prompt_id)


STANDUP = _prompt("meeting-notes", "product-standup")
RIGHT = ("- The beta launch stays on Friday, March 14; dark mode moves to the April release.\n"
         "- Marcus fixes the sync crash by Wednesday, and Jonas updates the release notes by Thursday.\n"
         "- Priya sends the beta invite email on Friday; Lena tells the design team today.")


def _status(answer, prompt=STANDUP):
    return {r.fact_id: r.status for r in facts.grade_facts(answer, prompt)}


def test_every_reference_states_all_its_facts():
    for prompt_set in PROMPTS.sets.values():
        for prompt in prompt_set.prompts:
            if prompt.facts and prompt.reference:
                assert set(_status(prompt.reference, prompt).values()) == {"stated"}, prompt.id


def test_a_right_summary_states_every_fact():
    assert set(_status(RIGHT).values()) == {"stated"}


def test_swapped_owners_are_contradicted():
    swapped = RIGHT.replace("Marcus fixes", "JONAS fixes").replace("Jonas updates", "Marcus updates") \
        .replace("JONAS", "Jonas")
    status = _status(swapped)
    assert status["crash-owner"] == status["notes-owner"] == "contradicted"
    assert status["crash-due"] == "stated"


def test_a_changed_date_is_contradicted_and_costs_more_than_a_missing_one():
    changed = RIGHT.replace("by Wednesday", "by Friday (Mar 14)")
    missing = RIGHT.replace(" by Wednesday", "")
    assert _status(changed)["crash-due"] == "contradicted"
    assert _status(missing)["crash-due"] == "missing"
    score = lambda text: facts.fact_score(facts.grade_facts(text, STANDUP))  # noqa: E731
    assert score(RIGHT) > score(missing) > score(changed)


def test_a_changed_decision_is_contradicted():
    changed = RIGHT.replace("dark mode moves to the April release", "dark mode ships in the beta")
    assert _status(changed)["dark-mode-deferred"] == "contradicted"
    negated = RIGHT.replace("dark mode moves to the April release", "dark mode does not move to April")
    assert _status(negated)["dark-mode-deferred"] == "contradicted"


@pytest.mark.parametrize("claim, expected", [
    ("Quantization reduces the model's memory use.", "stated"),
    ("Quantization does not reduce the model's memory use.", "contradicted"),
    ("Quantization increases memory use.", "contradicted"),
    ("Quantization never shrinks the model.", "contradicted"),
])
def test_a_negated_or_inverted_claim_never_counts_as_stated(claim, expected):
    assert _status(claim, _prompt("local-inference", "quantization-effect"))["smaller"] == expected


def test_claims_that_carry_their_own_negation_are_stated():
    benefits = _prompt("local-inference", "local-benefits")
    answer = "1. Privacy: data never leaves the device.\n2. Works without an internet connection.\n3. No per-request cloud costs."
    status = _status(answer, benefits)
    assert status["privacy"] == status["offline"] == status["cost"] == "stated"


def test_a_keyword_list_states_nothing():
    keywords = "- Marcus, crash, Wednesday\n- Jonas, release notes, Thursday\n- beta, Friday, dark mode, April"
    assert set(_status(keywords).values()) == {"missing"}


def test_date_mentions_compare_by_their_parts():
    assert [s.text for s in statements.date_spans("offer by monday, june 16, posting by the 20th")] == [
        "monday, june 16", "the 20th"]
    assert statements.date_parts("wednesday (mar 12") == {"weekday": "wednesday", "month": 3, "day": 12,
                                                          "relative": None}
