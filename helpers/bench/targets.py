"""Where a benchmark sends its requests: the backend a BenchConfig names, from the one backend layer
(`serve.runners`: Runner, Backend, one runner per way of reaching a model), and the request of one trial.

A models.json entry with `"source": "endpoint"` and an `endpoint` URL is always reached over HTTP
(`runners.OpenAIServerRunner`), so such models (Ollama, vLLM, a llama.cpp server, Azure AI Foundry, another
Foundry Local) run side by side with in-process ones; its models.json name must be the id (or alias) the server
lists. A new engine is a new runner and backend in `serve.runners`; the protocol, records, statistics and reports
need no change.
"""
from __future__ import annotations

from ..measure.timing import ChatMessages, TrialTiming
from ..serve import runners
from ..serve.runners import Backend, Runner
from .settings import BenchConfig, Generation


def make_target(config: BenchConfig) -> Backend:
    """The backend a config asks for (`target`: inprocess | http; `endpoint`: the server, else the kit's own)."""
    return runners.backend(config.target, device=config.device, endpoint=config.endpoint,
                           timeout_s=config.request_timeout_s, server_pid=config.server_pid)


def timed_chat(runner: Runner, messages: ChatMessages, generation: Generation) -> TrialTiming:
    """One trial's request with the run's generation settings."""
    return runner.chat(messages, max_tokens=generation.max_tokens, temperature=generation.temperature,
                       seed=generation.seed, stream=generation.stream, extra=generation.extra)
