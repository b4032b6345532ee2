"""The OpenAI chat-completions wire format as servers really send it, read from plain JSON (not the SDK's models).

The openai client's typed models assume a well-formed reply; real servers differ (issue #10): a null or missing
`delta`, reasoning in `reasoning_content` (vLLM, llama.cpp, DeepSeek) or `reasoning` (Ollama, OpenRouter) instead
of `content`, a non-streamed reply carrying `delta` where `message` belongs (older Foundry Local services), an
error object in a 200 stream, content as a list of content parts (`[{"type": "text", "text": …}]`, OpenAI's
content-part shape, sent by gateways and Databricks; a `reasoning`/`thinking` part holds reasoning). These
readers take the decoded JSON of one streamed chunk or of a whole reply and return what the kit measures, never
raising AttributeError on a missing part.

Token usage (`usage`): `completion_tokens`, `prompt_tokens`, `completion_tokens_details.reasoning_tokens` and
`prompt_tokens_details.cached_tokens` (OpenAI names; vLLM and llama.cpp fill the last); llama.cpp also reports
prompt tokens served from its cache as `timings.cache_n`.

A server still loading its model answers HTTP 503 (LOADING_STATUS, llama.cpp, Docker Model Runner);
`still_loading_text` is the one message for it, on the timing path and the management routes alike.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REASONING_FIELDS = ("reasoning_content", "reasoning")
REASONING_PART_TYPES = ("reasoning", "thinking")
LOADING_STATUS = 503  # a server still loading its model (llama.cpp, Docker Model Runner)


class ServerReplyError(RuntimeError):
    """The server reported an error inside a reply, or sent something that is not a chat completion."""


@dataclass(frozen=True)
class Usage:
    """Token counts a server reported; None where it did not say."""

    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True)
class Part:
    """What one streamed chunk (or a whole reply) carries."""

    content: str = ""  # answer text as sent in `content` (may hold <think> blocks)
    reasoning: str = ""  # text of a separate reasoning field
    finish_reason: str | None = None
    usage: Usage | None = None
    cached_tokens: int | None = None  # llama.cpp `timings.cache_n`, when present


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def error_message(payload: Any) -> str | None:
    """The message of an error object (`{"error": {"code", "message"}}`, `{"error": "text"}`), else None."""
    if not isinstance(payload, dict) or payload.get("error") in (None, "", {}):
        return None
    error = payload["error"]
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = error.get("message") or json.dumps(error)
        return f"{code}: {message}" if code else str(message)
    return str(error)


def read_usage(payload: dict[str, Any]) -> Usage | None:
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(
        completion_tokens=_int(usage.get("completion_tokens")),
        prompt_tokens=_int(usage.get("prompt_tokens")),
        reasoning_tokens=_int(_mapping(usage.get("completion_tokens_details")).get("reasoning_tokens")),
        cached_tokens=_int(_mapping(usage.get("prompt_tokens_details")).get("cached_tokens")),
    )


def _part_text(part: Any) -> str:
    """The text of one content part: a string, `text`, `thinking`, or the texts of a `summary` list."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    for name in ("text", "thinking"):
        if isinstance(part.get(name), str):
            return part[name]
    return "".join(_part_text(item) for item in part.get("summary") or [] if isinstance(item, (dict, str)))


def content_text(value: Any) -> tuple[str, str]:
    """(answer, reasoning) text of a `content` value: a string, or a list of content parts, where parts of type
    `reasoning`/`thinking` are reasoning and every other part with text is answer."""
    if isinstance(value, str):
        return value, ""
    if not isinstance(value, list):
        return "", ""
    answer, reasoning = [], []
    for part in value:
        kind = part.get("type") if isinstance(part, dict) else None
        (reasoning if kind in REASONING_PART_TYPES else answer).append(_part_text(part))
    return "".join(answer), "".join(reasoning)


def _reasoning(fields: dict[str, Any]) -> str:
    return "".join(content_text(fields.get(name))[0] for name in REASONING_FIELDS)


def _first_choice(payload: dict[str, Any]) -> dict[str, Any]:
    choices = payload.get("choices")
    return _mapping(choices[0]) if isinstance(choices, list) and choices else {}


def _part(payload: dict[str, Any], fields: dict[str, Any]) -> Part:
    content, reasoning_parts = content_text(fields.get("content"))
    return Part(
        content=content,
        reasoning=_reasoning(fields) + reasoning_parts,
        finish_reason=_first_choice(payload).get("finish_reason") or None,
        usage=read_usage(payload),
        cached_tokens=_int(_mapping(payload.get("timings")).get("cache_n")),
    )


def read_chunk(data: str) -> Part:
    """One streamed `data:` payload (not `[DONE]`). Raises ServerReplyError for an error object or non-JSON data."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError:
        raise ServerReplyError(f"a data line is not JSON: {data[:200]!r}") from None
    message = error_message(payload)
    if message:
        raise ServerReplyError(message)
    if not isinstance(payload, dict):
        raise ServerReplyError(f"a data line is not a JSON object: {data[:200]!r}")
    return _part(payload, _mapping(_first_choice(payload).get("delta")))


def read_reply(payload: Any, server: str) -> Part:
    """A whole (non-streamed) reply: `choices[0].message`, or `choices[0].delta` where an older service put it.

    Raises ServerReplyError naming the server and the field when the reply holds an error or neither field.
    """
    message = error_message(payload)
    if message:
        raise ServerReplyError(f"{server} replied with an error: {message}")
    if not isinstance(payload, dict):
        raise ServerReplyError(f"{server} replied with {type(payload).__name__} JSON, not a chat completion object")
    choice = _first_choice(payload)
    fields = next((choice[name] for name in ("message", "delta") if isinstance(choice.get(name), dict)), None)
    if fields is None:
        found = f"choices[0] has {sorted(choice)}" if choice else f"the reply has {sorted(payload)}"
        raise ServerReplyError(f"{server} sent a chat completion without choices[0].message (or choices[0].delta): "
                               f"{found}. Is it an OpenAI-compatible chat endpoint?")
    return _part(payload, fields)


def still_loading_text(url: str, detail: str, retry_after: str | None = None) -> str:
    """The one message for a server still loading its model: what it said, and when to retry."""
    when = (f"in {retry_after} s (its Retry-After)" if retry_after else
            f"in a minute or so, once `GET {url.rstrip('/').removesuffix('/v1')}/health` answers 200")
    return f"{url} is still loading its model (HTTP 503: {_loading_words(detail)}); retry {when}"


def _loading_words(detail: str) -> str:
    """The server's words: the `error.message` of a JSON error body, else the text (the status code left out)."""
    try:
        error = json.loads(detail).get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
    return (message or detail).strip().removeprefix(f"{LOADING_STATUS}:").strip()[:200]
