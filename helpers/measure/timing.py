"""Time one chat request, with the metric definitions of vLLM `bench serve` and NVIDIA AIPerf.

Every timestamp comes from `time.perf_counter()` on the client, relative to the moment just before the request is
sent:

- e2e: until the response is complete (end of stream, or the error that ended it).
- first token (`ttft_any`): until the first chunk carrying generated text of any kind, reasoning or answer.
- TTFT: until the first chunk carrying NON-EMPTY ANSWER text. A role-only first chunk is not a token, and
  reasoning (a `reasoning_content` / `reasoning` field, `<think>` blocks in the content, TextItemType.REASONING
  in-process) is not answer text. For a model that does not reason, TTFT = first token.
- ITL (inter-token latency): the gaps between consecutive chunks carrying generated text, one list per request.
  AIPerf calls the per-request mean of these gaps "inter token latency"; that is the kit's TPOT.
- TPOT = (e2e - first token) / (output_tokens - 1): mean time per output token after the first, reasoning tokens
  included (they are generated like any other). decode_tps = (output_tokens - 1) / (e2e - first token);
  output_tps = output_tokens / e2e. When all the text arrives in one chunk (a server that buffers), there is no
  decode window to measure: TPOT and decode_tps are missing and `note` says why.

Prompt tokens never enter a rate: `total_tokens / latency` is neither a decode rate nor an output rate.
Output tokens (reasoning included) are counted by the first rule that applies, recorded in `tokens_source`:
`usage` (the server's usage report), `tokenizer` (the model's own tokenizer.json, where the kit has the model's
folder), `chunks` (streamed chunks carrying text: one chunk is assumed to be one token, which undercounts a
server that sends several tokens per chunk). `reasoning_tokens` / `answer_tokens` split them where the server
(`completion_tokens_details.reasoning_tokens`), the tokenizer, or one-token chunks tell them apart.

A trial is ok only when the response ended properly (a finish reason or `[DONE]`) with an answer or a usage
report, and carried no error in any form (HTTP status, an `error` event or line, an `{"error": ...}` payload).

Both request paths (OpenAI-compatible HTTP and Foundry Local in-process) fill the same `_TrialRecorder`, and every
metric is derived in one place: the properties of `TrialTiming`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import openai
from foundry_local_sdk import (
    ChatSession,
    FinishReason,
    IModel,
    MessageItem,
    Request,
    RequestOptions,
    SearchOptions,
    TextItem,
    TextItemType,
)
from tokenizers import Tokenizer

from ..core.api_key import redact
from ..core.errors import error_text
from . import sse
from .openai_wire import Part, ServerReplyError, Usage, error_message, read_chunk, read_reply
from .reasoning import split_pieces
from .tokens import count_tokens, tokenizer_for

NO_STREAM_NOTE = "not streamed: TTFT, ITL, TPOT and decode rate are unavailable without streaming"
BURST_NOTE = ("all generated text arrived in one chunk (the server buffered it): TPOT and decode rate are not "
              "measurable")
CHUNKS_NOTE = ("no usage report and no tokenizer for this model: output tokens are counted as streamed chunks, "
               "an undercount when a server sends several tokens per chunk")
NOT_SSE_NOTE = "the server ignored `stream: true` and sent one JSON reply: TTFT, ITL, TPOT are unavailable"
AUTO = "auto"

ChatMessages = Sequence[Mapping[str, str]]


@dataclass
class TrialTiming:
    """Raw timestamps and counts of one request; metrics are derived properties."""

    start: float  # perf_counter() just before the request was sent (process-local clock)
    e2e_s: float  # request start -> response complete (or failed)
    ttft_s: float | None  # request start -> first non-empty ANSWER chunk; None when not streamed or no answer
    token_times: list[float] = field(default_factory=list)  # arrival of each chunk carrying generated text, s
    output_tokens: int | None = None  # every generated token, reasoning included
    tokens_source: str | None = None  # "usage" | "tokenizer" | "chunks" | None (unknown)
    prompt_tokens: int | None = None
    finish_reason: str | None = None  # OpenAI spelling: "stop", "length", "tool_calls", ...
    error: str | None = None
    text: str = ""  # the answer, reasoning left out
    streamed: bool = True
    note: str | None = None
    ttft_any_s: float | None = None  # request start -> first chunk of generated text of any kind (None: = ttft_s)
    reasoning_tokens: int | None = None  # of output_tokens; None where nothing tells them apart
    reasoning: str = ""  # the reasoning text (separate field, <think> blocks, TextItemType.REASONING)
    cached_tokens: int | None = None  # prompt tokens the server served from its prefix cache, when it says

    @property
    def end(self) -> float:
        return self.start + self.e2e_s

    @property
    def ok(self) -> bool:
        """True when the request completed without error; aggregate metrics over ok trials only."""
        return self.error is None

    @property
    def truncated(self) -> bool:
        """The answer was cut by max_tokens (or the context), not finished by the model."""
        return self.finish_reason == "length"

    @property
    def e2e_ms(self) -> float:
        return self.e2e_s * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        return None if self.ttft_s is None else self.ttft_s * 1000.0

    @property
    def first_token_s(self) -> float | None:
        """Time to the first generated token of any kind (reasoning or answer)."""
        return self.ttft_s if self.ttft_any_s is None else self.ttft_any_s

    @property
    def ttft_any_ms(self) -> float | None:
        first = self.first_token_s
        return None if first is None else first * 1000.0

    @property
    def answer_tokens(self) -> int | None:
        if self.output_tokens is None or self.reasoning_tokens is None:
            return None
        return max(self.output_tokens - self.reasoning_tokens, 0)

    @property
    def burst(self) -> bool:
        """Several tokens, all in one streamed chunk: no decode window was observable."""
        return len(self.token_times) == 1 and (self.output_tokens or 0) >= 2

    @property
    def _decode_s(self) -> float | None:
        """Time spent after the first token, when a per-token decode metric is defined."""
        first = self.first_token_s
        if first is None or self.output_tokens is None or self.output_tokens < 2 or self.burst:
            return None
        decode_s = self.e2e_s - first
        return decode_s if decode_s > 0 else None

    @property
    def tpot_ms(self) -> float | None:
        decode_s = self._decode_s
        return None if decode_s is None else decode_s * 1000.0 / (self.output_tokens - 1)

    @property
    def decode_tps(self) -> float | None:
        decode_s = self._decode_s
        return None if decode_s is None else (self.output_tokens - 1) / decode_s

    @property
    def output_tps(self) -> float | None:
        if self.output_tokens is None or self.e2e_s <= 0:
            return None
        return self.output_tokens / self.e2e_s

    @property
    def itl_ms(self) -> list[float]:
        return [(later - earlier) * 1000.0 for earlier, later in zip(self.token_times, self.token_times[1:])]

    def to_record(self) -> dict[str, Any]:
        """JSON-safe dict: the raw fields plus every derived metric."""
        return asdict(self) | {
            "ok": self.ok,
            "truncated": self.truncated,
            "e2e_ms": self.e2e_ms,
            "ttft_ms": self.ttft_ms,
            "ttft_any_ms": self.ttft_any_ms,
            "answer_tokens": self.answer_tokens,
            "tpot_ms": self.tpot_ms,
            "decode_tps": self.decode_tps,
            "output_tps": self.output_tps,
            "itl_ms": self.itl_ms,
        }


class _TrialRecorder:
    """Collects what one request produces; does nothing but record while the clock runs (counting comes after)."""

    def __init__(self, streamed: bool, on_token: Callable[[str], None] | None = None,
                 tokenizer: Tokenizer | None = None) -> None:
        self.streamed = streamed
        self.on_token = on_token
        self.tokenizer = tokenizer
        self.start = 0.0
        self.e2e_s: float | None = None
        self.pieces: list[tuple[float, str, str]] = []  # (arrival s, content text, reasoning-field text)
        self.completion_tokens: int | None = None
        self.prompt_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.finish_reason: str | None = None
        self.ended = False  # the response ended properly ([DONE], a finish reason, or a complete reply)
        self.error: str | None = None
        self.notes: list[str] = [] if streamed else [NO_STREAM_NOTE]

    def begin(self) -> None:
        self.start = time.perf_counter()

    def chunk(self, content: str | None, reasoning: str | None = None) -> None:
        """Generated text arrived (answer `content`, and/or text of a separate reasoning field)."""
        if content or reasoning:
            self.pieces.append((time.perf_counter() - self.start, content or "", reasoning or ""))
            if self.on_token is not None and content:
                self.on_token(content)

    def part(self, part: Part) -> None:
        """A streamed chunk or a whole reply, as `openai_wire` read it."""
        self.chunk(part.content, part.reasoning)
        if part.finish_reason:
            self.finish_reason = part.finish_reason
            self.ended = True
        if part.usage is not None:
            self.usage(part.usage)
        if part.cached_tokens is not None:
            self.cached_tokens = part.cached_tokens

    def usage(self, usage: Usage) -> None:
        self.completion_tokens = usage.completion_tokens
        self.prompt_tokens = usage.prompt_tokens
        self.reasoning_tokens = usage.reasoning_tokens
        if usage.cached_tokens is not None:
            self.cached_tokens = usage.cached_tokens

    def complete(self) -> None:
        self.e2e_s = time.perf_counter() - self.start

    def fail(self, exc: BaseException | str) -> None:
        """Record an error that ended the request; partial tokens stay."""
        if self.e2e_s is None:
            self.complete()
        if self.error is None:
            self.error = redact(exc) if isinstance(exc, str) else error_text(exc)

    def _count(self, text: str) -> int:
        return count_tokens(self.tokenizer, text)

    def result(self) -> TrialTiming:
        labelled = split_pieces([content for _, content, _ in self.pieces])
        times, answer_times, answers, thoughts, raw = [], [], [], [], []
        for (arrived, content, field_reasoning), (answer, inline_reasoning) in zip(self.pieces, labelled):
            thought = field_reasoning + inline_reasoning
            times.append(arrived)
            if answer:
                answer_times.append(arrived)
                answers.append(answer)
            if thought:
                thoughts.append(thought)
            raw.append(field_reasoning + content)
        text, reasoning_text = "".join(answers), "".join(thoughts)
        if self.error is None and not self.ended:
            self.fail("IncompleteResponse: the response ended without a finish reason or [DONE]")
        if self.error is None and not text.strip() and self.completion_tokens is None:
            self.fail("EmptyResponse: the response carried no answer text and no usage report")
        output_tokens, source = self._output_tokens("".join(raw), len(times))
        if source == "chunks":
            self.notes.append(CHUNKS_NOTE)
        timing = TrialTiming(
            start=self.start,
            e2e_s=self.e2e_s if self.e2e_s is not None else 0.0,
            ttft_s=answer_times[0] if self.streamed and answer_times else None,
            token_times=times if self.streamed else [],
            output_tokens=output_tokens,
            tokens_source=source,
            prompt_tokens=self.prompt_tokens,
            finish_reason=self.finish_reason,
            error=self.error,
            text=text,
            streamed=self.streamed,
            ttft_any_s=times[0] if self.streamed and times else None,
            reasoning_tokens=self._reasoning_tokens(reasoning_text, output_tokens, len(thoughts), len(times)),
            reasoning=reasoning_text,
            cached_tokens=self.cached_tokens,
        )
        if timing.burst:
            self.notes.append(BURST_NOTE)
        timing.note = "; ".join(self.notes) or None
        return timing

    def _output_tokens(self, generated: str, chunks: int) -> tuple[int | None, str | None]:
        if self.completion_tokens is not None:
            return self.completion_tokens, "usage"
        if self.tokenizer is not None and generated:
            return self._count(generated), "tokenizer"
        if self.streamed and chunks:
            return chunks, "chunks"
        return None, None

    def _reasoning_tokens(self, reasoning_text: str, output_tokens: int | None, reasoning_chunks: int,
                          chunks: int) -> int | None:
        """Server's count, else 0 without reasoning, else the tokenizer's, else chunks when a chunk is a token."""
        if self.reasoning_tokens is not None:
            return self.reasoning_tokens
        if not reasoning_text:
            return 0 if output_tokens is not None else None
        if self.tokenizer is not None:
            return min(self._count(reasoning_text), output_tokens or 0)
        return reasoning_chunks if self.streamed and chunks == output_tokens else None


def time_openai_chat(
    client: openai.OpenAI,
    model: str,
    messages: ChatMessages,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
    stream: bool = True,
    extra: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    tokenizer: Tokenizer | None | str = AUTO,
) -> TrialTiming:
    """Time one chat completion against an OpenAI-compatible server.

    Streams with `include_usage` so the server's token count is used when it sends one; the event stream is read
    by `helpers.measure.sse` (the openai client's own decoder fails on legal events without data) and each chunk by
    `helpers.measure.openai_wire`. Retries are disabled for this call; any failure (HTTP status, connection refused or cut
    mid-stream, timeout, an error inside a 200 stream, a stream that never finished) is returned in `error` with
    the tokens received so far; an unreachable server is named by its URL. `extra` holds additional request-body
    fields. `tokenizer`: counts output tokens when the server reports no usage; "auto" looks up the model's
    tokenizer.json in the kit's model folders (`helpers.measure.tokens`), None counts chunks instead.
    """
    client_options: dict[str, Any] = {"max_retries": 0}
    if timeout is not None:
        client_options["timeout"] = timeout
    no_retry_client = client.with_options(**client_options)
    params: dict[str, Any] = {
        "model": model,
        "messages": [dict(message) for message in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    if seed is not None:
        params["seed"] = seed
    if extra:
        params["extra_body"] = dict(extra)
    if stream:
        params["stream_options"] = {"include_usage": True}

    recorder = _TrialRecorder(streamed=stream, tokenizer=tokenizer_for(model) if tokenizer == AUTO else tokenizer)
    recorder.begin()
    try:
        with no_retry_client.chat.completions.with_streaming_response.create(**params, stream=stream) as response:
            if stream and "text/event-stream" in response.headers.get("content-type", ""):
                _consume_event_stream(response.iter_bytes(), recorder)
            else:
                if stream:
                    recorder.notes.append(NOT_SSE_NOTE)
                    recorder.streamed = False
                body = response.read()
                recorder.complete()
                _read_whole_reply(body, str(client.base_url), recorder)
    except openai.APIConnectionError as exc:  # "Connection error." alone does not say where
        recorder.fail(f"{type(exc).__name__}: cannot reach {client.base_url}: {exc.__cause__ or exc}")
    except Exception as exc:  # measured, never raised: the caller decides what a failed trial means
        recorder.fail(exc)
    return recorder.result()


def _consume_event_stream(body: Iterable[bytes], recorder: _TrialRecorder) -> None:
    """Read an SSE chat stream until `[DONE]` or its end; errors in any form raise ServerReplyError."""
    for event in sse.iter_events(body):
        for name, value in event.other_fields:
            if name.strip().lower() == "error":  # llama.cpp: a non-SSE `error: {...}` line in a 200 stream
                raise ServerReplyError(_error_text(value))
        if event.data is None:
            continue
        if event.event == "error":
            raise ServerReplyError(_error_text(event.data))
        if event.data.strip() == "[DONE]":
            recorder.ended = True
            break
        recorder.part(read_chunk(event.data))
    recorder.complete()


def _error_text(value: str) -> str:
    """The message of an error event's value (JSON error object or plain text)."""
    try:
        payload = json.loads(value)
    except json.JSONDecodeError:
        return value.strip()[:500]
    return error_message({"error": payload}) or value.strip()[:500]


def _read_whole_reply(body: bytes, server: str, recorder: _TrialRecorder) -> None:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        raise ServerReplyError(f"{server} sent a reply that is not JSON: {body[:200]!r}") from None
    recorder.part(read_reply(payload, server))
    recorder.ended = True


_MESSAGE_BUILDERS = {
    "system": MessageItem.system,
    "user": MessageItem.user,
    "assistant": MessageItem.assistant,
    "developer": MessageItem.developer,
}


def _sdk_request(messages: ChatMessages) -> Request:
    """OpenAI-style `{"role", "content"}` messages as one foundry_local_sdk Request."""
    request = Request()
    for message in messages:
        role = message["role"]
        if role not in _MESSAGE_BUILDERS:
            raise ValueError(f"unsupported message role {role!r}; expected one of {sorted(_MESSAGE_BUILDERS)}")
        request.add_item(_MESSAGE_BUILDERS[role](message["content"]))
    return request


def _text_parts(items: Iterable[object]) -> Iterator[TextItem]:
    """Text parts of a whole Response: its items are assistant MessageItems holding TextItem parts."""
    for item in items:
        if isinstance(item, MessageItem):
            yield from _text_parts(item.parts)
        elif isinstance(item, TextItem):
            yield item


def _record_text(item: object, recorder: _TrialRecorder) -> None:
    """An SDK text item as answer (TextItemType.DEFAULT) or reasoning (TextItemType.REASONING) text."""
    if isinstance(item, TextItem) and item.type == TextItemType.DEFAULT:
        recorder.chunk(item.text)
    elif isinstance(item, TextItem) and item.type == TextItemType.REASONING:
        recorder.chunk(None, item.text)


def time_inprocess_chat(
    model: IModel,
    messages: ChatMessages,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
    stream: bool = True,
    on_token: Callable[[str], None] | None = None,
) -> TrialTiming:
    """Time one chat request on a loaded Foundry Local model, in-process (foundry_local_sdk 2.x).

    A fresh ChatSession per call, because a session keeps conversation history. Setup problems (model not loaded,
    wrong task, bad role) raise before the clock starts; failures of the request itself go to `error`.
    `on_token(text)` is called with each streamed token after its arrival time is recorded (to show the answer
    live); its own cost falls inside the decode time, so keep it cheap and leave it out of benchmarks.
    """
    with ChatSession(model) as session, _sdk_request(messages) as request:
        session.set_options(
            RequestOptions(search=SearchOptions(temperature=temperature, max_output_tokens=max_tokens, seed=seed))
        )
        session.set_streaming(stream)
        recorder = _TrialRecorder(streamed=stream, on_token=on_token)
        recorder.begin()
        try:
            if stream:
                with session.process_streaming_request(request) as items:
                    for item in items:
                        _record_text(item, recorder)
                    recorder.complete()
                    with items.final_response as final:
                        _record_sdk_final(final, recorder)
            else:
                with session.process_request(request) as response:
                    recorder.complete()
                    for item in _text_parts(response):
                        _record_text(item, recorder)
                    _record_sdk_final(response, recorder)
        except Exception as exc:  # measured, never raised
            recorder.fail(exc)
    return recorder.result()


def _record_sdk_final(response: Any, recorder: _TrialRecorder) -> None:
    """Finish reason (in OpenAI spelling) and token usage from a foundry_local_sdk Response."""
    reason = response.finish_reason
    recorder.finish_reason = None if reason == FinishReason.NONE else reason.name.lower()
    recorder.ended = True  # the SDK returned its final response
    if reason == FinishReason.ERROR:
        recorder.fail("RuntimeError: runtime reported finish_reason=error")
    usage = response.get_usage()
    recorder.usage(Usage(completion_tokens=usage.completion_tokens, prompt_tokens=usage.prompt_tokens))
