"""The quality tables notebook 05 teaches with: one calibration pair scored by every scorer, each scorer's
calibrated accuracy, and what each scorer costs in time per answer beside what it buys.

`pair_table` scores one labelled pair (a right answer and a wrong one that uses the right words) with every
scorer of `evaluate.scoring.score_answer`, so the notebook can show which scorers rank it right. `accuracy_tables`
turns `calibration/accuracy.json` (written by `benchmarks/quality_calibration.py`) into percentages per scorer and
split, and per kind of pair; a tie is not right. `cost_table` puts, per scorer, the share of calibration pairs it
ranks right beside the wall time it took per answer, measured here on the run's own answers by calling each
scorer's public function of `helpers.evaluate` once per answer it applies to (`time_scorers`). The judge's time is
what the notebook's judge cell measured (`judge_seconds`); its accuracy is read from accuracy.json's `judges`
entries when the judge was calibrated, else it is missing and `note` says how to measure it. Timings on a shared
machine are noisy: they show orders of magnitude (microseconds, milliseconds, seconds), not exact figures.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ..core.config import Prompt, PromptSet
from ..evaluate import checks, code_tests, facts, scoring
from ..evaluate.answers import measured_answers
from ..evaluate.facets import facet_coverage
from ..evaluate.rouge import rouge_l

PAIR_COLUMNS = ["scorer", "better", "worse", "better_minus_worse"]
COST_COLUMNS = ["scorer", "reads", "pairs_right_pct", "held_out_right_pct", "ms_per_answer", "answers_timed", "note"]
JUDGE_CALIBRATION = "python -m benchmarks.quality_calibration --judge {judge}"

# scorer -> (what it reads, applies to the prompt?, the call timed, why it does not apply)
_Scorer = tuple[str, Callable[[Prompt], bool], Callable[[str, Prompt], object], str]
SCORERS: dict[str, _Scorer] = {
    "facet_score": ("keywords: accepted words of each key point", lambda p: bool(p.facets),
                    lambda text, p: facet_coverage(text, p.facets), "no facets in this set"),
    "rouge_l": ("keywords: word sequence shared with a reference", lambda p: bool(p.reference),
                lambda text, p: rouge_l(text, p.reference), "no reference answers in this set"),
    "check_score": ("format and instruction checks a program decides", lambda p: bool(p.checks),
                    lambda text, p: checks.run_checks(text, p), "no checks in this set"),
    "code_score": ("the answer's code, run against test cases in a sandbox", lambda p: p.code is not None,
                   lambda text, p: code_tests.run_answer(text, p.code), "no code prompts in this set"),
    "fact_score": ("each fact: stated, missing or contradicted", lambda p: bool(p.facts),
                   lambda text, p: facts.grade_facts(text, p), "no facts listed in this set"),
    "composite": ("all of the above, combined (scoring.score_answer)", lambda p: True,
                  lambda text, p: scoring.score_answer(text, p), ""),
}


def pair_table(pair: Mapping[str, Any], prompt: Prompt) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(PAIR_COLUMNS: per scorer with a value for this prompt, both sides' scores and better minus worse (> 0: the
    scorer ranks the pair right; 0: a tie); per side: facts not stated (`facts_detail`) and failed checks) of one
    calibration pair (`calibration.load_pairs()` row: better, worse, better_finish, worse_finish)."""
    scored = {side: scoring.score_answer(pair[side], prompt, scoring.is_truncated({"finish": pair.get(f"{side}_finish")}))
              for side in ("better", "worse")}
    rows = [{"scorer": name, "better": scored["better"][name], "worse": scored["worse"][name]}
            for name in scoring.SCORER_COLUMNS
            if scored["better"][name] is not None and scored["worse"][name] is not None]
    scores = pd.DataFrame(rows, columns=PAIR_COLUMNS[:3])
    scores["better_minus_worse"] = scores["better"].astype(float) - scores["worse"].astype(float)
    detail = pd.DataFrame([{"side": side, "facts_not_stated": scored[side]["facts_detail"],
                            "checks_failed": scored[side]["checks_failed"]} for side in ("better", "worse")])
    return scores, detail


