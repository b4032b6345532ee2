"""A model as judge: a second model grades each answer 1-5 against the prompt's facets in a strict format, and
how far to trust it (parse rate, agreement with a person and with the facet heuristic).

A verdict that cannot be parsed is recorded as MISSING, never replaced by a default score.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.config import Prompt, PromptSet
from ..core.progress import steps
from ..measure.reasoning import visible_answer
from .answers import KEY_COLUMNS, SCORE_RANGE, key_columns, measured_answers, prompts_by_id

if TYPE_CHECKING:
    from ..serve.runners import Runner

DEFAULT_JUDGE_MAX_TOKENS = 64

JUDGE_SYSTEM = (
    "You are a strict grader. Score the answer from 1 (misses every key point) to 5 (covers every key point). "
    "Your reply must start with SCORE: followed by the number."
)
JUDGE_FORMAT = "Reply in this format:\nSCORE: <1-5>\nREASON: <one short sentence>"

_VERDICT = re.compile(r"\bscore\b\s*[:=]?\s*(\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?", re.IGNORECASE)


def judge_messages(prompt: Prompt, answer: str) -> list[dict[str, str]]:
    """The judge's chat messages (system + user) for one answer to `prompt`.

    The answer (its visible part: `<think>` blocks removed) comes first and the format instruction last, right
    before the judge replies. The rubric is the prompt's facets (by name), or its reference answer when it has no
    facets.
    """
    parts = [f"Answer: {visible_answer(answer)}", f"Question it answers: {prompt.text}"]
    if prompt.facets:
        parts.append("Key points: " + "; ".join(facet.name for facet in prompt.facets))
    elif prompt.reference:
        parts.append(f"Reference answer: {prompt.reference}")
    parts.append(JUDGE_FORMAT)
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_verdict(text: str) -> int | None:
    """The judge's final verdict ("SCORE: 4", "**Score:** 4", "score = 4/5"), or None when it is not clear.

    A judge (a reasoning one above all) may weigh other scores before it decides: the LAST "score" label outside
    `<think>` blocks is the verdict. None for: no "score" label followed by a number, a final number outside 1-5
    or not whole (4.5), a scale other than 5 ("7/10"). A bare number without the label is not accepted.
    """
    plain = re.sub(r"[*_`#]", "", visible_answer(text))
    labelled = _VERDICT.findall(plain)
    if not labelled:
        return None
    number, out_of = labelled[-1]
    value = float(number)
    if (out_of and int(out_of) != SCORE_RANGE[1]) or not value.is_integer():
        return None
    return int(value) if SCORE_RANGE[0] <= value <= SCORE_RANGE[1] else None


def _bare_name(name: str) -> str:
    return name.split(":")[0]


def judge_answers(
    answers: pd.DataFrame,
    prompt_set: PromptSet,
    judge: Runner,
    max_tokens: int = DEFAULT_JUDGE_MAX_TOKENS,
) -> pd.DataFrame:
    """Grade every measured answer with the `judge` runner (`runners.open_runner(name)`: in-process, the kit's web
    service, the Foundry Local app's service or any OpenAI-compatible server) at temperature 0, loading it first.

    Columns: model, prompt_id, [round], judge_score (nullable Int: missing when the verdict is unparseable or the
    request failed), judge_verdict (the raw reply), judge_error, judge_model, self_judged (the judge graded its
    own answer: expect a bias). Loading raises what the runner raises (memory_fit.ModelTooLargeError, ...).
    """
    measured = measured_answers(answers)
    prompts = prompts_by_id(measured, prompt_set)
    verdicts, errors = [], []
    with steps(len(measured) + 1, "judge") as bar:
        bar.doing(judge.name, "loading the judge")
        judge.load()
        bar.done()
        for number, (model, prompt_id, text) in enumerate(zip(measured["model"], measured["prompt_id"],
                                                               measured["text"]), 1):
            on_token = bar.streaming(judge.name, f"grading answer {number}/{len(measured)}: {model} · {prompt_id}")
            trial = judge.chat(judge_messages(prompts[prompt_id], text), max_tokens=max_tokens, temperature=0.0,
                               on_token=on_token)
            verdicts.append(trial.text)
            errors.append(trial.error)
            bar.done()
    judged = measured[key_columns(measured)].copy()
    judged["judge_score"] = pd.array(
        [None if error else parse_verdict(verdict) for verdict, error in zip(verdicts, errors)], dtype="Int64"
    )
    judged["judge_verdict"] = verdicts
    judged["judge_error"] = errors
    judged["judge_model"] = judge.name
    judge_names = {_bare_name(judge.name), _bare_name(judge.model_id)}
    judged["self_judged"] = [_bare_name(m) in judge_names for m in measured["model"]]
    return judged


def judge_agreement(judge_scores: pd.DataFrame, manual_scores: pd.DataFrame) -> dict[str, float | int | None]:
    """How well the judge agrees with the manual scores, over model x prompt pairs that have a manual score.

    n: pairs with both scores; n_judge_missing: manually scored pairs without a judge score (left out, not
    counted as disagreement); exact and within_1: agreement rates; mean_abs_diff; spearman: rank correlation
    (None when undefined: fewer than two pairs or a constant column).
    """
    manual = manual_scores[KEY_COLUMNS + ["manual_score"]].dropna(subset=["manual_score"]).drop_duplicates()
    paired = judge_scores[KEY_COLUMNS + ["judge_score"]].merge(manual, on=KEY_COLUMNS, validate="many_to_one")
    both = paired.dropna(subset=["judge_score"])
    result: dict[str, float | int | None] = {
        "n": len(both),
        "n_judge_missing": len(paired) - len(both),
        "exact": None,
        "within_1": None,
        "mean_abs_diff": None,
        "spearman": None,
    }
    if both.empty:
        return result
    pairs = both[["judge_score", "manual_score"]].astype(float)
    diff = (pairs["judge_score"] - pairs["manual_score"]).abs()
    # DataFrame.corr ranks without scipy (Series.corr(method="spearman") imports scipy).
    rho = pairs.corr(method="spearman").iloc[0, 1]
    result |= {
        "exact": float((diff == 0).mean()),
        "within_1": float((diff <= 1).mean()),
        "mean_abs_diff": float(diff.mean()),
        "spearman": None if np.isnan(rho) else float(rho),
    }
    return result


def judge_parse_rate(judged: pd.DataFrame) -> pd.DataFrame:
    """Per judged model, and `all`: answers judged (n), requests that failed (n_errors), verdicts parsed into a
    score (n_parsed) and parse_rate = n_parsed / (n - n_errors) (None when no request succeeded).

    A judge that cannot follow the format cannot grade: read its scores only where the parse rate is high
    (the kit aims at >= 90% on the meeting-notes set)."""
    def rates(frame: pd.DataFrame) -> dict[str, float | int | None]:
        errors = int(frame["judge_error"].fillna("").astype(str).str.strip().ne("").sum())
        parsed = int(frame["judge_score"].notna().sum())
        answered = len(frame) - errors
        return {"n": len(frame), "n_errors": errors, "n_parsed": parsed,
                "parse_rate": parsed / answered if answered else None}

    rows = [{"model": model, **rates(group)} for model, group in judged.groupby("model", sort=False)]
    rows.append({"model": "all", **rates(judged)})
    return pd.DataFrame(rows, columns=["model", "n", "n_errors", "n_parsed", "parse_rate"])


def judge_facet_agreement(judged: pd.DataFrame, scores: pd.DataFrame) -> dict[str, float | int | None]:
    """`judge_agreement` of the judge with the facet heuristic instead of a person: per model x prompt, the facet
    score (mean over rounds, rounded to a whole point) against the judge's score. Two automatic scores agreeing is
    no proof of quality; strong disagreement says at least one of them misreads the answers."""
    facet = scores.dropna(subset=["facet_score"]).groupby(KEY_COLUMNS, as_index=False)["facet_score"].mean()
    facet["manual_score"] = facet["facet_score"].astype(float).round()
    return judge_agreement(judged, facet)
