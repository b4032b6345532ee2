"""Judge modes beyond the holistic 1-5 grade: a checklist question per fact, and pairwise A-vs-B in both orders.

The holistic judge (`quality.judge_messages` / `judge_answers`) asks a small local model for one 1-5 grade; the
1.5B grades nearly every meeting summary 5/5 (issue #16). Two narrower questions are easier for a small model:

- **Checklist** (`checklist_messages`, `parse_fact_verdict`, `checklist_grade`): one short question per atomic fact
  of the prompt (prompts.json `facts[].text`): does the answer state it (YES), contradict it (CONTRADICTED: another
  owner, date or decision) or not mention it (MISSING)? The reply's first word must be one of the three; any other
  reply is *unparsed*: counted apart and graded as missing, never as a default "yes". The answer's score is
  `facts.fact_score` over the fact states, so a contradiction costs twice a missing fact, as in the rule-based
  fact scorer. A prompt without facts (code, smoke) falls back to the holistic grade, rescaled to 0-1 by
  (grade - 1) / 4 (`HOLISTIC_FALLBACK`).
- **Pairwise** (`pairwise_messages`, `parse_preference`, `pairwise_preference`): both answers to one prompt, "which
  is better: A or B?", asked twice with the answers swapped. A side wins only when both orders pick it; orders
  that disagree (position bias) or an unparsed reply give a tie. Pairwise mode after MT-Bench (Zheng et al. 2023,
  "Judging LLM-as-a-Judge", swap positions and call inconsistent verdicts a tie).

Blind: no message here contains which model wrote an answer; `self_judged` flags an answer graded by the model
that wrote it (the caller knows the author, the judge never does).
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tqdm import tqdm

from ..core.config import Fact, Prompt, PromptsConfig
from ..measure.reasoning import visible_answer
from .facts import FactResult, fact_score
from .judge import judge_messages, parse_verdict

if TYPE_CHECKING:
    import pandas as pd

    from ..serve.runners import Runner

MODES = ("holistic", "checklist", "pairwise")
CHECKLIST_MAX_TOKENS = 8
PAIRWISE_MAX_TOKENS = 8
HOLISTIC_MAX_TOKENS = 16  # the verdict comes first ("must start with SCORE:"); the reason is not read
HOLISTIC_FALLBACK = "holistic grade (g - 1) / 4 for a prompt without facts"

CHECKLIST_SYSTEM = (
    "You check one fact against an answer. Reply with exactly one word: YES if the answer states the fact, "
    "CONTRADICTED if the answer says something different about it (another person, another date, the opposite "
    "decision or claim), MISSING if the answer does not mention it."
)
PAIRWISE_SYSTEM = (
    "You compare two answers to the same question. The better answer is correct (no wrong names, dates, decisions "
    "or claims), complete, and follows the question's instructions. Reply with exactly one letter: A or B."
)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_FACT_WORDS = {"yes": "stated", "contradicted": "contradicted", "missing": "missing"}

Preference = Literal["a", "b", "tie"]


def checklist_messages(fact: Fact, answer: str) -> list[dict[str, str]]:
    """Chat messages (system + user) asking whether `answer` (its visible part) states `fact`. The fact is the
    truth to check against, so the prompt (a whole transcript) is left out: a short question is cheaper and
    easier for a small judge."""
    user = (f"Answer: {visible_answer(answer)}\n\nFact: {fact.text}\n\n"
            "Does the answer state this fact? Reply with one word: YES, CONTRADICTED or MISSING.")
    return [{"role": "system", "content": CHECKLIST_SYSTEM}, {"role": "user", "content": user}]


def parse_fact_verdict(text: str) -> str | None:
    """"stated" / "contradicted" / "missing" from the judge's reply, or None when its first word (markdown and
    `<think>` blocks removed, any case) is not YES, CONTRADICTED or MISSING ("No", "Yes." → None / "stated")."""
    match = _FIRST_WORD.search(re.sub(r"[*_`#]", "", visible_answer(text or "")))
    return _FACT_WORDS.get(match.group(0).lower()) if match else None


@dataclass(frozen=True)
class ChecklistGrade:
    """One answer's checklist: the fact states (unparsed replies graded missing), how many replies were unparsed,
    the 0-1 score (`facts.fact_score`, or the holistic fallback for a prompt without facts), and the judge calls."""

    results: tuple[FactResult, ...]
    unparsed: int
    score: float | None
    calls: int
    fallback: bool = False


def _ask(model: "Runner", messages: list[dict[str, str]], max_tokens: int) -> str | None:
    trial = model.chat(messages, max_tokens=max_tokens, temperature=0.0)
    return None if trial.error else trial.text


def holistic_grade(prompt: Prompt, answer: str, model: "Runner") -> int | None:
    """The kit's holistic 1-5 grade (`quality.judge_messages` / `parse_verdict`), None when unparseable."""
    reply = _ask(model, judge_messages(prompt, answer), HOLISTIC_MAX_TOKENS)
    return None if reply is None else parse_verdict(reply)


def checklist_grade(prompt: Prompt, answer: str, model: "Runner") -> ChecklistGrade:
    """Ask `model` one checklist question per fact of `prompt` (loaded model, temperature 0).

    Without facts: the holistic grade rescaled to 0-1 (`HOLISTIC_FALLBACK`), None when that is unparseable."""
    if not prompt.facts:
        grade = holistic_grade(prompt, answer, model)
        return ChecklistGrade((), int(grade is None), None if grade is None else (grade - 1) / 4, 1, fallback=True)
    results, unparsed = [], 0
    for fact in prompt.facts:
        reply = _ask(model, checklist_messages(fact, answer), CHECKLIST_MAX_TOKENS)
        status = None if reply is None else parse_fact_verdict(reply)
        unparsed += status is None
        results.append(FactResult(fact.id, status or "missing", ""))
    return ChecklistGrade(tuple(results), unparsed, fact_score(results), len(prompt.facts))


