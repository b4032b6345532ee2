"""ROUGE-L of each answer against the prompt's reference answer: an AUTOMATIC METRIC, next to facet coverage.

ROUGE-L (Lin, 2004, "ROUGE: A Package for Automatic Evaluation of Summaries") scores the longest common
subsequence of words between an answer and a reference: recall = LCS / reference words, precision = LCS / answer
words, F1 their harmonic mean (reported here, 0-1). Computed with Google's `rouge-score` library, the standard
implementation (tokenizer lowercases and keeps [a-z0-9] words; Porter stemmer on). Like facet coverage it reads
words, not meaning: a correct paraphrase scores low, a summary that copies the transcript can score well. The
references are the `reference` fields of prompts.json (written by hand for the meeting-notes set).
"""
from __future__ import annotations

from functools import cache

import pandas as pd
from rouge_score import rouge_scorer

from ..core.config import PromptSet
from .answers import KEY_COLUMNS, ROUND_COLUMN, measured_answers

ROUGE_METHOD = "ROUGE-L F1 vs reference (rouge-score, stemmed): automatic metric"


@cache
def _scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 (0-1) of `answer` against `reference`; 0 for an empty answer."""
    return float(_scorer().score(reference, answer)["rougeL"].fmeasure)


def rouge_scores(answers: pd.DataFrame, prompt_set: PromptSet) -> pd.DataFrame:
    """ROUGE-L of every measured answer (see `answers.measured_answers`) whose prompt has a reference.

    Columns: model, prompt_id, [round], rouge_l (0-1), rouge_method. Prompts without a reference give no row;
    a prompt id the set does not have raises ValueError.
    """
    measured = measured_answers(answers)
    references = {p.id: p.reference for p in prompt_set.prompts}
    unknown = sorted(set(measured["prompt_id"]) - set(references))
    if unknown:
        raise ValueError(f"answers name prompt ids {unknown} that are not in the prompt set")
    measured = measured[[bool(references[pid]) for pid in measured["prompt_id"]]]
    key = KEY_COLUMNS + ([ROUND_COLUMN] if ROUND_COLUMN in measured.columns else [])
    scores = measured[key].copy()
    scores["rouge_l"] = [rouge_l(text, references[pid]) for pid, text in zip(measured["prompt_id"], measured["text"])]
    scores["rouge_method"] = ROUGE_METHOD
    return scores.reset_index(drop=True)


def rouge_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean ROUGE-L over prompts (each prompt's rounds averaged first) and how many prompts had one."""
    if scores.empty:
        return pd.DataFrame(columns=["model", "mean_rouge_l", "n_rouge_prompts"])
    per_prompt = scores.groupby(KEY_COLUMNS, sort=False)["rouge_l"].mean()
    summary = per_prompt.groupby(level="model", sort=False).agg(mean_rouge_l="mean", n_rouge_prompts="size")
    return summary.reset_index()
