"""Facet coverage: a SUBSTRING HEURISTIC score of an answer, 1-5.

Each prompt in prompts.json lists facets (key points a good answer names) with accepted lowercase variants; a
facet counts as covered when any variant occurs in the answer. Cheap and repeatable, but blind to meaning: a wrong
answer that names the right words scores high, and a correct paraphrase that uses none of the variants scores low.
The reference is manual annotation (`annotations`); a model as judge is in `judge`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from ..core.config import Facet, PromptSet
from ..measure.reasoning import visible_answer
from .answers import KEY_COLUMNS, key_columns, measured_answers, prompts_by_id

FACET_METHOD = "substring heuristic"

_TYPOGRAPHIC = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
        "\u2044": "/", "\u2215": "/",
    }
)


@dataclass(frozen=True)
class FacetCoverage:
    """Which facets one answer covers, by the substring heuristic; `score` is None for a prompt without facets."""

    matched: list[str]
    missed: list[str]

    @property
    def coverage(self) -> float | None:
        total = len(self.matched) + len(self.missed)
        return len(self.matched) / total if total else None

    @property
    def score(self) -> float | None:
        """1 + 4 * coverage, rounded to one decimal: 1.0 (no facet) ... 5.0 (every facet)."""
        return None if self.coverage is None else round(1 + 4 * self.coverage, 1)


def normalize_text(text: str) -> str:
    """Lowercase; unify Unicode look-alikes (dashes, quotes, slashes, non-breaking spaces); collapse whitespace.

    Punctuation is kept (variants such as "3/14", "1.50", "**2" or "go/no-go" depend on it); only spaces around a
    slash are dropped, so "3 / 14" reads as "3/14".
    """
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC).lower()
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ?/ ?", "/", text)


def facet_coverage(answer: str, facets: Iterable[Facet]) -> FacetCoverage:
    """HEURISTIC: a facet is covered when any accepted variant occurs in the answer (after `normalize_text`).

    Only the visible answer counts: `<think>` reasoning blocks are removed first (`reasoning.visible_answer`), so
    key words a reasoning model merely considered score nothing. The answer is padded with a space at each end,
    so a variant with a trailing space ("hi ", "def ") also matches at the very end of the answer.
    """
    haystack = f" {normalize_text(visible_answer(answer))} "
    matched: list[str] = []
    missed: list[str] = []
    for facet in facets:
        hit = any(normalize_text(variant) in haystack for variant in facet.accept)
        (matched if hit else missed).append(facet.name)
    return FacetCoverage(matched=matched, missed=missed)


def score_answers(answers: pd.DataFrame, prompt_set: PromptSet) -> pd.DataFrame:
    """Facet-coverage score (HEURISTIC, see `facet_coverage`) of every measured answer.

    Columns: model, prompt_id, [round], text, facet_score (1-5, missing for a prompt without facets),
    facet_coverage (0-1), n_facets, facets_matched, facets_missed (lists of facet names), facet_method.
    """
    measured = measured_answers(answers)
    prompts = prompts_by_id(measured, prompt_set)
    results = [facet_coverage(text, prompts[pid].facets) for pid, text in zip(measured["prompt_id"], measured["text"])]
    scores = measured[key_columns(measured) + ["text"]].copy()
    scores["facet_score"] = pd.array([r.score for r in results], dtype="Float64")
    scores["facet_coverage"] = pd.array([r.coverage for r in results], dtype="Float64")
    scores["n_facets"] = [len(r.matched) + len(r.missed) for r in results]
    scores["facets_matched"] = [r.matched for r in results]
    scores["facets_missed"] = [r.missed for r in results]
    scores["facet_method"] = FACET_METHOD
    return scores


def quality_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean facet score and coverage, each prompt weighted equally (its rounds averaged first).

    `n` counts the scored answers, `n_prompts` the prompts they cover; answers to prompts without facets are
    not scored and not counted.
    """
    scored = scores.dropna(subset=["facet_score"])
    per_prompt = scored.groupby(KEY_COLUMNS, sort=False).agg(
        score=("facet_score", "mean"), coverage=("facet_coverage", "mean"), n=("facet_score", "size")
    )
    summary = per_prompt.groupby(level="model", sort=False).agg(
        mean_facet_score=("score", "mean"),
        facet_coverage=("coverage", "mean"),
        n=("n", "sum"),
        n_prompts=("n", "size"),
    )
    summary["facet_method"] = FACET_METHOD
    return summary.reset_index()
