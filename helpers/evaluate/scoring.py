"""One scoring function for answers from anywhere: every scorer per answer, and `quality_score` (1-5).

`score_answers(answers, prompt_set)` takes a DataFrame with columns model, prompt_id, text (optional: round,
finish or finish_reason, truncated, output_tokens with max_tokens, and the benchmark's warmup/ok/error, which
drop rows as in `quality.measured_answers`) and returns one row per answer with a column per scorer:

| column | scorer | range |
|---|---|---|
| facet_score | `quality.facet_coverage`: substring HEURISTIC over facets | 1-5 |
| rouge_l | `rouge.rouge_l` against the reference: word overlap | 0-1 |
| check_score | `checks`: share of the prompt's instruction checks passed | 0-1 |
| code_score | `code_tests`: share of test cases the answer's code passes in the sandbox | 0-1 |
| fact_score | `facts`: (stated - 2 x (contradicted + invented)) / facts, floored at 0 (invented: see below) | 0-1 |
| composite | code 80% + checks, or facts 70% + checks, or checks, else facets; - 0.005 per novel word | 0-1 |
| judge_score | a judge's grade, when `judged` is given | 1-5 |

Invented facts: what the answer names that its source does not (`checks.unsupported`, on grounded prompts) and
what it denies that its source or reference states (`negations.invented_negations`, on prompts with facts).

`quality_score` (1-5) is the value of the QUALITY scorer (`quality_method` names it): the one with the best
measured pairwise accuracy on the calibration set (`calibration/accuracy.json`, see `evaluate.calibration`),
mapped to 1-5. A cut answer (finish reason `length`, `truncated` true, or output_tokens >= max_tokens) is never
scored as complete: its composite is halved (at most 3 of 5) and `truncated` is true — unless it was cut while
repeating itself (`degeneration.is_looped`): then more tokens would not have completed it, `looped` is true,
`truncated` false, and it is a failed answer, quality 1 by every method; or unless it was cut after it had already
run past the prompt's own length limit (`checks.over_length`: nine sentences where two were asked): then `overran`
is true, `truncated` false, and it is scored as it stands, its length check failed.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..core.config import Prompt, PromptSet
from . import checks, code_tests, degeneration, facts, negations
from .answers import measured_answers
from .facets import facet_coverage
from .rouge import rouge_l

SCORER_COLUMNS = ["facet_score", "rouge_l", "check_score", "code_score", "fact_score", "composite"]
TRUNCATED_FACTOR = 0.5
# A summary's words beyond its source (`checks.novel_words`) cost a little each, up to 10 words: enough to break a
# tie against an answer that adds an unsupported clause, far too little to outweigh one fact (0.05 at most).
NOVEL_WORD_COST, NOVEL_WORDS_COUNTED = 0.005, 10
DEFAULT_QUALITY_SCORER = "composite"
# How each scorer's value becomes a 1-5 quality score.
TO_QUALITY: dict[str, Callable[[float], float]] = {
    "facet_score": lambda v: v, "judge_score": lambda v: v,
    **{name: (lambda v: 1 + 4 * v) for name in ("rouge_l", "check_score", "code_score", "fact_score", "composite")},
}
SCORE_COLUMNS = ["model", "prompt_id", "text", "truncated", "looped", "overran", *SCORER_COLUMNS, "checks_failed", "facts_stated",
                 "facts_missing", "facts_contradicted", "facts_invented", "novel_words", "facts_detail", "code_detail", "quality_score",
                 "quality_method"]


def is_truncated(row: pd.Series | dict) -> bool:
    """True when the answer was cut at the token cap: finish reason `length`, a true `truncated`, or
    output_tokens >= max_tokens."""
    get = row.get
    finish = get("finish") if get("finish") is not None else get("finish_reason")
    if isinstance(finish, str) and finish.strip().lower() == "length":
        return True
    flag = get("truncated")
    if flag is not None and not pd.isna(flag) and str(flag).strip().lower() in ("true", "1", "yes"):
        return True
    tokens, cap = get("output_tokens"), get("max_tokens")
    return all(v is not None and not pd.isna(v) for v in (tokens, cap)) and float(tokens) >= float(cap)


def _composite(fact_value: float | None, check_value: float | None, code_value: float | None,
               facet_value: float | None) -> float | None:
    if code_value is not None:
        return 0.8 * code_value + 0.2 * (check_value if check_value is not None else code_value)
    if fact_value is not None:
        return 0.7 * fact_value + 0.3 * (check_value if check_value is not None else fact_value)
    if check_value is not None:
        return check_value
    return facet_value


def score_answer(text: str, prompt: Prompt, truncated: bool = False) -> dict[str, object]:
    """Every scorer's value for one answer (see the module table; None where the prompt lacks what a scorer
    needs), the failed checks and each fact's status. A cut answer that loops gets looped true, truncated false
    and composite 0; one cut after it broke the prompt's length limit gets overran true, truncated false."""
    looped = truncated and degeneration.is_looped(text)
    overran = truncated and not looped and bool(checks.over_length(text, prompt))
    truncated = truncated and not looped and not overran
    coverage = facet_coverage(text, prompt.facets)
    check_results = checks.run_checks(text, prompt)
    check_value = sum(r.passed for r in check_results) / len(check_results) if check_results else None
    code_result = code_tests.run_answer(text, prompt.code) if prompt.code else None
    fact_results = facts.grade_facts(text, prompt)
    grounded = any(check.kind == "grounded" for check in prompt.checks)
    invented = checks.unsupported(text, prompt) if grounded else []
    if prompt.facts:
        invented += [f"denies the source: {s}" for s in negations.invented_negations(text, prompt)]
    fact_value = facts.fact_score(fact_results, len(invented))
    composite = _composite(fact_value, check_value, code_result.pass_rate if code_result else None,
                           coverage.coverage)
    novel = checks.novel_words(text, prompt) if grounded else []
    if composite is not None:
        composite = max(0.0, composite - NOVEL_WORD_COST * min(len(novel), NOVEL_WORDS_COUNTED))
        if truncated:
            composite *= TRUNCATED_FACTOR
        if looped:
            composite = 0.0
    return {
        "truncated": truncated,
        "looped": looped,
        "overran": overran,
        "facet_score": coverage.score,
        "rouge_l": rouge_l(text, prompt.reference) if prompt.reference else None,
        "check_score": check_value,
        "code_score": code_result.pass_rate if code_result else None,
        "fact_score": fact_value,
        "composite": composite,
        "checks_failed": "; ".join(f"{r.kind}: {r.found}" for r in check_results if not r.passed),
        "facts_stated": sum(r.status == "stated" for r in fact_results),
        "facts_missing": sum(r.status == "missing" for r in fact_results),
        "facts_contradicted": sum(r.status == "contradicted" for r in fact_results),
        "facts_invented": "; ".join(invented),
        "novel_words": len(novel),
        "facts_detail": "; ".join(f"{r.fact_id}: {r.status}" for r in fact_results if r.status != "stated"),
        "code_detail": "; ".join(sorted(set(code_result.details))) if code_result else "",
    }


