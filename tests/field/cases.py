"""The cases of issue #10, each a scripted loopback server and the right values a trial must show.

Scripted timing unless a case says otherwise (the issue's): first answer token 300 ms after the request, then 19
more 20 ms apart. Right values: TTFT 300 ms (within 3%), TPOT 20 ms (within 5%), decode 50 tok/s, 20 output
tokens. A check takes a trial record (`TrialTiming.to_record()`, or a `trial` line of results.jsonl), so the same
check holds for the notebook path (helpers.measure.timing) and the CLI path (`python -m helpers bench --endpoint`).
Times to a first token are checked from the moment the server had read the request (`send_ms`, added to the
record by the runner from the server's own perf_counter timestamp, the same clock as the client's on one machine):
on a loaded 2-core machine sending a request over loopback alone can take several ms.

`python tests/fixture_server.py --case NAME` serves one case by hand; `python -m tests.field.findings` measures
every case (the before -> after table of the closing note).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..fixture_server import Script

TTFT_MS, GAP_MS, TOKENS = 300.0, 20.0, 20
TTFT_REL, TPOT_REL = 0.03, 0.05
SMOL_ID = "smollm2-135m-instruct-int4:1"  # served under the bundled model's id: the kit has its tokenizer.json
# 20 words that are one token each in SmolLM2's tokenizer (checked by test_words_are_one_token_each).
WORDS = [" The", " cat", " sat", " on", " the", " mat", " and", " the", " dog", " ran", " to", " the", " park",
         " with", " a", " red", " ball", " in", " its", " mouth"]
THINK_ANSWER = ("<think>Small models have few parameters and run on laptops, phones, edge devices.</think> "
                "A big model in the cloud.")
API_KEY = "field-test-key"
CONTEXT_ERROR_TEXT = "exceeds the available context size"

Record = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One kind of server behaviour: how to script it and what a trial against it must show."""

    name: str
    issue: str  # the case number in issue #10
    script: Callable[[], Script]
    check: Callable[[Record], None]
    right: str  # the right values, as the issue states them
    stream: bool = True
    env: dict[str, str] = field(default_factory=dict)


def scripted(**fields: Any) -> Callable[[], Script]:
    """A Script factory: the issue's timing (300 ms, then 20 ms apart, 20 tokens) with `fields` changed."""
    return lambda: Script(**({"ttft_s": TTFT_MS / 1000, "gap_s": GAP_MS / 1000, "tokens": TOKENS} | fields))


def near(value: float | None, expected: float, rel: float) -> None:
    assert value is not None and value == pytest.approx(expected, rel=rel), f"{value} is not {expected} ± {rel:.0%}"


def expect_ok(record: Record, tokens: int = TOKENS, source: str = "usage") -> None:
    assert record["ok"], record["error"]
    assert (record["output_tokens"], record["tokens_source"]) == (tokens, source)


def near_first(record: Record, key: str, expected_ms: float) -> None:
    """A time to a first token: measured minus the request's send time, within 3% of the script."""
    assert record["send_ms"] > 0 and record[key] is not None, (record["send_ms"], record[key])
    near(record[key] - record["send_ms"], expected_ms, TTFT_REL)


def expect_scripted(record: Record, ttft_ms: float = TTFT_MS) -> None:
    """The issue's right values: TTFT, TPOT 20 ms and decode 50 tok/s over every token after the first."""
    near_first(record, "ttft_ms", ttft_ms)
    near(record["tpot_ms"], GAP_MS, TPOT_REL)
    near(record["decode_tps"], 1000 / GAP_MS, TPOT_REL)
    assert record["finish_reason"] == "stop"


def _answer(first: int, last: int) -> str:
    return "".join(f" tok{i}" for i in range(first, last))


def check_plain(record: Record) -> None:
    expect_ok(record)
    expect_scripted(record)
    assert record["text"] == _answer(0, TOKENS)


def check_reasoning(record: Record) -> None:
    """20 reasoning + 10 answer tokens, all 20 ms apart: first token 300 ms, TTFT 700 ms, TPOT 20 ms."""
    expect_ok(record, tokens=30)
    near_first(record, "ttft_any_ms", TTFT_MS)
    expect_scripted(record, ttft_ms=TTFT_MS + 20 * GAP_MS)
    assert (record["reasoning_tokens"], record["answer_tokens"]) == (20, 10)
    assert record["text"] == _answer(20, 30)
    assert "tok0" in record["reasoning"] and "tok20" not in record["reasoning"]


