"""Facts, not words: each atomic fact of a prompt (`config.Fact`) is STATED, MISSING or CONTRADICTED by an answer.

Rules that bind an anchor to its owner, date and value within one statement (`statements.statements`):

- A statement speaks about a fact when it names one of the fact's anchors (`what`) and is not a bare keyword
  list (`statements.is_keyword_list`: a list of terms states nothing).
- Owner (`who`): the participant named nearest before the anchor (its subject; else nearest after) decides: an accepted name states the
  owner, another participant contradicts it. Participants are the transcript's speakers ("Name:" at a line start)
  and every name the prompt's facts mention; a fact's `others_ok` are ignored for it.
- Date (`when`): the date mention nearest after the anchor ("crash fix by Wednesday"; else nearest before)
  decides: it states the date when it agrees with the fact's date on every part both name (weekday, month,
  day, relative day: "Wednesday (Mar 12)", "the 12th", "April"), and contradicts it when it disagrees on one.
- Value (`value`): one of the variants must stand in the statement.
- Contradiction (`contra`): a contra phrase in the statement that is not itself negated contradicts the fact,
  unless the statement also names one of the fact's `value` variants.
- Negation: a negation (not, no, never, without, n't, …) within five words before the bound owner/date/value
  (before the anchor for a claim without them), or between the anchor and them when they stand within six
  words, turns the statement into a contradiction: a negated statement never counts as stated. A variant may
  carry its own negation ("no internet", "fewer hallucinations" needs none): words inside a match are not
  counted as negating it.

A statement states the fact when every part it requires (owner, date, value; a claim needs only its anchor) is
stated and nothing contradicts it. Over the answer, for a fact with an owner or a date: STATED when any
statement states it (another statement that names the anchor beside another task's date, "Lena tells design
about dark mode today", does not undo it), else CONTRADICTED when one contradicts it; for a claim or decision
without them: CONTRADICTED when any statement contradicts it (a claim denied anywhere is denied), else STATED
when one states it; else MISSING.

`fact_score` weighs a contradiction twice a missing fact: max(0, (stated - 2 * contradicted) / facts), the
weight of a wrong owner, date or decision over a gap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..core.config import Fact, Prompt
from . import statements as st

Status = Literal["stated", "missing", "contradicted"]
CONTRADICTION_COST = 2.0
NEAR_WORDS = 6
_SPEAKER = re.compile(r"^\s*([A-Z][\w.'-]*)(?: [A-Z][\w.'-]*)?(?: \([^)]*\))?:", re.MULTILINE)


@dataclass(frozen=True)
class FactResult:
    fact_id: str
    status: Status
    evidence: str  # the statement that decided, or "" when missing


def participants(prompt: Prompt) -> set[str]:
    """Lowercase names: the transcript's speakers and every name in the prompt's facts (`who`, `others_ok`)."""
    names = {m.group(1).lower() for m in _SPEAKER.finditer(prompt.text)}
    for fact in prompt.facts:
        names.update(fact.who)
        names.update(fact.others_ok)
    return names


def _nearest(anchor: st.Span, spans: list[st.Span], prefer: str, clauses: list[int]) -> st.Span | None:
    """The span nearest to the anchor on the preferred side ("before" or "after"), else the nearest on the other;
    spans in the anchor's own comma clause (`statements.clause_numbers`) first."""
    own = [s for s in spans if clauses[s.first] == clauses[anchor.first]]
    spans = own or spans
    before = [s for s in spans if s.last < anchor.first]
    after = [s for s in spans if s.first > anchor.last]
    first, second = (before, after) if prefer == "before" else (after, before)
    side = first or second
    return min(side, key=lambda s: max(s.first - anchor.last, anchor.first - s.last), default=None)


def _negated(statement: str, anchor: st.Span, bound: st.Span | None, spans: list[st.Span]) -> bool:
    if bound is None:
        return st.negated_before(statement, anchor.first, inside=spans)
    if st.negated_before(statement, bound.first, inside=spans):
        return True
    low, high = sorted((anchor, bound), key=lambda span: span.first)
    return high.first - low.last <= NEAR_WORDS and st.negated_between(statement, low.last, high.first)


def _date_status(span: st.Span, fact: Fact) -> str:
    """ok: the mention agrees with the fact's date on every part both name (weekday, month, day, relative day);
    other: it disagrees on one; neutral: they share no part."""
    mention = st.date_parts(span.text)
    known = [st.date_parts(variant) for variant in fact.when]
    # A relative day ("today") is compared with a fact dated to the day; against a month alone ("April") it says
    # nothing: "Lena tells design about dark mode today" does not date the April release.
    to_the_day = any(parts["weekday"] or parts["day"] or parts["relative"] for parts in known)
    agree = conflict = False
    for part, value in mention.items():
        if value is None:
            continue
        accepted = {parts[part] for parts in known if parts[part] is not None}
        if (part == "relative" and to_the_day) or accepted:
            agree |= value in accepted
            conflict |= value not in accepted
    return "other" if conflict else "ok" if agree else "neutral"