def accuracy_tables(measured: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scorer x split: dev_pct, test_pct, all_pct, sorted by all_pct, best first; kind x scorer: % of all pairs
    of that kind ranked right) from `calibration.load_accuracy()`. A tie counts as not right."""
    rows = pd.DataFrame(measured["rows"])
    rows["accuracy"] = 100.0 * pd.to_numeric(rows["accuracy"], errors="coerce")
    overall = rows[rows["kind"] == "all"].pivot(index="scorer", columns="split", values="accuracy")
    overall = overall.reindex(columns=["dev", "test", "all"]).add_suffix("_pct").sort_values("all_pct", ascending=False)
    by_kind = rows[(rows["split"] == "all") & (rows["kind"] != "all")].pivot(index="kind", columns="scorer",
                                                                             values="accuracy")
    by_kind = by_kind.reindex(columns=[s for s in overall.index if s in by_kind.columns])
    by_kind.columns.name = None
    overall.columns.name = None
    return overall, by_kind


def _accuracy(measured: Mapping[str, Any] | None, scorer: str, split: str) -> float | None:
    rows = (measured or {}).get("rows", [])
    found = [r["accuracy"] for r in rows if r["scorer"] == scorer and r["split"] == split and r["kind"] == "all"]
    return 100.0 * found[0] if found and found[0] is not None else None


def _judge_accuracy(measured: Mapping[str, Any] | None, judge: str) -> tuple[float | None, str]:
    """(share of pairs right in %, the subset it was measured on) of `judge`'s holistic mode, from accuracy.json's
    `judges` entries; (None, "") when it was never calibrated."""
    for entry in ((measured or {}).get("judges") or {}).values():
        if entry.get("judge") == judge:
            value = _accuracy(entry, "judge_holistic", "all")
            if value is not None:
                return value, f"{len(entry.get('pairs', []))} {entry.get('split', '')} pairs"
    return None, ""


def time_scorers(answers: pd.DataFrame, prompt_set: PromptSet) -> dict[str, tuple[float | None, int]]:
    """Per scorer of SCORERS: (mean wall seconds per answer, answers timed) over the measured answers
    (`answers.measured_answers`: model, prompt_id, text) whose prompt the scorer applies to; (None, 0) when it
    applies to none. ValueError for a prompt id the set does not have."""
    prompts = {p.id: p for p in prompt_set.prompts}
    rows = measured_answers(answers)
    unknown = sorted(set(rows["prompt_id"].astype(str)) - set(prompts))
    if unknown:
        raise ValueError(f"answers name prompt ids {unknown} that are not in the prompt set")
    timed: dict[str, tuple[float | None, int]] = {}
    for name, (_, applies, call, _) in SCORERS.items():
        seconds, count = 0.0, 0
        for text, prompt_id in zip(rows["text"], rows["prompt_id"].astype(str)):
            prompt = prompts[prompt_id]
            if not applies(prompt):
                continue
            started = time.perf_counter()
            call(str(text or ""), prompt)
            seconds += time.perf_counter() - started
            count += 1
        timed[name] = (seconds / count if count else None, count)
    return timed


def cost_table(timed: Mapping[str, tuple[float | None, int]], measured: Mapping[str, Any] | None,
               judge: str | None = None, judge_seconds: float | None = None, judged: int = 0) -> pd.DataFrame:
    """COST_COLUMNS, one row per scorer (and the judge when `judge` is given): what it reads, its share of
    calibration pairs ranked right (all, and held-out test; %), ms per answer here, answers timed and a note
    (why a value is missing). `timed`: `time_scorers`; `measured`: `calibration.load_accuracy()`;
    `judge_seconds`: the judge's mean seconds per answer, measured over `judged` answers."""
    rows = []
    for name, (reads, _, _, missing) in SCORERS.items():
        seconds, count = timed.get(name, (None, 0))
        rows.append({"scorer": name, "reads": reads, "pairs_right_pct": _accuracy(measured, name, "all"),
                     "held_out_right_pct": _accuracy(measured, name, "test"),
                     "ms_per_answer": None if seconds is None else 1000 * seconds, "answers_timed": count,
                     "note": "" if count else missing})
    if judge:
        accuracy, subset = _judge_accuracy(measured, judge)
        note = (f"holistic grade; accuracy on {subset}" if accuracy is not None else
                f"not calibrated on the pairs yet: {JUDGE_CALIBRATION.format(judge=judge)}")
        rows.append({"scorer": f"judge ({judge})", "reads": "a model's 1-5 grade of the answer",
                     "pairs_right_pct": accuracy, "held_out_right_pct": None,
                     "ms_per_answer": None if judge_seconds is None else 1000 * judge_seconds,
                     "answers_timed": judged, "note": note if judge_seconds is not None else note + "; not run here"})
    if measured is None:
        for row in rows:
            row["note"] = "; ".join(filter(None, [row["note"], "no calibration/accuracy.json: accuracy unmeasured"]))
    return pd.DataFrame(rows, columns=COST_COLUMNS)
