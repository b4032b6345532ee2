"""Instruction checks a program can decide (IFEval-style: Zhou et al. 2023, "Instruction-Following Evaluation for
Large Language Models"): sentence, bullet and word counts, a word limit, the expected number, a line limit on the
code, nothing invented, nothing repeated. Each prompt lists its checks in prompts.json (`config.Check`); counting
follows `evaluate.statements`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.config import Check, Prompt
from . import statements as st
from .facets import normalize_text

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*")


@dataclass(frozen=True)
class CheckResult:
    """One check on one answer: passed or not, and what was found (e.g. "3 sentences")."""

    kind: str
    passed: bool
    found: str


def _numbers(text: str) -> set[str]:
    """The numbers in a text, with trailing decimal zeros dropped: "5.0C" and "5 degrees" state the same 5."""
    found = {n.rstrip(".,:") for n in _NUMBER.findall(text)}
    return {n.rstrip("0").rstrip(".") if re.fullmatch(r"\d+\.\d+", n) else n for n in found}


def _source_text(prompt: Prompt) -> str:
    """Everything an answer may draw numbers and dates from: the prompt, its reference and its facts."""
    facts = " ".join(" ".join([f.text, *f.when, *f.value, *f.what]) for f in prompt.facts)
    return normalize_text(" ".join([prompt.text, prompt.reference or "", facts]))


_NAME = re.compile(r"(?<![.:!?\n-] )(?<!^)(?<![\w(\"'])\b[A-Z][a-z]+\b", re.MULTILINE)


def _proper_nouns(answer: str) -> set[str]:
    """Capitalised words that do not start a line or a sentence (names, places, languages, products)."""
    found = set()
    for line in st.lines(answer):
        body = re.sub(r"^(?:[-*+•]|\d{1,2}[.)])\s+", "", line)
        found.update(m.group(0) for m in _NAME.finditer(body) if not st.DATE.fullmatch(m.group(0).lower()))
    return found


def unsupported(answer: str, prompt: Prompt) -> list[str]:
    """What the answer names that occurs nowhere in the prompt, its reference or its facts: numbers, months and
    proper nouns (a weekday is not checked: "QA starts Tuesday" may rightly turn "tomorrow" into a weekday)."""
    source = _source_text(prompt)
    text = normalize_text(st.unmarked(answer))
    numbers = sorted(_numbers(text) - _numbers(source))
    months = sorted({span.text for span in st.date_spans(text) if not any(ch.isdigit() for ch in span.text)
                     and not re.search(r"day\b|today|tomorrow|tonight|next week", span.text)
                     and not re.search(rf"(?<![a-z0-9]){re.escape(span.text)}", source)})
    names = sorted(n for n in _proper_nouns(answer) if not re.search(rf"(?<![a-z0-9]){n.lower()}", source))
    return numbers + months + names


_STOPWORDS = frozenset(
    "about above after again against because before being below between could doing during further having other "
    "their there these those through under until which while would should with within without also into only than "
    "that then them they this what when where your yours".split())


def novel_words(answer: str, prompt: Prompt) -> list[str]:
    """Content words of the answer (5+ letters, not a stopword) whose first five letters start no word of the
    prompt, its reference or its facts: what a summary says beyond its source ("technician", "credit"). A
    paraphrase has some too, so the count is a weak signal (`scoring` uses it only to break near-ties)."""
    source_stems = {w[:5] for w in re.findall(r"[a-z]{4,}", _source_text(prompt))}
    words = re.findall(r"[a-z]{5,}", normalize_text(st.plain(answer)))
    return sorted({w for w in words if w not in _STOPWORDS and w[:5] not in source_stems})


def _repeats(answer: str) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for unit in st.sentences(answer):
        key = normalize_text(unit).strip(" .!?")
        if len(key.split()) >= 3 and key in seen:
            repeated.append(unit)
        seen.add(key)
    return repeated


def _answer_number(answer: str) -> str | None:
    """The number the answer gives: the last one not negated ("The answer is not 4. 2 + 2 = 5." gives 5)."""
    text = normalize_text(st.plain(answer))
    stated = [m for m in _NUMBER.finditer(text)
              if not st.negated_before(text, len(st.words(text[:m.start()])))]
    return stated[-1].group(0).replace(",", "") if stated else None


def run_check(check: Check, answer: str, prompt: Prompt) -> CheckResult:
    """Decide one check on one answer."""
    kind = check.kind
    if kind == "sentences":
        n = len(st.sentences(answer))
        return CheckResult(kind, n == check.count, f"{n} sentences (want {check.count})")
    if kind == "bullets":
        n = len(st.bullets(answer))
        return CheckResult(kind, n == check.count, f"{n} bullets (want {check.count})")
    if kind == "words":
        n = len(st.words(answer))
        return CheckResult(kind, n == check.count, f"{n} words (want {check.count})")
    if kind == "max_words":
        n = len(st.words(answer))
        return CheckResult(kind, n <= check.count, f"{n} words (at most {check.count})")
    if kind == "number":
        stated = _answer_number(answer)
        return CheckResult(kind, stated is not None and float(stated) == float(check.value),
                           f"answer {stated} (want {check.value})")
    if kind == "max_code_lines":
        code = st.code(answer)
        n = len([line for line in code.splitlines() if line.strip()])
        return CheckResult(kind, 0 < n <= check.count, f"{n} code lines (at most {check.count})")
    if kind == "grounded":
        extra = unsupported(answer, prompt)
        return CheckResult(kind, not extra, "nothing invented" if not extra else f"not in the source: {extra}")
    if kind == "no_repeats":
        repeated = _repeats(answer)
        return CheckResult(kind, not repeated, "no repeats" if not repeated else f"repeated: {repeated[:2]}")
    raise ValueError(f"unknown check kind {kind!r}")  # config.CheckKind lists every kind handled above


_LENGTH_KINDS = ("sentences", "bullets", "words", "max_words")


def over_length(answer: str, prompt: Prompt) -> list[str]:
    """The prompt's length checks (sentences, bullets, words, max_words) the answer already breaks by being too
    long, e.g. ["sentences: 9 (want 2)"]: an answer cut at the token cap after that was not stopped short of a
    right answer; more tokens would only have added to what the prompt ruled out."""
    counts = {"sentences": lambda: len(st.sentences(answer)), "bullets": lambda: len(st.bullets(answer)),
              "words": lambda: len(st.words(answer)), "max_words": lambda: len(st.words(answer))}
    over = []
    for check in prompt.checks:
        if check.kind in _LENGTH_KINDS and check.count is not None and (n := counts[check.kind]()) > check.count:
            over.append(f"{check.kind}: {n} (want {'at most ' if check.kind == 'max_words' else ''}{check.count})")
    return over


def run_checks(answer: str, prompt: Prompt, checks: Iterable[Check] | None = None) -> list[CheckResult]:
    """Every check of `prompt` (or `checks`) on one answer."""
    return [run_check(check, answer, prompt) for check in (prompt.checks if checks is None else checks)]
