"""The rules that turn what a response carried into a trial's verdict: how many output tokens, and ok or not.

Token accounting (`count_output`). Output tokens are every generated token, reasoning included. The server's
usage report is taken when the stream does not contradict it; the stream gives evidence: every streamed chunk that
carried text held at least one token (a floor), and the model's own tokenizer, where the kit has it, an estimate.

- `usage`: `completion_tokens` counts every generated token (OpenAI's convention: reasoning included, split out in
  `completion_tokens_details.reasoning_tokens`).
- `usage+reasoning`: the server's `completion_tokens` left the reasoning out (some proxies report it apart); the
  output is completion + reasoning tokens. Decided from what the server sends: reasoning tokens above the
  completion tokens, or completion tokens that cannot hold the answer's streamed chunks once the reasoning is taken
  out of them (with the tokenizer: the convention whose answer count is nearer the tokenizer's); without a
  reasoning count, completion tokens that match the answer alone while reasoning text was streamed (the reasoning
  is then counted by the tokenizer or its chunks).
- `tokenizer` / `chunks`: no usage, or a usage report the stream contradicts (0 tokens, or fewer than the chunks
  that carried text): the model's tokenizer.json, else one token per streamed chunk (an undercount when a server
  packs several tokens per chunk). A contradicted usage report is named in the note.

Trial status (`trial_problem`, `trial_notes`): a trial fails when the response carried an error in any form, did not
end properly (no finish reason, no `[DONE]`), or carried neither answer nor reasoning text (never a silent ok, even
with a usage report). A trial with reasoning but no answer is ok with a note: cut by the cap (all tokens spent
thinking: --max-tokens is too small for this model) or stopped without answering. Output tokens equal to the cap
with finish `stop` are "likely truncated" (`TrialTiming.truncation`), with a note.
"""
from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from .openai_wire import Usage
from .tokens import count_tokens

CHUNKS_NOTE = ("no usage report and no tokenizer for this model: output tokens are counted as streamed chunks, "
               "an undercount when a server sends several tokens per chunk")
USAGE_APART_NOTE = ("the server's usage left the reasoning out of completion_tokens ({completion}); output tokens "
                    "= {completion} + {reasoning} reasoning tokens")


@dataclass(frozen=True)
class Generated:
    """What a response carried: the answer and reasoning texts, the chunks that carried each, the usage report."""

    answer: str
    reasoning: str
    raw: str  # every generated character in arrival order (reasoning fields and content, tags included)
    answer_chunks: int
    reasoning_chunks: int
    chunks: int  # chunks carrying any generated text
    streamed: bool
    usage: Usage | None


@dataclass(frozen=True)
class TokenCount:
    """Output tokens (reasoning included), how many were reasoning, the rule used (`tokens_source`) and a note."""

    output: int | None
    reasoning: int | None
    source: str | None
    note: str | None = None


def count_output(generated: Generated, tokenizer: Tokenizer | None) -> TokenCount:
    """Output tokens by the module's rule; reasoning tokens by the server, the tokenizer, or one-token chunks."""
    usage = generated.usage
    completion = usage.completion_tokens if usage else None
    floor = generated.chunks if generated.streamed else 0
    if completion is not None:
        reported = usage.reasoning_tokens
        if reported and _reasoning_left_out(generated, completion, reported, tokenizer):
            if completion + reported >= floor:
                return _apart(completion, reported)
        elif (completion > 0 or not generated.raw) and completion >= floor:
            reasoning = reported if reported is not None else _observed_reasoning(generated, tokenizer, completion)
            return TokenCount(completion, reasoning, "usage")
        elif generated.reasoning and completion >= generated.answer_chunks:  # usage counted the answer alone
            observed = _observed_reasoning(generated, tokenizer)
            if observed is not None and completion + observed >= floor:
                return _apart(completion, observed)
    counted = _counted(generated, tokenizer)
    distrust = (f"the server's usage said {completion} output tokens, which the {floor} streamed chunks of text "
                f"contradict: counted by {counted.source} instead" if completion is not None else None)
    note = "; ".join(n for n in (distrust, counted.note) if n) or None
    return TokenCount(counted.output, counted.reasoning, counted.source, note)


def _apart(completion: int, reasoning: int) -> TokenCount:
    note = USAGE_APART_NOTE.format(completion=completion, reasoning=reasoning)
    return TokenCount(completion + reasoning, reasoning, "usage+reasoning", note)


def _reasoning_left_out(generated: Generated, completion: int, reasoning: int, tokenizer: Tokenizer | None) -> bool:
    """Whether `completion_tokens` excludes the `reasoning_tokens` the server reported apart."""
    if reasoning > completion:
        return True
    if tokenizer is not None and generated.answer:
        answer = count_tokens(tokenizer, generated.answer)
        return abs(completion - answer) < abs(completion - reasoning - answer)
    return generated.streamed and completion - reasoning < generated.answer_chunks


def _observed_reasoning(generated: Generated, tokenizer: Tokenizer | None, total: int | None = None) -> int | None:
    """Reasoning tokens seen in the text: 0 without reasoning, else the tokenizer's, else chunks when a chunk is a
    token (`total` None, or equal to the chunks)."""
    if not generated.reasoning:
        return 0
    if tokenizer is not None:
        counted = count_tokens(tokenizer, generated.reasoning)
        return counted if total is None else min(counted, total)
    if generated.streamed and (total is None or total == generated.chunks):
        return generated.reasoning_chunks
    return None


def _counted(generated: Generated, tokenizer: Tokenizer | None) -> TokenCount:
    """Without a usable usage report: the tokenizer, else one token per streamed chunk."""
    if tokenizer is not None and generated.raw:
        output = count_tokens(tokenizer, generated.raw)
        return TokenCount(output, _observed_reasoning(generated, tokenizer, total=output), "tokenizer")
    if generated.streamed and generated.chunks:
        return TokenCount(generated.chunks, _observed_reasoning(generated, None), "chunks", CHUNKS_NOTE)
    return TokenCount(None, None, None)


def trial_problem(generated: Generated, ended: bool, completion_tokens: int | None) -> str | None:
    """Why a response that carried no error still failed, or None (the trial is ok)."""
    if not ended:
        return "IncompleteResponse: the response ended without a finish reason or [DONE]"
    if not generated.answer.strip() and not generated.reasoning.strip():
        said = f" (its usage reports {completion_tokens} output tokens)" if completion_tokens else ""
        return (f"EmptyResponse: the response carried no answer and no reasoning text{said}; if the server sent "
                "text, it is in a shape the kit does not read")
    return None


def trial_notes(generated: Generated, count: TokenCount, truncation: str | None, max_tokens: int | None,
                finish_reason: str | None) -> list[str]:
    """Notes an ok trial carries: reasoning without an answer, a likely truncation, how tokens were counted."""
    notes = [count.note] if count.note else []
    if not generated.answer.strip():
        if truncation:
            notes.append(f"no answer: every output token was reasoning until the cap; max_tokens ({max_tokens}) is "
                         "too small for this model to answer: raise --max-tokens")
        else:
            notes.append("no answer: the model reasoned, then stopped without answering")
    if truncation == "likely":
        notes.append(f"likely truncated: output tokens reached max_tokens ({max_tokens}) though the finish reason "
                     f"is `{finish_reason}`")
    return notes
