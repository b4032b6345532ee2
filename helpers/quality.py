"""Answer quality: a facet-coverage HEURISTIC, manual annotation, and a model as judge, with their agreement.

Three ways to score an answer 1-5, each labelled for what it is:

- Facet coverage (`score_answers`): a SUBSTRING HEURISTIC. Each prompt in prompts.json lists facets (key points a
  good answer names) with accepted lowercase variants; a facet counts as covered when any variant occurs in the
  answer. Cheap and repeatable, but blind to meaning: a wrong answer that names the right words scores high, and a
  correct paraphrase that uses none of the variants scores low.
- Manual annotation (`export_annotation_stub` -> a person fills in a CSV -> `import_annotations`): the reference.
- Judge (`judge_answers`): a second model grades each answer against the facets in a strict format. A verdict
  that cannot be parsed is recorded as MISSING, never replaced by a default score.

Answers come as a DataFrame with columns `model`, `prompt_id`, `text` (the benchmark's trial records); rows with a
true `warmup`, a false `ok` or a non-empty `error` are not answers and are dropped, and an optional `round`
column orders the measured rounds.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import READ_ENCODING, Facet, Prompt, PromptSet
from .errors import ClearError
from .present.progress import steps
from .reasoning import visible_answer
from .runtime import load
from .timing import time_inprocess_chat

if TYPE_CHECKING:
    from foundry_local_sdk import IModel

FACET_METHOD = "substring heuristic"
ANSWER_COLUMNS = ("model", "prompt_id", "text")
KEY_COLUMNS = ["model", "prompt_id"]
ROUND_COLUMN = "round"
ANNOTATION_COLUMNS = ["model", "prompt_id", "response", "score", "notes"]
SCORE_RANGE = (1, 5)
DEFAULT_JUDGE_MAX_TOKENS = 64

_TYPOGRAPHIC = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
        "\u2044": "/", "\u2215": "/",
    }
)


class AnnotationError(ClearError, ValueError):
    """An annotation CSV has a missing column, an invalid score, or a row the kit does not know."""


# --- facet coverage (heuristic) ---------------------------------------------------------------------------------


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


def _prompts_by_id(answers: pd.DataFrame, prompt_set: PromptSet) -> dict[str, Prompt]:
    prompts = {p.id: p for p in prompt_set.prompts}
    unknown = sorted(set(answers["prompt_id"]) - set(prompts))
    if unknown:
        raise ValueError(f"answers name prompt ids {unknown} that are not in the prompt set (it has {sorted(prompts)})")
    return prompts


def _key_columns(answers: pd.DataFrame) -> list[str]:
    return KEY_COLUMNS + ([ROUND_COLUMN] if ROUND_COLUMN in answers.columns else [])


def score_answers(answers: pd.DataFrame, prompt_set: PromptSet) -> pd.DataFrame:
    """Facet-coverage score (HEURISTIC, see `facet_coverage`) of every measured answer.

    Columns: model, prompt_id, [round], text, facet_score (1-5, missing for a prompt without facets),
    facet_coverage (0-1), n_facets, facets_matched, facets_missed (lists of facet names), facet_method.
    """
    measured = measured_answers(answers)
    prompts = _prompts_by_id(measured, prompt_set)
    results = [facet_coverage(text, prompts[pid].facets) for pid, text in zip(measured["prompt_id"], measured["text"])]
    scores = measured[_key_columns(measured) + ["text"]].copy()
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


# --- manual annotation ------------------------------------------------------------------------------------------


def export_annotation_stub(scores_or_answers: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a CSV for a person to score: model, prompt_id, response, score (empty; 1-5), notes.

    One row per model x prompt, with the first measured round's answer. The heuristic scores are deliberately
    left out, so they cannot anchor the annotator. Refuses to overwrite an existing file (it may hold a person's
    work) unless `overwrite=True`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists and may hold annotations; pass overwrite=True to replace it")
    first = first_measured_answers(scores_or_answers)
    stub = pd.DataFrame(
        {"model": first["model"], "prompt_id": first["prompt_id"], "response": first["text"], "score": "", "notes": ""}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    stub.to_csv(path, index=False, encoding="utf-8-sig")  # the BOM lets Excel read UTF-8
    return path


def _parse_whole_score(value: str) -> int | None:
    """An integer in SCORE_RANGE ("4", "4.0"), else None."""
    match = re.fullmatch(r"\s*(\d+)(?:\.0+)?\s*", value)
    if not match:
        return None
    number = int(match.group(1))
    return number if SCORE_RANGE[0] <= number <= SCORE_RANGE[1] else None


def import_annotations(
    path: str | Path, prompt_set: PromptSet | None = None, models: Iterable[str] | None = None
) -> pd.DataFrame:
    """Read a filled annotation CSV: columns model, prompt_id, manual_score (nullable Int, 1-5), manual_notes.

    Empty scores stay missing (not yet annotated). Every problem is collected and raised as one AnnotationError
    naming the file and the row as a spreadsheet counts it (header = row 1): a score that is not a whole number
    1-5, a prompt id not in `prompt_set`, a model not in `models`, or a model x prompt annotated twice.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding=READ_ENCODING)
    missing = [c for c in ("model", "prompt_id", "score") if c not in table.columns]
    if missing:
        raise AnnotationError(f"{path}: missing column(s) {missing}; the file needs {ANNOTATION_COLUMNS}")
    if "notes" not in table.columns:
        table["notes"] = ""
    known_prompts = {p.id for p in prompt_set.prompts} if prompt_set is not None else None
    known_models = set(models) if models is not None else None
    problems: list[str] = []
    first_row: dict[tuple[str, str], int] = {}
    records: list[dict[str, object]] = []
    for index, row in table.iterrows():
        row_number = int(index) + 2
        if not "".join(row.astype(str)).strip():
            continue  # a blank line
        model, prompt_id, raw_score = row["model"].strip(), row["prompt_id"].strip(), row["score"].strip()
        if not model or not prompt_id:
            problems.append(f"row {row_number}: model and prompt_id must both be filled in")
            continue
        if known_models is not None and model not in known_models:
            problems.append(f"row {row_number}: unknown model '{model}'; expected one of {sorted(known_models)}")
        if known_prompts is not None and prompt_id not in known_prompts:
            problems.append(f"row {row_number}: unknown prompt_id '{prompt_id}'; expected one of {sorted(known_prompts)}")
        if (model, prompt_id) in first_row:
            problems.append(
                f"row {row_number}: model '{model}' / prompt_id '{prompt_id}' is already annotated in row "
                f"{first_row[model, prompt_id]}"
            )
        first_row.setdefault((model, prompt_id), row_number)
        score = _parse_whole_score(raw_score) if raw_score else None
        if raw_score and score is None:
            problems.append(
                f"row {row_number}: score '{raw_score}' is not allowed; use a whole number from "
                f"{SCORE_RANGE[0]} to {SCORE_RANGE[1]}, or leave it empty (not yet annotated)"
            )
        records.append({"model": model, "prompt_id": prompt_id, "manual_score": score, "manual_notes": row["notes"]})
    if problems:
        raise AnnotationError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    annotations = pd.DataFrame(records, columns=["model", "prompt_id", "manual_score", "manual_notes"])
    annotations["manual_score"] = annotations["manual_score"].astype("Int64")
    return annotations


