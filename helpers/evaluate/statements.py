"""An answer as units a program can count and read: sentences, bullets, words, lines, statements, dates, code.

Only the visible answer counts (`reasoning.visible_answer` drops `<think>` blocks); Markdown emphasis and headings
(`**`, `__`, backticks, leading `#`) are removed first. Definitions:

- bullet: a line starting with `-`, `*`, `+`, `•` or a number followed by `.` or `)`.
- sentence: a run of text ending in `.`, `!` or `?` followed by a space or the end (a decimal such as 9.2 or an
  abbreviation such as "e.g." or "R." does not end one); each bullet and each other line is split on its own, and
  a bullet without end punctuation is one sentence.
- word: letters and digits, joined by `'`, `.`, `-` or `/` inside (9.2C, go/no-go, don't: one word each).
- statement: what one fact is read from (`evaluate.facts`): a sentence, further split at `;` and where a clause
  with a new subject starts (", and Jonas …", " while Priya …"), lowercased by `quality.normalize_text`.
- date mention: a weekday, optionally followed by a date ("monday, june 16", "friday the 14th"); a month with or
  without a day (May only with a day), a day and month, `3/14`, "the 12th"; or today / tomorrow / tonight /
  yesterday / next week.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..measure.reasoning import visible_answer
from .facets import normalize_text

_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__|`+|^\s{0,3}#+\s*", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.\-/][A-Za-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_ABBREVIATION = re.compile(r"(?:\b[A-Za-z]|\be\.g|\bi\.e|\bvs|\bMr|\bMs|\bDr|\betc|\bapprox|\bNo)\.$")
_NEGATIONS = {"not", "no", "never", "without", "cannot", "nor", "neither", "none", "nothing", "nobody"}
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
           "nov": 11, "dec": 12}
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?\b"
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
_RELATIVE = r"(?:today|tomorrow|tonight|yesterday|next week)\b"
_MONTH_DAY = (rf"(?:(?:{_MONTH}|may)\.?\s+{_DAY}|{_DAY}\s+(?:of\s+)?(?:{_MONTH}|may)\b|{_MONTH}\b|"
              r"\d{1,2}/\d{1,2}\b|the\s+\d{1,2}(?:st|nd|rd|th)\b)")
# One date mention: a weekday with an optional date after it ("monday, june 16", "friday the 14th",
# "wednesday (mar 12"), a date alone, or a relative day.
DATE = re.compile(rf"\b(?:{_WEEKDAY}(?:,?\s*\(?\s*(?:{_MONTH_DAY}))?|{_MONTH_DAY}|{_RELATIVE})")
NEGATION_WINDOW = 5  # words before a target that a negation may stand in ("does not reduce the model's memory")
# Two-word negations, matched on the words before a target like the one-word ones.
_NEGATION_PAIRS = {("rather", "than"), ("instead", "of")}


def date_parts(mention: str) -> dict[str, object]:
    """weekday (e.g. "friday"), month (1-12), day (1-31) and relative ("tomorrow") of a date mention; None where
    the mention does not say."""
    text = mention.lower()
    weekday = re.search(_WEEKDAY, text)
    relative = re.search(_RELATIVE, text)
    month = re.search(rf"\b({_MONTH}|may(?=\.?\s+\d)|(?<=\d )may|(?<=\d of )may)", text)
    numeric = re.search(r"\b(\d{1,2})/(\d{1,2})\b", text)
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", re.sub(r"\d{1,2}/\d{1,2}", "", text))
    return {
        "weekday": weekday.group(0) if weekday else None,
        "month": int(numeric.group(1)) if numeric else (_MONTHS[month.group(1)[:3]] if month else None),
        "day": int(numeric.group(2)) if numeric else (int(day.group(1)) if day else None),
        "relative": relative.group(0) if relative else None,
    }


def plain(text: str) -> str:
    """The visible answer without Markdown emphasis and heading marks."""
    return _EMPHASIS.sub("", visible_answer(text))


def lines(text: str) -> list[str]:
    """The non-empty lines of the plain answer, stripped."""
    return [line.strip() for line in plain(text).splitlines() if line.strip()]


def unmarked(text: str) -> str:
    """The plain answer's lines without their bullet marks ("1. ", "- "), joined by newlines: a numbered list's
    1, 2, 3 are not numbers the answer states."""
    return "\n".join(_BULLET.sub("", line) for line in lines(text))


def bullets(text: str) -> list[str]:
    """The bullet items (see module docstring), without their marks."""
    return [_BULLET.sub("", line) for line in lines(text) if _BULLET.match(line)]


def words(text: str) -> list[str]:
    return _WORD.findall(plain(text))


def _split_sentences(line: str) -> list[str]:
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(line):
        if pieces and _ABBREVIATION.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece.strip():
            pieces.append(piece.strip())
    return pieces


def sentences(text: str) -> list[str]:
    """The sentences of the plain answer: every line (a bullet without its mark) split at sentence ends."""
    return [sentence for line in lines(text) for sentence in _split_sentences(_BULLET.sub("", line))]


def statements(text: str, names: Iterable[str] = ()) -> list[str]:
    """The answer's statements, lowercased (`quality.normalize_text`): sentences split at `;`, at `, so` /
    `, but` / `because`, and where a clause names a new subject from `names` (lowercase first names:
    ", and jonas", " while priya")."""
    names = sorted({n for n in names if n}, key=len, reverse=True)
    joints = [r";", r",\s*(?:so|but|because)\b", r"\s+because\b"]
    if names:
        subject = "|".join(re.escape(n) for n in names)
        joints.append(rf"(?:,\s*(?:and\s+|while\s+|but\s+)?|\s+(?:and|while|whereas|but)\s+)(?=(?:{subject})\b)")
    splitter = re.compile("|".join(joints))
    found = []
    for sentence in sentences(text):
        for part in splitter.split(normalize_text(sentence)):
            if part.strip(" ,.-:"):
                found.append(part.strip())
    return found


def is_keyword_list(statement: str) -> bool:
    """True for a statement that only lists terms: one word, or comma-separated parts of at most two words each
    (e.g. "privacy, offline use, low latency"); a date with a comma in it counts as one word."""
    statement = DATE.sub("date", statement)  # "monday, june 16" is one term, not two
    parts = [p for p in re.split(r"[,;]", statement) if p.strip()]
    return len(_WORD.findall(statement)) <= 1 or (len(parts) >= 2 and all(len(_WORD.findall(p)) <= 2 for p in parts))


@dataclass(frozen=True)
class Span:
    """A match in a statement: its text and first/last word positions."""

    text: str
    first: int
    last: int


def _word_index(statement: str, char: int) -> int:
    return len(_WORD.findall(statement[:char]))


def find_spans(statement: str, variants: Iterable[str]) -> list[Span]:
    """Where any of `variants` (lowercase, matched at a word start, longest first) occurs in a lowercased
    statement, without overlaps."""
    taken: list[tuple[int, int]] = []
    spans: list[Span] = []
    for variant in sorted({normalize_text(v) for v in variants if v.strip()}, key=len, reverse=True):
        for match in re.finditer(rf"(?<![a-z0-9]){re.escape(variant)}", statement):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            first = _word_index(statement, start)
            spans.append(Span(variant, first, max(first, _word_index(statement, end) - 1)))
    return sorted(spans, key=lambda span: span.first)


def clause_numbers(statement: str) -> list[int]:
    """For each word of a lowercased statement, the number (0, 1, ...) of the comma-separated clause it stands in;
    a comma inside a date mention ("friday, march 14") does not start a clause. A task and its date in one clause
    belong together: "april 9 customer update, april 10 postmortem"."""
    flat = DATE.sub(lambda m: m.group(0).replace(",", " "), statement)
    return [flat.count(",", 0, match.start()) for match in _WORD.finditer(flat)]


def date_spans(statement: str) -> list[Span]:
    """The date mentions of a lowercased statement."""
    return [Span(m.group(0), _word_index(statement, m.start()), _word_index(statement, m.end()) - 1)
            for m in DATE.finditer(statement)]


def is_negation(token: str) -> bool:
    """True for a one-word negation: not, no, never, without, cannot, nor, neither, none, nothing, nobody, or a word
    ending in n't."""
    return token in _NEGATIONS or token.endswith(("n't", "n’t"))


