"""Time one chat request, with the metric definitions of vLLM `bench serve` and NVIDIA AIPerf.

Every timestamp comes from `time.perf_counter()` on the client, relative to the moment just before the request is
sent:

- e2e: until the response is complete (end of stream, or the error that ended it).
- TTFT: until the first chunk carrying NON-EMPTY answer content. A role-only first chunk is not a token, and
  reasoning text (TextItemType.REASONING in-process) is not answer content.
- ITL: gaps between consecutive content chunks.
- TPOT = (e2e - TTFT) / (output_tokens - 1): mean time per output token after the first.
- decode_tps = (output_tokens - 1) / (e2e - TTFT); output_tps = output_tokens / e2e.

Prompt tokens never enter a rate: `total_tokens / latency` is neither a decode rate nor an output rate.
Output tokens come from the server's usage report when there is one (`tokens_source="usage"`), otherwise from the
number of non-empty content chunks (`"counted"`, one chunk is assumed to be one token).

Both request paths (OpenAI-compatible HTTP and Foundry Local in-process) fill the same `_TrialRecorder`, and every
metric is derived in one place: the properties of `TrialTiming`.
"""
from __future__ import annotations

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

NO_STREAM_NOTE = "not streamed: TTFT, ITL, TPOT and decode rate are unavailable without streaming"

ChatMessages = Sequence[Mapping[str, str]]


@dataclass
class TrialTiming:
    """Raw timestamps and counts of one request; metrics are derived properties."""

    start: float  # perf_counter() just before the request was sent (process-local clock)
    e2e_s: float  # request start -> response complete (or failed)
    ttft_s: float | None  # request start -> first non-empty content chunk; None when not streamed or no content
    token_times: list[float] = field(default_factory=list)  # arrival of each content chunk, s after start
    output_tokens: int | None = None
    tokens_source: str | None = None  # "usage" | "counted" | None (unknown)
    prompt_tokens: int | None = None
    finish_reason: str | None = None  # OpenAI spelling: "stop", "length", "tool_calls", ...
    error: str | None = None
    text: str = ""
    streamed: bool = True
    note: str | None = None

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
    def _decode_s(self) -> float | None:
        """Time spent after the first token, when a per-token decode metric is defined."""
        if self.ttft_s is None or self.output_tokens is None or self.output_tokens < 2:
            return None
        decode_s = self.e2e_s - self.ttft_s
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
            "tpot_ms": self.tpot_ms,
            "decode_tps": self.decode_tps,
            "output_tps": self.output_tps,
            "itl_ms": self.itl_ms,
        }


