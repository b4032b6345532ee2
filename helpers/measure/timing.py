"""Time one chat request, on both paths: an OpenAI-compatible server over HTTP, or Foundry Local in-process.

Metric definitions (vLLM `bench serve`, NVIDIA AIPerf; e2e ends at the LAST TOKEN, the response's close is kept
apart): `helpers.measure.trial.TrialTiming`. How output tokens are counted when usage and the stream disagree, and
when a trial is ok: `helpers.measure.accounting`. Both paths fill the same `helpers.measure.recorder.TrialRecorder`.

Over HTTP the body decides how it is read, not the Content-Type header: a body that starts like an event stream
(`data:`, `:`, `event:`, `id:`, `retry:`) is read as one (`helpers.measure.sse`; foundry-dev-tools #195 streams as
`application/json`), a body that starts with `{` as one JSON reply (a server that ignored `stream: true`), and
anything else by its header. A server still loading its model (HTTP 503 "Loading model") fails the trial with a
message saying so and when to retry; the benchmark waits for such a server before measuring
(`helpers.serve.service_routes.wait_until_ready`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

from . import sse
from .openai_wire import ServerReplyError, Usage, error_message, read_chunk, read_reply, still_loading_text
from .recorder import TrialRecorder
from .tokens import tokenizer_for
from .trial import TrialTiming

NOT_SSE_NOTE = "the server ignored `stream: true` and sent one JSON reply: TTFT, ITL, TPOT are unavailable"
AUTO = "auto"

ChatMessages = Sequence[Mapping[str, str]]


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

    recorder = TrialRecorder(streamed=stream, tokenizer=tokenizer_for(model) if tokenizer == AUTO else tokenizer,
                             max_tokens=max_tokens)
    recorder.begin()
    try:
        with no_retry_client.chat.completions.with_streaming_response.create(**params, stream=stream) as response:
            kind, body = sse.body_kind(response.iter_bytes())
            labelled = response.headers.get("content-type", "")
            if kind == sse.EVENT_STREAM or (kind is None and "text/event-stream" in labelled):
                _consume_event_stream(body, recorder)  # not streamed when asked not to: no TTFT is claimed
            else:
                if stream:
                    recorder.notes.append(NOT_SSE_NOTE)
                    recorder.streamed = False
                whole = b"".join(body)
                recorder.complete()
                _read_whole_reply(whole, str(client.base_url), recorder)
    except openai.APIConnectionError as exc:  # "Connection error." alone does not say where
        recorder.fail(f"{type(exc).__name__}: cannot reach {client.base_url}: {exc.__cause__ or exc}")
    except openai.APIStatusError as exc:
        recorder.fail(_status_error(exc, str(client.base_url)))
    except Exception as exc:  # measured, never raised: the caller decides what a failed trial means
        recorder.fail(exc)
    return recorder.result()


def _consume_event_stream(body: Iterable[bytes], recorder: TrialRecorder) -> None:
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


def _status_error(exc: openai.APIStatusError, server: str) -> BaseException | str:
    """A 503 of a server still loading its model as a message that says so and when to retry; others as they are."""
    detail = error_message(exc.body if isinstance(exc.body, dict) and "error" in exc.body else {"error": exc.body})
    if exc.status_code == 503 and "loading" in f"{detail} {exc.message}".lower():
        retry_after = exc.response.headers.get("retry-after")
        return f"ServerLoading: {still_loading_text(server, detail or exc.message, retry_after)}"
    return exc


def _error_text(value: str) -> str:
    """The message of an error event's value (JSON error object or plain text)."""
    try:
        payload = json.loads(value)
    except json.JSONDecodeError:
        return value.strip()[:500]
    return error_message({"error": payload}) or value.strip()[:500]


def _read_whole_reply(body: bytes, server: str, recorder: TrialRecorder) -> None:
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


def record_sdk_text(item: object, recorder: TrialRecorder) -> None:
    """Give `recorder` one foundry_local_sdk streamed item: a TextItem of type DEFAULT as answer text, REASONING as
    reasoning text; any other item is ignored. Public: benchmarks/harness_overhead.py times it per token."""
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
        recorder = TrialRecorder(streamed=stream, on_token=on_token, max_tokens=max_tokens)
        recorder.begin()
        try:
            if stream:
                with session.process_streaming_request(request) as items:
                    for item in items:
                        record_sdk_text(item, recorder)
                    recorder.complete()
                    with items.final_response as final:
                        _record_sdk_final(final, recorder)
            else:
                with session.process_request(request) as response:
                    recorder.complete()
                    for item in _text_parts(response):
                        record_sdk_text(item, recorder)
                    _record_sdk_final(response, recorder)
        except Exception as exc:  # measured, never raised
            recorder.fail(exc)
    return recorder.result()


def _record_sdk_final(response: Any, recorder: TrialRecorder) -> None:
    """Finish reason (in OpenAI spelling) and token usage from a foundry_local_sdk Response."""
    reason = response.finish_reason
    recorder.finish_reason = None if reason == FinishReason.NONE else reason.name.lower()
    recorder.ended = True  # the SDK returned its final response
    if reason == FinishReason.ERROR:
        recorder.fail("RuntimeError: runtime reported finish_reason=error")
    usage = response.get_usage()
    recorder.usage(Usage(completion_tokens=usage.completion_tokens, prompt_tokens=usage.prompt_tokens))
