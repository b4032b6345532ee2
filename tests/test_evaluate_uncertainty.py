"""Per-model quality with a bootstrap CI over prompts, and a recommendation that says when the data cannot
separate two models on quality."""
from __future__ import annotations

import pandas as pd

from helpers.evaluate import uncertainty


def _scores(model, values, cut=0):
    return pd.DataFrame({"model": model, "prompt_id": [f"p{i}" for i in range(len(values))],
                         "quality_score": values, "truncated": [i < cut for i in range(len(values))],
                         "quality_method": "composite"})


def test_model_quality_weighs_prompts_once_and_gives_a_ci():
    rounds = pd.concat([_scores("a", [5.0, 1.0]), _scores("a", [5.0, 3.0], cut=1)])
    table = uncertainty.model_quality(rounds).set_index("model")
    assert table.at["a", "mean_quality_score"] == 3.5  # (5 + mean(1, 3)) / 2
    assert table.at["a", "n_prompts"] == 2 and table.at["a", "n_answers"] == 4 and table.at["a", "n_cut"] == 1
    assert table.at["a", "quality_ci_low"] <= 3.5 <= table.at["a", "quality_ci_high"]


def test_overlapping_intervals_say_the_data_cannot_separate_them():
    close = uncertainty.model_quality(pd.concat([_scores("a", [4.0, 5.0, 3.0, 4.5, 4.0]),
                                                 _scores("b", [3.5, 5.0, 3.0, 4.0, 4.0])]))
    text = uncertainty.separation_text(close)
    assert "cannot separate a" in text and "prompts (now 5)" in text
    far = uncertainty.model_quality(pd.concat([_scores("a", [5.0, 4.8, 4.9, 5.0, 4.7]),
                                               _scores("b", [1.0, 1.2, 1.1, 1.0, 1.3])]))
    assert uncertainty.separation_text(far) == ""
    assert uncertainty.prompts_needed(*[row for _, row in close.iterrows()]) > 5
