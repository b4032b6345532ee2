"""One timed request as a record: raw timestamps and counts (`TrialTiming`), every metric a derived property.

Definitions (vLLM `bench serve`, NVIDIA AIPerf), all times from `time.perf_counter()` on the client, relative to the
moment just before the request is sent:

- e2e: until the END OF GENERATION: the arrival of the last chunk carrying generated text, when the request was
  streamed and produced text; otherwise until the response was complete (or the error that ended it). What a
  server sends after its last token (a usage chunk, `[DONE]`, keep-alive comments) is not generation: the time
  until the response closed is recorded apart, as `close_s` (>= e2e).
- first token (`ttft_any`): until the first chunk carrying generated text of any kind, reasoning or answer.
- TTFT: until the first chunk carrying NON-EMPTY ANSWER text (a role-only chunk is not a token, reasoning is not
  answer text). For a model that does not reason, TTFT = first token.
- ITL: the gaps between consecutive chunks carrying generated text, one list per request.
- TPOT = (e2e - first token) / (output_tokens - 1), reasoning tokens included; decode_tps = its inverse in tokens
  per second; output_tps = output_tokens / e2e. All text in one chunk (a buffering server): TPOT and decode_tps
  are missing (`burst`).
- truncated: the answer was cut by max_tokens: `truncation` is "length" when the finish reason says so, "likely"
  when the output reached the cap (`output_tokens >= max_tokens`) although the server said it stopped (Foundry
  Local #243, ik_llama.cpp PR 2321 report `stop` at the cap), None otherwise.

How output tokens are counted and when a trial is ok: `helpers.measure.accounting`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TRUNCATED_BY_LENGTH, LIKELY_TRUNCATED = "length", "likely"


@dataclass
class TrialTiming:
    """Raw timestamps and counts of one request; metrics are derived properties."""

    start: float  # perf_counter() just before the request was sent (process-local clock)
    e2e_s: float  # request start -> end of generation (last token), or response complete / failed (module doc)
    ttft_s: float | None  # request start -> first non-empty ANSWER chunk; None when not streamed or no answer
    token_times: list[float] = field(default_factory=list)  # arrival of each chunk carrying generated text, s
    output_tokens: int | None = None  # every generated token, reasoning included
    tokens_source: str | None = None  # "usage" | "usage+reasoning" | "tokenizer" | "chunks" | None (unknown)
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
    close_s: float | None = None  # request start -> the response closed (after usage, [DONE]); None: = e2e_s
    max_tokens: int | None = None  # the cap the request asked for

    @property
    def end(self) -> float:
        return self.start + self.e2e_s

    @property
    def ok(self) -> bool:
        """True when the request completed without error; aggregate metrics over ok trials only."""
        return self.error is None

    @property
    def truncation(self) -> str | None:
        """"length" (the finish reason says cut), "likely" (output tokens reached max_tokens) or None."""
        if self.finish_reason == "length":
            return TRUNCATED_BY_LENGTH
        if self.max_tokens and self.output_tokens is not None and self.output_tokens >= self.max_tokens:
            return LIKELY_TRUNCATED
        return None

    @property
    def truncated(self) -> bool:
        """The answer was (likely) cut by max_tokens (or the context), not finished by the model."""
        return self.truncation is not None

    @property
    def e2e_ms(self) -> float:
        return self.e2e_s * 1000.0

    @property
    def close_ms(self) -> float:
        """Request start -> the response closed; equals e2e_ms when nothing came after the last token."""
        return (self.e2e_s if self.close_s is None else self.close_s) * 1000.0

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
            "truncation": self.truncation,
            "e2e_ms": self.e2e_ms,
            "close_ms": self.close_ms,
            "ttft_ms": self.ttft_ms,
            "ttft_any_ms": self.ttft_any_ms,
            "answer_tokens": self.answer_tokens,
            "tpot_ms": self.tpot_ms,
            "decode_tps": self.decode_tps,
            "output_tps": self.output_tps,
            "itl_ms": self.itl_ms,
        }