def _has_negation(tokens: list[str]) -> bool:
    return any(map(is_negation, tokens)) or any(pair in _NEGATION_PAIRS for pair in zip(tokens, tokens[1:]))


def negation_ends(tokens: list[str]) -> list[int]:
    """Positions of the last word of each negation in a word list: a one-word negation (`is_negation`) or a
    two-word one ("rather than", "instead of"); what it negates starts after it."""
    return [i for i, token in enumerate(tokens)
            if is_negation(token) or (i > 0 and (tokens[i - 1], token) in _NEGATION_PAIRS)]


def tokens(statement: str) -> list[str]:
    """The words of a statement (see the module docstring), in order."""
    return _WORD.findall(statement)


def negated_before(statement: str, first_word: int, window: int = NEGATION_WINDOW, inside: Iterable[Span] = ()) -> bool:
    """True when the `window` words before word `first_word` hold a negation (not, no, never, without, a word
    ending in n't, "rather than", "instead of"); words inside one of the `inside` spans (a variant that carries
    its own negation: "no per-request costs") do not count."""
    covered = {i for span in inside for i in range(span.first, span.last + 1)}
    start = max(0, first_word - window)
    tokens = _WORD.findall(statement)[start:first_word]
    return _has_negation([t for i, t in enumerate(tokens, start) if i not in covered])


def negated_between(statement: str, start_word: int, end_word: int) -> bool:
    """True when a negation stands strictly between two word positions."""
    return _has_negation(_WORD.findall(statement)[start_word + 1:end_word])


_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
_CODE_START = re.compile(r"^\s*(?:def |async def |class |import |from \S+ import |[A-Za-z_]\w*\s*=\s*lambda\b)")


def code(text: str) -> str:
    """The answer's Python code: its fenced blocks joined; without a fence, the lines from the first that starts a
    definition (def, class, import, `name = lambda`) up to the last that still compiles with them."""
    answer = visible_answer(text)
    fenced = _FENCE.findall(answer)
    if fenced:
        return "\n".join(block.strip("\n") for block in fenced).strip()
    lines_ = answer.replace("`", "").splitlines()
    start = next((i for i, line in enumerate(lines_) if _CODE_START.match(line)), None)
    if start is None:
        return ""
    for end in range(len(lines_), start, -1):
        candidate = "\n".join(lines_[start:end]).strip()
        try:
            compile(candidate, "<answer>", "exec")
        except (SyntaxError, ValueError):
            continue
        return candidate
    return ""