def merge_annotations(scores: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """`scores` with manual_score and manual_notes added per model x prompt (missing where not annotated)."""
    columns = KEY_COLUMNS + ["manual_score", "manual_notes"]
    return scores.merge(annotations[columns], on=KEY_COLUMNS, how="left", validate="many_to_one")


# --- model as judge ---------------------------------------------------------------------------------------------

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
    judge_model: "IModel",
    max_tokens: int = DEFAULT_JUDGE_MAX_TOKENS,
) -> pd.DataFrame:
    """Grade every measured answer with `judge_model`, in-process at temperature 0 (loading the judge if needed).

    Columns: model, prompt_id, [round], judge_score (nullable Int: missing when the verdict is unparseable or the
    request failed), judge_verdict (the raw reply), judge_error, judge_model, self_judged (the judge graded its
    own answer: expect a bias).
    """
    measured = measured_answers(answers)
    prompts = _prompts_by_id(measured, prompt_set)
    verdicts, errors = [], []
    with steps(len(measured) + 1, "judge") as bar:
        bar.doing(judge_model.alias, "loading the judge")
        load(judge_model)
        bar.done()
        for number, (model, prompt_id, text) in enumerate(zip(measured["model"], measured["prompt_id"],
                                                               measured["text"]), 1):
            bar.doing(judge_model.alias, f"grading answer {number}/{len(measured)}: {model} · {prompt_id}")
            trial = time_inprocess_chat(judge_model, judge_messages(prompts[prompt_id], text), max_tokens=max_tokens,
                                        temperature=0.0)
            verdicts.append(trial.text)
            errors.append(trial.error)
            bar.done()
    judged = measured[_key_columns(measured)].copy()
    judged["judge_score"] = pd.array(
        [None if error else parse_verdict(verdict) for verdict, error in zip(verdicts, errors)], dtype="Int64"
    )
    judged["judge_verdict"] = verdicts
    judged["judge_error"] = errors
    judged["judge_model"] = judge_model.alias
    judge_names = {_bare_name(judge_model.alias), _bare_name(judge_model.id)}
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


# --- the judge's reliability: parse rate and agreement with the facet heuristic ---------------------------------


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
