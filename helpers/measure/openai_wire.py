"""The OpenAI chat-completions wire format as servers really send it, read from plain JSON (not the SDK's models).

The openai client's typed models assume a well-formed reply; real servers differ (issue #10): a null or missing
`delta`, reasoning in `reasoning_content` (vLLM, llama.cpp, DeepSeek) or `reasoning` (Ollama, OpenRouter) instead
of `content`, a non-streamed reply carrying `delta` where `message` belongs (older Foundry Local services), an
error object in a 200 stream. These readers take the decoded JSON of one streamed chunk or of a whole reply and
return what the kit measures, never raising AttributeError on a missing part.

Token usage (`usage`): `completion_tokens`, `prompt_tokens`, `completion_tokens_details.reasoning_tokens` and
`prompt_tokens_details.cached_tokens` (OpenAI names; vLLM and llama.cpp fill the last); llama.cpp also reports
prompt tokens served from its cache as `timings.cache_n`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REASONING_FIELDS = ("reasoning_content", "reasoning")


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


def _reasoning(fields: dict[str, Any]) -> str:
    return "".join(value for name in REASONING_FIELDS if isinstance(value := fields.get(name), str))


def _first_choice(payload: dict[str, Any]) -> dict[str, Any]:
    choices = payload.get("choices")
    return _mapping(choices[0]) if isinstance(choices, list) and choices else {}


def _part(payload: dict[str, Any], fields: dict[str, Any]) -> Part:
    content = fields.get("content")
    return Part(
        content=content if isinstance(content, str) else "",
        reasoning=_reasoning(fields),
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