def _current_dates(statement: str) -> list[st.Span]:
    """The statement's date mentions without the ones left behind: in "moved the launch from Friday, March 14 to
    April" the date after "from" is followed by one after "to" / "until", and only April stands ("to the April release" counts as after "to")."""
    words = st.tokens(statement)
    spans = st.date_spans(statement)

    def after(span: st.Span, marks: tuple[str, ...]) -> bool:  # the word before the mention, skipping "the"
        before = [w for w in words[max(0, span.first - 2):span.first] if w != "the"]
        return bool(before) and before[-1] in marks

    return [s for s in spans
            if not (after(s, ("from",)) and any(t.first > s.last and after(t, ("to", "until", "till")) for t in spans))]


def judge_statement(statement: str, fact: Fact, names: set[str]) -> Status | None:
    """How one lowercased statement bears on one fact: stated, contradicted, or None (says nothing about it)."""
    anchors = st.find_spans(statement, fact.what)
    if not anchors or st.is_keyword_list(statement):
        return None
    values = st.find_spans(statement, fact.value)
    if not values:  # a statement naming the decided value is not undone by a contra phrase beside it
        for contra in st.find_spans(statement, fact.contra):
            if not st.negated_before(statement, contra.first):
                return "contradicted"
    graded = [(s, _date_status(s, fact)) for s in _current_dates(statement)] if fact.when else []
    graded = [(s, status) for s, status in graded if status != "neutral"]
    if (st.find_spans(statement, [v for v in fact.when if not st.DATE.fullmatch(v)])
            and all(status == "ok" for _, status in graded)):
        return "stated"  # a literal non-date variant ("end of the pilot") beside no other date
    results: list[str] = []
    clauses = st.clause_numbers(statement)
    bound: st.Span | None = None
    anchor = anchors[0]
    if fact.who:
        mentions = st.find_spans(statement, (names - set(fact.others_ok)) | set(fact.who))
        pairs = [(a, _nearest(a, mentions, "before", clauses)) for a in anchors]
        pairs = [(a, p) for a, p in pairs if p is not None]
        if not pairs:
            results.append("none")
        else:
            anchor, bound = min(pairs, key=lambda ap: abs(ap[0].first - ap[1].first))
            results.append("ok" if bound.text in fact.who else "other")
    if fact.when:
        nearest = _nearest(anchor, [s for s, _ in graded], "after", clauses)
        if nearest is None:
            results.append("none")
        else:
            bound = bound or nearest
            results.append(next(status for s, status in graded if s is nearest))
    if fact.value:
        if values:
            bound = bound or _nearest(anchor, values, "after", clauses)
        results.append("ok" if values else "none")
    if _negated(statement, anchor, bound, anchors + values):
        return "contradicted"
    if "other" in results:
        return "contradicted"
    if all(result == "ok" for result in results):
        return "stated"
    return None


def grade_fact(answer: str, fact: Fact, prompt: Prompt) -> FactResult:
    """STATED / MISSING / CONTRADICTED for one fact over the whole answer (see the module docstring)."""
    names = participants(prompt)
    verdicts = [(judge_statement(s, fact, names), s) for s in st.statements(answer, names)]
    bound = bool(fact.who or fact.when)
    for wanted in ("stated", "contradicted") if bound else ("contradicted", "stated"):
        evidence = next((s for verdict, s in verdicts if verdict == wanted), None)
        if evidence is not None:
            return FactResult(fact.id, wanted, evidence)
    return FactResult(fact.id, "missing", "")


def grade_facts(answer: str, prompt: Prompt) -> list[FactResult]:
    return [grade_fact(answer, fact, prompt) for fact in prompt.facts]


def fact_score(results: list[FactResult], invented: int = 0) -> float | None:
    """max(0, (stated - CONTRADICTION_COST * (contradicted + invented)) / facts), 0-1; None without facts.

    `invented`: what the answer names that its source does not (`checks.unsupported`: numbers, months, names)
    and what it denies that its source states (`negations.invented_negations`); an invented fact is a wrong fact
    the reader cannot tell from a right one, and costs what a contradiction costs."""
    if not results:
        return None
    stated = sum(r.status == "stated" for r in results)
    contradicted = sum(r.status == "contradicted" for r in results) + invented
    return max(0.0, (stated - CONTRADICTION_COST * contradicted) / len(results))
