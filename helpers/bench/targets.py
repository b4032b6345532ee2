"""Where a benchmark sends its requests: the backend a BenchConfig names, from the one backend layer
(`serve.runners`: Runner, Backend, one runner per way of reaching a model), and the request of one trial.

A models.json entry with `"source": "endpoint"` and an `endpoint` URL is always reached over HTTP
(`runners.OpenAIServerRunner`), so such models (Ollama, vLLM, a llama.cpp server, Azure AI Foundry, another
Foundry Local) run side by side with in-process ones; its models.json name must be the id (or alias) the server
lists. A new engine is a new runner and backend in `serve.runners`; the protocol, records, statistics and reports
need no change.
"""
from __future__ import annotations

from ..build.threads import setting as thread_setting
from ..core import config as config_files
from ..core import paths
from ..measure.timing import ChatMessages, TrialTiming
from ..serve import runners
from ..serve.runners import Backend, Runner, declared_threads
from .settings import BenchConfig, Generation


def make_target(config: BenchConfig) -> Backend:
    """The backend a config asks for (`target`: inprocess | http; `endpoint`: the server, else the kit's own)."""
    return runners.backend(config.target, device=config.device, endpoint=config.endpoint,
                           timeout_s=config.request_timeout_s, server_pid=config.server_pid, threads=config.threads)


def timed_chat(runner: Runner, messages: ChatMessages, generation: Generation) -> TrialTiming:
    """One trial's request with the run's generation settings."""
    return runner.chat(messages, max_tokens=generation.max_tokens, temperature=generation.temperature,
                       seed=generation.seed, stream=generation.stream, extra=generation.extra)


def thread_settings(config: BenchConfig) -> dict[str, dict]:
    """Each model's thread setting as a run starts (the results header): the override (`--threads`) or the
    build's for models built here, a models.json endpoint model's declared `threads`, else not observable."""
    settings = {}
    for name in config.models:
        entry = config_files.load_models().models.get(name)
        if config.endpoint or (entry is not None and entry.source == "endpoint"):
            settings[name] = declared_threads(name)
            continue
        folder = next((root / name for root in (paths.bundled_models_dir(), paths.user_models_dir())
                       if (root / name / "genai_config.json").is_file()), None)
        settings[name] = thread_setting(folder, config.threads if folder else None)
    return settings