def check_tokens_per_chunk(record: Record) -> None:
    """20 tokens, 4 per chunk, chunks 80 ms apart: counted by SmolLM2's tokenizer; decode = 19 / 320 ms."""
    expect_ok(record, source="tokenizer")
    near_first(record, "ttft_ms", TTFT_MS)
    near(record["decode_tps"], 19 / 0.320, TPOT_REL)
    assert record["text"] == "".join(WORDS)


def check_chunks_flagged(record: Record) -> None:
    """No tokenizer for the model: 5 chunks, counted and flagged as chunks, not tokens."""
    expect_ok(record, tokens=5, source="chunks")
    assert "counted as streamed chunks" in record["note"]


def check_burst(record: Record) -> None:
    expect_ok(record)
    near_first(record, "ttft_ms", 680.0)
    assert record["tpot_ms"] is None and record["decode_tps"] is None
    assert "one chunk" in record["note"] and "not measurable" in record["note"]


def check_error(record: Record) -> None:
    assert not record["ok"] and CONTEXT_ERROR_TEXT in record["error"]


def check_unfinished(record: Record) -> None:
    assert not record["ok"] and "without a finish reason or [DONE]" in record["error"]


def check_whole_delta(record: Record) -> None:
    expect_ok(record)
    assert record["text"] == _answer(0, TOKENS) and record["finish_reason"] == "stop"


def check_whole_unknown(record: Record) -> None:
    assert not record["ok"]
    assert "choices[0].message" in record["error"] and "http://127.0.0.1:" in record["error"]


def check_think_answer(record: Record) -> None:
    assert record["ok"], record["error"]
    assert record["text"].strip() == "A big model in the cloud."
    assert "laptops" in record["reasoning"]


CASES = [
    Case("reasoning-content", "1", scripted(tokens=30, reasoning_tokens=20), check_reasoning,
         "TPOT 20 ms, decode 50 tok/s; first token 300 ms, TTFT 700 ms; 20 reasoning + 10 answer tokens"),
    Case("reasoning-field", "1", scripted(tokens=30, reasoning_tokens=20, reasoning_style="reasoning"),
         check_reasoning, "as reasoning-content, reasoning in `reasoning`"),
    Case("reasoning-think", "1", scripted(tokens=30, reasoning_tokens=20, reasoning_style="think"),
         check_reasoning, "as reasoning-content, reasoning as <think>…</think> in content"),
    Case("tokens-per-chunk", "2", scripted(model_id=SMOL_ID, content_tokens=WORDS, tokens_per_chunk=4, usage=False),
         check_tokens_per_chunk, "20 tokens (tokenizer), decode 59 tok/s (19 tokens over 320 ms)"),
    Case("chunks-no-tokenizer", "2", scripted(tokens_per_chunk=4, usage=False), check_chunks_flagged,
         "5 chunks, tokens_source chunks, flagged in the report"),
    Case("burst", "3", scripted(ttft_s=0.68, gap_s=0.0, burst=True), check_burst,
         "TTFT 680 ms; TPOT and decode not measurable (missing, with a note)"),
    Case("error-line", "4", scripted(mode="error_line"), check_error, "failed trial with the server's message"),
    Case("error-data", "4", scripted(mode="error_data"), check_error, "failed trial with the server's message"),
    Case("unfinished", "4", scripted(mode="unfinished"), check_unfinished,
         "failed (incomplete) trial: no finish reason, no [DONE]"),
    Case("sse-extras", "5", scripted(sse_extras=True), check_plain, "ignored: TTFT 300 ms, TPOT 20 ms, 20 tokens"),
    Case("delta-null", "6", scripted(final_delta="null"), check_plain, "20 tokens, finish reason stop"),
    Case("delta-missing", "6", scripted(final_delta="missing"), check_plain, "20 tokens, finish reason stop"),
    Case("whole-delta", "7", scripted(whole_field="delta"), check_whole_delta, "answer and usage read",
         stream=False),
    Case("whole-unknown", "7", scripted(whole_field="result"), check_whole_unknown,
         "a clear error naming the field and the server", stream=False),
    Case("api-key", "8", scripted(api_key=API_KEY), check_plain, "the key on every request; model loaded",
         env={"FOUNDRY_LOCAL_API_KEY": API_KEY}),
    Case("think-answer", "9", scripted(content_tokens=[THINK_ANSWER[i:i + 6] for i in range(0, len(THINK_ANSWER), 6)]),
         check_think_answer, "answer = the visible text only; facet score 1.0"),
]
BY_NAME = {case.name: case for case in CASES}
