"""What the scripted server of `tests/fixture_server.py` does: its `Script`, and each request it received.

Timing: first content token `ttft_s` after the request arrives, then one token every `gap_s` (absolute deadlines,
so no drift). Like Foundry Local, the first streamed chunk carries only the role, and usage comes in a last chunk
with empty `choices` only when the client asks for it with `stream_options.include_usage`.

Modes: "normal"; "cut_stream" closes the connection after `cut_after` tokens without finishing the body;
"http_500" answers every chat request with an error; "error_line" (llama.cpp) sends a non-SSE line
`error: {...}` on the 200 stream after the role chunk, then `data: [DONE]`; "error_data" sends the error object as
a `data:` payload instead; "unfinished" ends the body cleanly after the tokens, without a finish reason or [DONE].

Behaviours of real servers (issues #10 and #17), each a Script field: `reasoning_tokens` of the `tokens` are
reasoning, sent in `reasoning_style` ("reasoning_content", "reasoning", or "think": `<think>…</think>` inside
`content`); `tokens_per_chunk` > 1 packs tokens into one chunk (sent when its first token is due); `burst` sends
every token in one chunk when the last one is due; `sse_extras` adds every legal non-data SSE line (comments,
`retry:`, `event:`, `id:`, a data-less block); `final_delta` "null" / "missing" ends with a chunk whose delta is
null or absent; `whole_field` "delta" puts a non-streamed answer under `delta` instead of `message`; `api_key`
answers 401 without `Authorization: Bearer KEY` on every path but `/v1/models` (with the key, `/openai/load/NAME`
and `/openai/unload/NAME` answer 200, `/models/load/...` is an unknown route: 404); `prefix_cache` remembers each
exact prompt and answers a repeat after `cached_ttft_s`, reporting `usage.prompt_tokens_details.cached_tokens` and
llama.cpp's `timings.cache_n`, unless the request says `cache_prompt: false` (only when `honours_cache_prompt`);
`content_tokens` replaces the scripted token texts.
Issue #17: `content_parts` sends answer text as a list of content parts (`[{"type": "text", "text": …}]`);
`tail_s` waits that long after the finish-reason chunk before the usage chunk and `[DONE]` (vLLM PR 55508);
`usage_reasoning` "excluded" reports `completion_tokens` without the reasoning tokens and the reasoning apart in
`completion_tokens_details.reasoning_tokens` (some proxies), "included" (the default) counts them in and says so
in the details when there are any; `content_type` is the streamed response's Content-Type header; `loading_s`:
for that long after the server's first request, every route but `/v1/models` answers 503 "Loading model"
(llama.cpp, Docker Model Runner).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODES = ("normal", "cut_stream", "http_500", "error_line", "error_data", "unfinished")
REASONING_STYLES = ("reasoning_content", "reasoning", "think")
USAGE_REASONING = ("included", "excluded")
CONTEXT_ERROR = {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                 "type": "exceed_context_size_error"}
LOADING_ERROR = {"code": 503, "message": "Loading model", "type": "unavailable_error"}  # llama.cpp's words


@dataclass
class ReceivedRequest:
    """One request as the server saw it. Times are perf_counter() values: the same clock as an in-process client."""

    method: str
    path: str
    body: dict[str, Any] | None
    arrived: float  # the request had been read
    headers: dict[str, str] = field(default_factory=dict)  # lowercase names
    token_sent: list[float] = field(default_factory=list)  # each chunk of tokens was about to be written (streamed)
    completed: float | None = None  # the last bytes of the response were about to be written
    lateness_s: float = 0.0  # how far the server fell behind its script (e.g. under load from other processes)
    cached: bool = False  # answered from the prefix cache
    status: int = 200  # the HTTP status answered


@dataclass
class Script:
    """What the server does; `received` fills up as requests arrive."""

    model_id: str = "fixture-model:1"
    ttft_s: float = 0.2
    gap_s: float = 0.02
    tokens: int = 30  # answer length before max_tokens is applied
    usage: bool = True  # report usage (streamed only when the client asks for it)
    mode: str = "normal"
    cut_after: int = 5  # tokens sent before the connection is cut (mode "cut_stream")
    prompt_tokens: int = 17
    reasoning_tokens: int = 0  # the first this many of `tokens` are reasoning
    reasoning_style: str = "reasoning_content"
    tokens_per_chunk: int = 1
    burst: bool = False
    sse_extras: bool = False
    final_delta: str = "empty"  # "empty" ({}), "null", "missing"
    whole_field: str = "message"
    api_key: str | None = None
    prefix_cache: bool = False
    cached_ttft_s: float = 0.06
    honours_cache_prompt: bool = True
    content_tokens: list[str] | None = None
    content_parts: bool = False
    tail_s: float = 0.0
    usage_reasoning: str = "included"
    content_type: str = "text/event-stream"
    loading_s: float = 0.0
    received: list[ReceivedRequest] = field(default_factory=list)
    cache: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name, value, allowed in (("mode", self.mode, MODES), ("reasoning_style", self.reasoning_style,
                                     REASONING_STYLES), ("usage_reasoning", self.usage_reasoning, USAGE_REASONING)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.content_tokens is not None:
            self.tokens = self.reasoning_tokens + len(self.content_tokens)

    def token_text(self, index: int) -> str:
        if self.content_tokens is not None and index >= self.reasoning_tokens:
            return self.content_tokens[index - self.reasoning_tokens]
        return f" tok{index}"

    def delta(self, index: int, text: str) -> dict[str, str]:
        """The delta of token `index` carrying `text`: reasoning in the scripted style, or answer content."""
        if index >= self.reasoning_tokens:
            return {"content": text}
        if self.reasoning_style != "think":
            return {self.reasoning_style: text}
        opening = "<think>" if index == 0 else ""
        closing = "</think>" if index == self.reasoning_tokens - 1 else ""
        return {"content": opening + text + closing}

    def wire_delta(self, delta: dict[str, str]) -> dict[str, Any]:
        """A merged delta as sent: answer text as a list of content parts when `content_parts`."""
        if self.content_parts and "content" in delta:
            return delta | {"content": [{"type": "text", "text": delta["content"]}]}
        return dict(delta)

    def usage_report(self, n_tokens: int, cached: bool) -> dict[str, Any]:
        """The `usage` object for an answer of `n_tokens` (reasoning included) in the scripted convention."""
        reasoning = min(self.reasoning_tokens, n_tokens)
        completion = n_tokens - reasoning if self.usage_reasoning == "excluded" else n_tokens
        usage: dict[str, Any] = {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                                 "total_tokens": self.prompt_tokens + completion}
        if reasoning and (self.usage_reasoning == "excluded" or self.reasoning_style != "think"):
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        if self.prefix_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": self.prompt_tokens if cached else 0}
        return usage