class _TrialRecorder:
    """Collects what one request produces; does nothing but record while the clock runs."""

    def __init__(self, streamed: bool, on_token: Callable[[str], None] | None = None) -> None:
        self.streamed = streamed
        self.on_token = on_token
        self.start = 0.0
        self.e2e_s: float | None = None
        self.token_times: list[float] = []
        self.parts: list[str] = []
        self.completion_tokens: int | None = None
        self.prompt_tokens: int | None = None
        self.finish_reason: str | None = None
        self.error: str | None = None

    def begin(self) -> None:
        self.start = time.perf_counter()

    def chunk(self, content: str | None) -> None:
        """A streamed chunk arrived; only non-empty content counts as a token."""
        if content:
            self.token_times.append(time.perf_counter() - self.start)
            self.parts.append(content)
            if self.on_token is not None:
                self.on_token(content)

    def complete(self) -> None:
        self.e2e_s = time.perf_counter() - self.start

    def fail(self, exc: BaseException) -> None:
        """Record an error that ended the request; partial tokens stay."""
        if self.e2e_s is None:
            self.complete()
        self.error = f"{type(exc).__name__}: {exc}"

    def result(self) -> TrialTiming:
        if self.completion_tokens is not None:
            output_tokens, tokens_source = self.completion_tokens, "usage"
        elif self.streamed:
            output_tokens, tokens_source = len(self.token_times), "counted"
        else:
            output_tokens, tokens_source = None, None
        return TrialTiming(
            start=self.start,
            e2e_s=self.e2e_s if self.e2e_s is not None else 0.0,
            ttft_s=self.token_times[0] if self.streamed and self.token_times else None,
            token_times=self.token_times if self.streamed else [],
            output_tokens=output_tokens,
            tokens_source=tokens_source,
            prompt_tokens=self.prompt_tokens,
            finish_reason=self.finish_reason,
            error=self.error,
            text="".join(self.parts),
            streamed=self.streamed,
            note=None if self.streamed else NO_STREAM_NOTE,
        )


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
) -> TrialTiming:
    """Time one chat completion against an OpenAI-compatible server.

    Streams with `include_usage` so the server's token count is used when it sends one. Retries are disabled
    for this call; any failure (HTTP error, connection cut mid-stream, timeout) is returned in `error` with the
    tokens received so far. `extra` holds additional request-body fields (sent as `extra_body`).
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

    recorder = _TrialRecorder(streamed=stream)
    recorder.begin()
    try:
        if stream:
            _consume_openai_stream(no_retry_client, params, recorder)
        else:
            _read_openai_response(no_retry_client, params, recorder)
    except Exception as exc:  # measured, never raised: the caller decides what a failed trial means
        recorder.fail(exc)
    return recorder.result()


def _consume_openai_stream(client: openai.OpenAI, params: dict[str, Any], recorder: _TrialRecorder) -> None:
    with client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}) as chunks:
        for chunk in chunks:
            if chunk.choices:
                choice = chunk.choices[0]
                recorder.chunk(choice.delta.content)
                if choice.finish_reason:
                    recorder.finish_reason = choice.finish_reason
            if chunk.usage is not None:
                recorder.completion_tokens = chunk.usage.completion_tokens
                recorder.prompt_tokens = chunk.usage.prompt_tokens
        recorder.complete()


def _read_openai_response(client: openai.OpenAI, params: dict[str, Any], recorder: _TrialRecorder) -> None:
    response = client.chat.completions.create(**params, stream=False)
    recorder.complete()
    if response.choices:
        choice = response.choices[0]
        recorder.parts.append(choice.message.content or "")
        recorder.finish_reason = choice.finish_reason
    if response.usage is not None:
        recorder.completion_tokens = response.usage.completion_tokens
        recorder.prompt_tokens = response.usage.prompt_tokens


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


def _is_answer_text(item: object) -> bool:
    return isinstance(item, TextItem) and item.type == TextItemType.DEFAULT


def _answer_texts(items: Iterable[object]) -> Iterator[str]:
    """Answer text of a whole Response: its items are assistant MessageItems holding TextItem parts."""
    for item in items:
        if isinstance(item, MessageItem):
            yield from _answer_texts(item.parts)
        elif _is_answer_text(item):
            yield item.text


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
                        if _is_answer_text(item):
                            recorder.chunk(item.text)
                    recorder.complete()
                    with items.final_response as final:
                        _record_sdk_final(final, recorder)
            else:
                with session.process_request(request) as response:
                    recorder.complete()
                    recorder.parts.extend(_answer_texts(response))
                    _record_sdk_final(response, recorder)
        except Exception as exc:  # measured, never raised
            recorder.fail(exc)
    return recorder.result()


def _record_sdk_final(response: Any, recorder: _TrialRecorder) -> None:
    """Finish reason (in OpenAI spelling) and token usage from a foundry_local_sdk Response."""
    reason = response.finish_reason
    recorder.finish_reason = None if reason == FinishReason.NONE else reason.name.lower()
    if reason == FinishReason.ERROR and recorder.error is None:
        recorder.error = "runtime reported finish_reason=error"
    usage = response.get_usage()
    recorder.completion_tokens = usage.completion_tokens
    recorder.prompt_tokens = usage.prompt_tokens
