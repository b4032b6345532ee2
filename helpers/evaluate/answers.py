"""The answers table the quality scorers read: the benchmark's trial records (columns `model`, `prompt_id`, `text`).

Rows with a true `warmup`, a false `ok` or a non-empty `error` are not answers and are dropped, and an optional
`round` column orders the measured rounds. Scores are whole points in SCORE_RANGE (1-5).
"""
from __future__ import annotations

import pandas as pd

from ..core.config import Prompt, PromptSet

ANSWER_COLUMNS = ("model", "prompt_id", "text")
KEY_COLUMNS = ["model", "prompt_id"]
ROUND_COLUMN = "round"
SCORE_RANGE = (1, 5)


def measured_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers worth scoring: warm-up rows and failed rows (`ok` false or an `error`) dropped."""
    missing = [c for c in ANSWER_COLUMNS if c not in answers.columns]
    if missing:
        raise ValueError(f"answers need the columns {list(ANSWER_COLUMNS)}; missing {missing}")
    keep = pd.Series(True, index=answers.index)
    if "warmup" in answers.columns:
        keep &= ~answers["warmup"].fillna(False).astype(bool)
    if "ok" in answers.columns:
        keep &= answers["ok"].fillna(False).astype(bool)
    if "error" in answers.columns:
        keep &= answers["error"].fillna("").astype(str).str.strip() == ""
    measured = answers[keep].reset_index(drop=True)
    measured["text"] = measured["text"].fillna("").astype(str)
    return measured


def first_measured_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """One answer per model x prompt: the first measured round's (by `round` when present, else row order)."""
    measured = measured_answers(answers)
    if ROUND_COLUMN in measured.columns:
        measured = measured.sort_values(ROUND_COLUMN, kind="stable")
    return measured.drop_duplicates(KEY_COLUMNS, keep="first").sort_index().reset_index(drop=True)


def prompts_by_id(answers: pd.DataFrame, prompt_set: PromptSet) -> dict[str, Prompt]:
    prompts = {p.id: p for p in prompt_set.prompts}
    unknown = sorted(set(answers["prompt_id"]) - set(prompts))
    if unknown:
        raise ValueError(f"answers name prompt ids {unknown} that are not in the prompt set (it has {sorted(prompts)})")
    return prompts


def key_columns(answers: pd.DataFrame) -> list[str]:
    return KEY_COLUMNS + ([ROUND_COLUMN] if ROUND_COLUMN in answers.columns else [])
