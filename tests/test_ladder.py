"""Every bundled model, end to end on the real Foundry Local runtime: it fits, loads and answers.

One short answer each (max 8 tokens), in-process: the rest of the suite uses SmolLM2 where larger models add
nothing. An instruct model must answer the arithmetic; the base model (Gemma 3 270M) only has to continue text.
"""
from __future__ import annotations

import pytest

from helpers.build import bundled
from helpers.measure.timing import time_inprocess_chat
from helpers.serve import runtime

QUESTION = [{"role": "user", "content": "What is 2 + 2? Reply with the number only."}]


@pytest.mark.parametrize("bundle", bundled.BUNDLED, ids=lambda b: b.name)
def test_bundled_model_loads_and_answers(lab, bundle):
    assert bundle.name in lab.bundled, f"{bundle.name} is not built: run `python -m helpers setup`"
    model, _ = runtime.get_model(bundle.name, runtime=lab)
    estimate = runtime.expected_memory(model, lab)
    assert estimate is not None and estimate.kv_cache_mb > 0
    try:
        runtime.load(model)
        answer = time_inprocess_chat(model, QUESTION, max_tokens=8)
    finally:
        runtime.unload(model)
    assert answer.ok and answer.text.strip(), answer.error
    if bundle.instruct:
        assert "4" in answer.text, f"{bundle.name} answered {answer.text!r}"
