"""Reasoning-aware numbers reach the views: the TTFT chart and the comparison table (issue #10, case 1)."""
from __future__ import annotations

import pandas as pd

from helpers.core.config import load_models
from helpers.evaluate import compare
from helpers.present import plots


def _trials(ttft_any: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"model": "m", "prompt_id": "p", "round": range(3), "warmup": False, "ok": True,
                         "ttft_ms": [700.0, 705.0, 710.0], "ttft_any_ms": ttft_any, "e2e_ms": 900.0,
                         "outlier_ttft": False})


def _legend(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def test_ttft_chart_marks_the_first_token_of_a_reasoning_model() -> None:
    assert "first token of any kind (reasoning)" in _legend(plots.ttft_distribution(_trials([300.0, 301.0, 302.0])))
    assert "first token of any kind (reasoning)" not in _legend(plots.ttft_distribution(_trials([700.0, 705.0, 710.0])))


def test_comparison_table_carries_first_token_and_reasoning_tokens() -> None:
    summary = pd.DataFrame({"model": ["m"], "status": ["ok"], "ttft_ms_p50": [700.0], "ttft_any_ms_p50": [300.0],
                            "reasoning_tokens_mean": [20.0], "disk_mb": [1.0]})
    row = compare.comparison_table(summary, None, load_models()).iloc[0]
    assert (row["ttft_ms_p50"], row["ttft_any_ms_p50"], row["reasoning_tokens_mean"]) == (700.0, 300.0, 20.0)
