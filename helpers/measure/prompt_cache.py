"""Prompt (prefix) caches and TTFT: a cold prefill on every engine by default, a warm one only when asked.

A benchmark repeats each prompt every round. Servers with a prefix cache (llama.cpp's prompt cache, vLLM's
automatic prefix caching, SGLang's radix cache) then skip most of the prefill on every repeat, and TTFT falls to a
fraction of a cold one (issue #10: llama.cpp 210-290 ms cold, 55-75 ms cached), while Foundry Local has no such
cache: the comparison would be between a warm and a cold engine. Servers say so in each reply
(`usage.prompt_tokens_details.cached_tokens`, llama.cpp `timings.cache_n`); the kit records that per trial.

Cold mode (the default) defeats the cache in two ways:

- `NO_CACHE_FIELDS` (`cache_prompt: false`) goes in every HTTP request body: llama.cpp's switch. Servers without
  it ignore the unknown field (Foundry Local 2.2.1's web service does, checked; OpenAI-compatible servers
  generally accept extra body fields).
- A short per-request prefix (`request_prefix`, e.g. `[r1p0] `) starts the first message, so no two requests of a
  run share more than the chat template's first tokens, whatever the server does. It is deterministic (round,
  prompt position and kind of request), so every engine gets exactly the same prompts in the same round, and it is
  recorded with each trial (`prompt_prefix`). The trade-off: the prompt the model sees is a few tokens longer than
  the prompt set's, and a deterministic answer may differ from the one without the prefix.

Warm mode (`--prompt-cache warm`) sends the prompts as they are and leaves a server's cache on: TTFT then
measures the cached case on the rounds after the first, labelled as such in the report.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

COLD, WARM = "cold", "warm"
MODES = (COLD, WARM)
NO_CACHE_FIELDS: Mapping[str, object] = {"cache_prompt": False}
MODE_LABELS = {
    COLD: "cold prefill on every request (per-request prefix, cache_prompt: false)",
    WARM: "warm: prompts repeat unchanged, a server's prefix cache may serve them (TTFT of cached prompts)",
}


def request_prefix(mode: str, round_: int, position: int, kind: str = "r") -> str:
    """The prefix of one request: `[r{round}p{position}] ` for a measured trial (kind "r"), `[w...]` for a warm-up,
    `[c{level}...]` for a sweep; "" in warm mode."""
    return "" if mode == WARM else f"[{kind}{round_}p{position}] "


def with_prefix(messages: Sequence[Mapping[str, str]], prefix: str) -> list[dict[str, str]]:
    """The messages with `prefix` at the start of the first one's content (unchanged when the prefix is "")."""
    copied = [dict(message) for message in messages]
    if prefix and copied:
        copied[0]["content"] = prefix + copied[0]["content"]
    return copied


def request_fields(mode: str) -> dict[str, object]:
    """Extra request-body fields for HTTP requests in this mode."""
    return dict(NO_CACHE_FIELDS) if mode == COLD else {}
