"""The kinds of issue #17 as rules, on their siblings: token accounting, trial status, body sniffing, content parts."""
from __future__ import annotations

import pytest

from helpers.measure import sse
from helpers.measure.accounting import Generated, count_output, trial_problem
from helpers.measure.openai_wire import Usage, content_text


def _generated(answer_chunks: int, reasoning_chunks: int, usage: Usage | None) -> Generated:
    answer, reasoning = " a" * answer_chunks, " r" * reasoning_chunks
    return Generated(answer=answer, reasoning=reasoning, raw=reasoning + answer, answer_chunks=answer_chunks,
                     reasoning_chunks=reasoning_chunks, chunks=answer_chunks + reasoning_chunks, streamed=True,
                     usage=usage)


@pytest.mark.parametrize(("answer", "reasoning", "usage", "expected"), [
    (10, 20, Usage(30, reasoning_tokens=20), (30, 20, "usage")),  # OpenAI's convention: reasoning counted in
    (10, 20, Usage(10, reasoning_tokens=20), (30, 20, "usage+reasoning")),  # apart, more than the completion
    (15, 8, Usage(15, reasoning_tokens=8), (23, 8, "usage+reasoning")),  # 15 - 8 cannot hold 15 answer chunks
    (10, 20, Usage(10), (30, 20, "usage+reasoning")),  # no reasoning count: 10 matches the answer alone
    (10, 20, Usage(0), (30, 20, "chunks")),  # usage 0 for a streamed answer: contradicted, counted another way
])
def test_usage_conventions_are_decided_from_what_the_server_sends(answer: int, reasoning: int, usage: Usage,
                                                                  expected: tuple) -> None:
    count = count_output(_generated(answer, reasoning, usage), tokenizer=None)
    assert (count.output, count.reasoning, count.source) == expected
    assert (count.note is None) == (expected[2] == "usage")


def test_neither_answer_nor_reasoning_is_never_ok_even_with_usage() -> None:
    problem = trial_problem(_generated(0, 0, Usage(20)), ended=True, completion_tokens=20)
    assert problem.startswith("EmptyResponse") and "20 output tokens" in problem
    assert trial_problem(_generated(0, 5, None), ended=True, completion_tokens=None) is None  # reasoning only: ok


@pytest.mark.parametrize(("chunks", "kind"), [
    ([b'data: {"a": 1}\n\n'], sse.EVENT_STREAM),
    ([b"da", b"ta", b': {"a": 1}\n\n'], sse.EVENT_STREAM),  # split anywhere
    ([b": keep-alive\n\n", b"data: x\n\n"], sse.EVENT_STREAM),
    ([b"\xef\xbb\xbf\n  {\"choices\": []}"], sse.JSON_BODY),
    ([b"<html>"], None),
    ([], None),
])
def test_the_body_decides_whether_it_is_a_stream(chunks: list[bytes], kind: str | None) -> None:
    found, body = sse.body_kind(chunks)
    assert found == kind and b"".join(body) == b"".join(chunks)


def test_content_parts_keep_answer_and_reasoning_apart() -> None:
    parts = [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
             {"type": "text", "text": "w3"}, {"type": "output_text", "text": " w4"}]
    assert content_text(parts) == ("w3 w4", "think")
    assert content_text("plain") == ("plain", "") and content_text(None) == ("", "")
