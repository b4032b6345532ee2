"""Per-model quality with its uncertainty: the mean quality_score over prompts with a bootstrap CI, and whether
two models can be told apart on quality at all.

Each prompt counts once (its rounds averaged first): the prompts are the sample, so the 95% percentile-bootstrap
interval of the mean over prompts (`stats.mean_ci95`, fixed seed) says how much the mean would move with another
set of prompts of the same kind. Two models whose intervals overlap cannot be separated on quality by this data.
`prompts_needed` estimates how many prompts would make intervals of the measured spreads stop overlapping for the
measured difference: n > (1.96 (s_a + s_b) / |d|)^2 (normal approximation of each interval's half-width,
1.96 s / sqrt(n)).
"""
from __future__ import annotations

import math

import pandas as pd

from ..measure.stats import mean_ci95

QUALITY_COLUMNS = ["model", "mean_quality_score", "quality_ci_low", "quality_ci_high", "quality_sd", "n_prompts",
                   "n_answers", "n_cut", "n_looped", "n_overran", "quality_method"]
Z95 = 1.96


def model_quality(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model from `scoring.score_answers` rows: mean_quality_score (1-5, prompts weighted equally), its 95%
    bootstrap CI over prompts, quality_sd (sd of the per-prompt means), n_prompts, n_answers, n_cut (answers cut at
    the token cap while still answering), n_looped (cut while repeating themselves), n_overran (cut after breaking the prompt's length limit) and
    quality_method."""
    rows = []
    for model, group in scores.groupby("model", sort=False):
        per_prompt = group.groupby("prompt_id")["quality_score"].mean().dropna().astype(float)
        ci = mean_ci95(per_prompt)
        rows.append({
            "model": model, "mean_quality_score": per_prompt.mean() if len(per_prompt) else math.nan,
            "quality_ci_low": ci[0] if ci else math.nan, "quality_ci_high": ci[1] if ci else math.nan,
            "quality_sd": per_prompt.std(ddof=1) if len(per_prompt) > 1 else math.nan,
            "n_prompts": len(per_prompt), "n_answers": len(group), "n_cut": int(group["truncated"].astype(bool).sum()),
            "n_looped": int(group["looped"].astype(bool).sum()) if "looped" in group else 0,
            "n_overran": int(group["overran"].astype(bool).sum()) if "overran" in group else 0,
            "quality_method": group["quality_method"].iloc[0],
        })
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def overlap(a: pd.Series, b: pd.Series) -> bool | None:
    """True when the two models' quality CIs overlap; None when either has none."""
    bounds = [a.get("quality_ci_low"), a.get("quality_ci_high"), b.get("quality_ci_low"), b.get("quality_ci_high")]
    if any(v is None or pd.isna(v) for v in bounds):
        return None
    return not (bounds[0] > bounds[3] or bounds[2] > bounds[1])


def prompts_needed(a: pd.Series, b: pd.Series) -> int | None:
    """About how many prompts would separate the two intervals at the measured difference and spreads (None when
    the difference is 0 or a spread is unknown)."""
    difference = abs(float(a["mean_quality_score"]) - float(b["mean_quality_score"]))
    spread = float(a.get("quality_sd", math.nan)) + float(b.get("quality_sd", math.nan))
    if difference == 0 or math.isnan(spread) or math.isnan(difference):
        return None
    return math.ceil((Z95 * spread / difference) ** 2) + 1


def separation_text(ranked: pd.DataFrame) -> str:
    """One sentence per model whose quality CI overlaps the recommended (first) model's: the data cannot separate
    them on quality, and about how many prompts it would take."""
    if len(ranked) < 2 or "quality_ci_low" not in ranked:
        return ""
    best = ranked.iloc[0]
    sentences = []
    for _, other in ranked.iloc[1:].iterrows():
        if overlap(best, other):
            needed = prompts_needed(best, other)
            more = (f"about {needed} prompts (now {int(best['n_prompts'])}) would be needed to tell them apart at "
                    "this difference" if needed else "no difference was measured, so more prompts alone would not "
                    "separate them")
            sentences.append(
                f"On quality the data cannot separate {best['model']} ({best['mean_quality_score']:.2f}, 95% CI "
                f"{best['quality_ci_low']:.2f}-{best['quality_ci_high']:.2f}) from {other['model']} "
                f"({other['mean_quality_score']:.2f}, {other['quality_ci_low']:.2f}-{other['quality_ci_high']:.2f}): "
                f"{more}.")
    return " ".join(sentences)
