"""Negations the source does not make: a denial in the source's own words is a contradiction, not a paraphrase."""
from __future__ import annotations

import pytest

from helpers.core.config import load_prompts
from helpers.evaluate import negations, scoring

PROMPTS = load_prompts()
PROMPT = {p.id: p for s in PROMPTS.sets.values() for p in s.prompts}


@pytest.mark.parametrize("prompt_id, answer", [
    # calibration c130, c132, c126, c058 (wrong answers that reuse the source's words)
    ("product-standup", "Offline export is not code-complete and QA does not start tomorrow."),
    ("thermostat-sensor-fault", "It switched the heating off for safety, and its battery at 14% does not need "
                                "replacing yet."),
    ("slm-definition", "Its compact size does not mean it can run on laptops, phones or edge devices."),
    ("slm-definition", "It needs less memory and must run in the cloud rather than on laptops, phones or edge "
                       "devices."),
])
def test_a_denial_of_what_the_source_states_is_found(prompt_id, answer):
    assert negations.invented_negations(answer, PROMPT[prompt_id])


@pytest.mark.parametrize("prompt_id, answer", [
    # the source itself speaks negatively ("No, dark mode moves to the April release"; "Android widget won't be ready")
    ("product-standup", "Dark mode will not be in the beta; it ships with the April release."),
    ("release-planning", "Version 2.4 ships without the Android widget, which moves to 2.5."),
    # "read failed" in the log: a failure is a negation of reading
    ("thermostat-sensor-fault", "The temperature sensor could not be read after three tries."),
    # a negation of something the source never mentions
    ("slm-definition", "It runs on laptops, phones and edge devices without powerful servers."),
])
def test_a_negation_the_source_supports_is_not_flagged(prompt_id, answer):
    assert negations.invented_negations(answer, PROMPT[prompt_id]) == []


def test_a_denial_costs_what_a_contradiction_costs():
    prompt = PROMPT["product-standup"]
    right = prompt.reference + " Offline export is code-complete and QA starts tomorrow."
    denied = prompt.reference + " Offline export is not code-complete and QA does not start tomorrow."
    scored = scoring.score_answer(denied, prompt)
    assert "denies the source" in scored["facts_invented"]
    assert scored["composite"] < scoring.score_answer(right, prompt)["composite"]