def pairwise_messages(prompt: Prompt, first: str, second: str) -> list[dict[str, str]]:
    """Chat messages showing `first` as answer A and `second` as answer B (visible parts), with the prompt's facts
    (or reference answer) as the rubric."""
    parts = [f"Question: {prompt.text}"]
    if prompt.facts:
        parts.append("Facts a correct answer states:\n" + "\n".join(f"- {fact.text}" for fact in prompt.facts))
    elif prompt.reference:
        parts.append(f"Reference answer: {prompt.reference}")
    parts += [f"Answer A: {visible_answer(first)}", f"Answer B: {visible_answer(second)}",
              "Which answer is better? Reply with one letter: A or B."]
    return [{"role": "system", "content": PAIRWISE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_preference(text: str) -> Literal["a", "b"] | None:
    """"a" / "b" from the judge's reply: its first word (markdown removed) is A or B, or "Answer A" / "Answer B";
    None otherwise."""
    words = _FIRST_WORD.findall(re.sub(r"[*_`#]", "", visible_answer(text or "")))[:2]
    if words and words[0].lower() == "answer":
        words = words[1:]
    return words[0].lower() if words and words[0].lower() in ("a", "b") else None  # type: ignore[return-value]


@dataclass(frozen=True)
class PairwiseVerdict:
    """Both orders' picks ("a"/"b" meaning the caller's answer_a/answer_b, None when unparsed) and the preference:
    the answer both orders picked, else "tie"."""

    first_order: Literal["a", "b"] | None
    second_order: Literal["a", "b"] | None

    @property
    def preference(self) -> Preference:
        agreed = self.first_order == self.second_order and self.first_order is not None
        return self.first_order if agreed else "tie"  # type: ignore[return-value]

    @property
    def unparsed(self) -> int:
        return (self.first_order is None) + (self.second_order is None)


def pairwise_preference(prompt: Prompt, answer_a: str, answer_b: str, model: "Runner") -> PairwiseVerdict:
    """Ask `model` (loaded, temperature 0) twice: answer_a shown as A, then answer_b shown as A."""
    reply = _ask(model, pairwise_messages(prompt, answer_a, answer_b), PAIRWISE_MAX_TOKENS)
    first = None if reply is None else parse_preference(reply)
    reply = _ask(model, pairwise_messages(prompt, answer_b, answer_a), PAIRWISE_MAX_TOKENS)
    swapped = None if reply is None else parse_preference(reply)
    second = None if swapped is None else ("b" if swapped == "a" else "a")
    return PairwiseVerdict(first, second)


def self_judged(judge_name: str, answer_model: str) -> bool:
    """The judge grades its own answers (same model, variant suffix ":N" ignored): expect a bias."""
    return judge_name.split(":")[0] == answer_model.split(":")[0]


def timed(call, *args):
    """(call(*args), seconds) — wall time of one judge call, for the seconds-per-answer figure."""
    started = time.perf_counter()
    return call(*args), time.perf_counter() - started


def stratified_subset(pairs: "pd.DataFrame", split: str, per_kind: int | None) -> "pd.DataFrame":
    """The pairs of `split` ("dev", "test" or "all"), at most `per_kind` per kind (the first in file order, a fixed
    subset), or all of them when `per_kind` is None."""
    chosen = pairs if split == "all" else pairs[pairs["split"] == split]
    return chosen if per_kind is None else chosen.groupby(["split", "kind"], sort=False).head(per_kind)


def judge_pairs(pairs: "pd.DataFrame", prompts: PromptsConfig, model: "Runner", modes: tuple[str, ...]
                ) -> tuple[dict[str, dict[tuple[str, str], float | None]], dict[str, float], dict[str, int]]:
    """Every mode's score of both sides of every pair (loaded judge, temperature 0).

    Returns (scores, seconds, unparsed): scores[column][(pair id, side)] with column `judge_<mode>` (holistic: 1-5;
    checklist: 0-1; pairwise: 1 for the side both orders picked, 0 for the other, 0.5 each on a tie), seconds per
    mode (wall time), and unparsed replies per mode."""
    scores: dict[str, dict[tuple[str, str], float | None]] = {f"judge_{mode}": {} for mode in modes}
    seconds = dict.fromkeys(modes, 0.0)
    unparsed = dict.fromkeys(modes, 0)
    for pair in tqdm(pairs.to_dict("records"), desc="judged pairs", file=sys.stderr):
        prompt = next(p for p in prompts.sets[pair["set"]].prompts if p.id == pair["prompt_id"])
        for side in ("better", "worse"):
            if "holistic" in modes:
                grade, took = timed(holistic_grade, prompt, pair[side], model)
                scores["judge_holistic"][(pair["id"], side)] = grade
                seconds["holistic"] += took
                unparsed["holistic"] += grade is None
            if "checklist" in modes:
                checked, took = timed(checklist_grade, prompt, pair[side], model)
                scores["judge_checklist"][(pair["id"], side)] = checked.score
                seconds["checklist"] += took
                unparsed["checklist"] += checked.unparsed
        if "pairwise" in modes:
            verdict, took = timed(pairwise_preference, prompt, pair["better"], pair["worse"], model)
            won = {"a": (1.0, 0.0), "b": (0.0, 1.0), "tie": (0.5, 0.5)}[verdict.preference]
            scores["judge_pairwise"][(pair["id"], "better")], scores["judge_pairwise"][(pair["id"], "worse")] = won
            seconds["pairwise"] += took
            unparsed["pairwise"] += verdict.unparsed
    return scores, seconds, unparsed
