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


INCIDENT = _prompt("meeting-notes", "incident-review")
VENDOR = _prompt("meeting-notes", "vendor-call")


def test_a_task_binds_the_date_in_its_own_comma_clause():
    # calibration c165: a date-first list was read as every task taking the next task's date
    dates = "Dates: April 9 customer update, April 10 postmortem, April 18 automation due, April 22 progress review."
    status = _status(dates, INCIDENT)
    assert status["update-due"] == status["postmortem-due"] == status["automation-due"] == "stated"
    assert _status(dates.replace("April 10 postmortem", "April 12 postmortem"), INCIDENT)["postmortem-due"] \
        == "contradicted"


def test_a_date_left_behind_after_from_does_not_state_the_fact():
    # calibration c006: "moved the launch from Friday, March 14 to April" changes the launch date
    moved = RIGHT.replace("The beta launch stays on Friday, March 14",
                          "The team moved the beta launch from Friday, March 14 to the April release")
    assert _status(moved)["launch-date"] == "contradicted"
    assert _status("The trial runs from the 19th for two weeks.", VENDOR)["pilot-start"] == "stated"


def test_today_does_not_date_a_fact_dated_only_by_month():
    # calibration c109: "Lena tells design about dark mode today" says nothing about the April release
    assert _status("Lena lets the design team know about dark mode today.")["dark-mode-deferred"] == "missing"
    assert _status("The crash fix lands today.")["crash-due"] == "contradicted"


def test_a_literal_date_variant_beside_a_wrong_date_is_not_stated():
    # calibration c026: "contract decision: May 19, at the end of the pilot" names the wrong date
    assert _status("Contract decision: May 19, at the end of the pilot.", VENDOR)["contract-decision"] == "contradicted"
    assert _status("The contract is decided at the end of the pilot.", VENDOR)["contract-decision"] == "stated"


def test_every_fact_that_names_a_participant_binds_its_owner():
    # calibration c137: "Carmen replies on pricing" had no owner, so "Sofia confirms pricing" went unnoticed
    for prompt_set in PROMPTS.sets.values():
        for prompt in prompt_set.prompts:
            names = facts.participants(prompt)
            for fact in prompt.facts:
                named = [n for n in names if n in fact.text.lower().replace("(", " ").split()]
                assert not named or fact.who, f"{prompt.id}/{fact.id} names {named} but has no `who`"
    swapped = "Sofia confirms pricing with her manager; Carmen sends the compressed model."
    assert _status(swapped, VENDOR)["pricing-owner"] == "contradicted"