def quality_value(scores: dict[str, object] | pd.Series, method: str) -> float | None:
    """The 1-5 quality score of one scored answer by `method` (a SCORER_COLUMNS name or judge_score); falls back
    to the composite where that scorer has no value for the prompt; 1 for an answer that looped."""
    if bool(scores.get("looped", False)):
        return 1.0
    for name in (method, DEFAULT_QUALITY_SCORER):
        value = scores.get(name)
        if value is not None and not pd.isna(value):
            return round(float(TO_QUALITY[name](float(value))), 2)
    return None


def score_answers(answers: pd.DataFrame, prompt_set: PromptSet, judged: pd.DataFrame | None = None,
                  method: str = DEFAULT_QUALITY_SCORER) -> pd.DataFrame:
    """One row per measured answer (`quality.measured_answers`), SCORE_COLUMNS (+ round, judge_score when
    given). ValueError naming the prompt ids the set does not have."""
    measured = measured_answers(answers)
    prompts = {p.id: p for p in prompt_set.prompts}
    unknown = sorted(set(measured["prompt_id"].astype(str)) - set(prompts))
    if unknown:
        raise ValueError(f"answers name prompt ids {unknown} that are not in the prompt set (it has {sorted(prompts)})")
    rows = []
    for _, row in measured.iterrows():
        scored = score_answer(row["text"], prompts[str(row["prompt_id"])], is_truncated(row))
        rows.append({"model": row["model"], "prompt_id": row["prompt_id"], "text": row["text"], **scored})
    table = pd.DataFrame(rows, columns=[c for c in SCORE_COLUMNS if c not in ("quality_score", "quality_method")])
    if "round" in measured.columns:
        table.insert(2, "round", measured["round"].to_numpy())
    if judged is not None and not judged.empty:
        verdicts = judged[["model", "prompt_id", "judge_score"]].drop_duplicates(["model", "prompt_id"])
        table = table.merge(verdicts, on=["model", "prompt_id"], how="left")
    for column in SCORER_COLUMNS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    table["quality_score"] = pd.array([quality_value(row, method) for _, row in table.iterrows()], dtype="Float64")
    table["quality_method"] = method
    return table


def cut_note(scores: pd.DataFrame) -> str:
    """How many of the scored answers were cut at the token cap (scored as incomplete), how many looped (scored
    as failures) and how many overran the prompt's length limit first, as one clause for reports and the score
    verb."""
    n = len(scores)
    cut = int(scores["truncated"].astype(bool).sum()) if "truncated" in scores else 0
    looped = int(scores["looped"].astype(bool).sum()) if "looped" in scores else 0
    overran = int(scores["overran"].astype(bool).sum()) if "overran" in scores else 0
    text = (f"{cut} of {n} answers were cut at the token cap and scored as incomplete (at most 3 of 5)" if cut
            else f"none of the {n} answers was cut at the token cap while still answering")
    if looped:
        text += (f"; {looped} repeated themselves until the cap (a loop more tokens would not end) and were scored "
                 "as failures (1 of 5)")
    if overran:
        text += (f"; {overran} reached the cap after running past the prompt's own length limit (more tokens would "
                 "only add to it) and were scored as they stand, failing that check")
    return text
