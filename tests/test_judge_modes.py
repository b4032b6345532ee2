"""Judge modes: checklist verdict parsing and scoring, pairwise both-orders preference, blindness, subsets."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers.core.config import Fact, Prompt
from helpers.evaluate import judge_modes as jm
from helpers.evaluate.facts import CONTRADICTION_COST

FACTS = [Fact(id="beta", text="Ana ships the beta by Friday.", what=["beta"], who=["ana"], when=["friday"]),
         Fact(id="dark", text="Dark mode is deferred.", what=["dark mode"]),
         Fact(id="docs", text="Ben writes the docs.", what=["docs"], who=["ben"])]
PROMPT = Prompt(id="standup", text="Summarize: Ana: beta Friday. Ben: docs. Dark mode later.", facts=FACTS)
CODE = Prompt(id="square", text="Write square(x).", reference="def square(x): return x * x")


@pytest.mark.parametrize(("reply", "status"), [
    ("YES", "stated"), ("Yes.", "stated"), ("**CONTRADICTED** - the date is Monday", "contradicted"),
    ("missing", "missing"), ("<think>maybe yes</think>MISSING", "missing"),
    ("No", None), ("The answer says YES", None), ("", None), ("Y", None),
])
def test_fact_verdict_is_its_first_word_strictly(reply: str, status: str | None) -> None:
    assert jm.parse_fact_verdict(reply) == status


@pytest.mark.parametrize(("reply", "pick"), [
    ("A", "a"), ("B.", "b"), ("**Answer B** is better", "b"), ("a", "a"),
    ("Both", None), ("Answer: neither", None), ("", None), ("AB", None),
])
def test_preference_is_a_or_b_strictly(reply: str, pick: str | None) -> None:
    assert jm.parse_preference(reply) == pick


def _replying(monkeypatch: pytest.MonkeyPatch, replies: list[str | None]) -> list[list[dict[str, str]]]:
    """Stand in for the model: `_ask` returns the next reply and records the messages it was sent."""
    sent: list[list[dict[str, str]]] = []
    queue = iter(replies)

    def ask(model: object, messages: list[dict[str, str]], max_tokens: int) -> str | None:
        sent.append(messages)
        return next(queue)

    monkeypatch.setattr(jm, "_ask", ask)
    return sent


def test_checklist_contradiction_costs_more_than_a_missing_fact(monkeypatch: pytest.MonkeyPatch) -> None:
    _replying(monkeypatch, ["YES", "YES", "MISSING", "YES", "YES", "CONTRADICTED"])
    missing = jm.checklist_grade(PROMPT, "answer one", model=None)
    contradicted = jm.checklist_grade(PROMPT, "answer two", model=None)
    assert missing.score == pytest.approx(2 / 3)
    assert contradicted.score == pytest.approx(max(0.0, (2 - CONTRADICTION_COST) / 3))
    assert contradicted.score < missing.score and missing.calls == 3 and missing.unparsed == 0


def test_unparsed_checklist_reply_is_counted_and_graded_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    _replying(monkeypatch, ["Sure, it does.", None, "YES"])  # None: the request failed
    graded = jm.checklist_grade(PROMPT, "answer", model=None)
    assert graded.unparsed == 2
    assert [r.status for r in graded.results] == ["missing", "missing", "stated"]
    assert graded.score == pytest.approx(1 / 3)


def test_checklist_without_facts_falls_back_to_the_holistic_grade(monkeypatch: pytest.MonkeyPatch) -> None:
    _replying(monkeypatch, ["SCORE: 4\nREASON: fine", "no score here"])
    graded = jm.checklist_grade(CODE, "def square(x): return x * x", model=None)
    assert graded.fallback and graded.score == pytest.approx(0.75) and graded.unparsed == 0
    unclear = jm.checklist_grade(CODE, "def square(x): return x * x", model=None)
    assert unclear.score is None and unclear.unparsed == 1


@pytest.mark.parametrize(("replies", "preference"), [
    (["A", "B"], "a"),      # answer_a shown first, then second: picked both times
    (["B", "A"], "b"),
    (["A", "A"], "tie"),    # always the first position: the orders disagree
    (["B", "B"], "tie"),
    (["A", "maybe"], "tie"),
])
def test_pairwise_wins_only_when_both_orders_agree(monkeypatch: pytest.MonkeyPatch, replies: list[str],
                                                   preference: str) -> None:
    sent = _replying(monkeypatch, replies)
    verdict = jm.pairwise_preference(PROMPT, "first answer", "second answer", model=None)
    assert verdict.preference == preference
    user = [messages[1]["content"] for messages in sent]
    assert user[0].index("first answer") < user[0].index("second answer")
    assert user[1].index("second answer") < user[1].index("first answer")


def test_judge_prompts_never_name_the_answering_model() -> None:
    author = "qwen2.5-coder-0.5b-instruct-int4"
    texts = [m["content"] for messages in (jm.checklist_messages(FACTS[0], "an answer"),
                                           jm.pairwise_messages(PROMPT, "one", "two"))
             for m in messages]
    assert all(author not in text and "model" not in text.lower() for text in texts)
    assert jm.self_judged("qwen2.5-coder-1.5b-instruct-int4:1", "qwen2.5-coder-1.5b-instruct-int4")
    assert not jm.self_judged("qwen2.5-coder-1.5b-instruct-int4", author)


def test_stratified_subset_is_fixed_and_keeps_every_kind() -> None:
    pairs = pd.DataFrame({"id": [f"c{i}" for i in range(6)], "split": ["dev"] * 4 + ["test"] * 2,
                          "kind": ["negation", "negation", "negation", "wrong-code", "negation", "negation"]})
    assert list(jm.stratified_subset(pairs, "dev", 2)["id"]) == ["c0", "c1", "c3"]
    assert list(jm.stratified_subset(pairs, "test", None)["id"]) == ["c4", "c5"]
    assert len(jm.stratified_subset(pairs, "all", 1)) == 3
