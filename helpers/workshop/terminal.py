"""The seed's terminal verbs for the kit: `model list | download | run`, `cache list | remove`.

The workshop runs `foundry model list`, `foundry model download X`, `foundry cache list` and
`foundry model run X --prompt "…"`; `foundry-lab` answers the same verbs. They work on the kit's in-process
runtime (bundled, converted and catalog models), or, with FOUNDRY_LOCAL_ENDPOINT pointing at the Foundry Local
app's service, on that service: its catalog, its cache, models loaded there (the device as `ep`).

`model run` streams the answer (in-process; over HTTP it prints when complete), then one line with TTFT, decode
tok/s and tokens. Without `--prompt` it is an interactive chat that keeps the conversation (an empty line, `exit`
or Ctrl-D ends it). Every function returns an exit code; clear errors are raised as `ClearError`.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..core import paths
from ..present import tables
from ..present.widgets import timing_line
from ..serve import app_service, endpoints, runners, runtime
from ..serve.chat import Conversation

if TYPE_CHECKING:
    import pandas as pd

    from ..serve.runners import Runner

RUN_MAX_TOKENS = 256
_EXIT_WORDS = ("exit", "quit", "/bye")


def _print_table(table: pd.DataFrame) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 60):
        print(table.to_string(index=False) if len(table) else "(none)")


def model_list() -> int:
    """Every model the kit can see (or the service lists), one row per variant."""
    service = endpoints.app_service_endpoint()
    if service:
        print(f"Catalog of the Foundry Local service at {service}:")
    _print_table(tables.list_catalog())
    return 0


def model_download(name: str, device: str = "auto") -> int:
    """Download into the kit's cache (or the service's), with a progress bar."""
    service = endpoints.app_service_endpoint()
    if service:
        model = app_service.download(service, name)
        print(f"{model.id} is in the cache of the service at {service}.")
        return 0
    print(f"on disk at: {runtime.download(name, device)}")
    return 0


def cache_list() -> int:
    """What is cached, with sizes on disk (MB = 10^6 bytes) and the cache folder."""
    service = endpoints.app_service_endpoint()
    if service:
        table = app_service.catalog_table(service)
        _print_table(table[table.cached][["alias", "id", "device", "size_mb"]])
        status = app_service.status(service) or {}
        print(f"cache folder (at the service): {app_service.json_field(status, 'modelDirPath')}")
        return 0
    _print_table(tables.cache_table())
    print(f"cache folder: {paths.model_cache_dir()}")
    return 0


def cache_remove(name: str) -> int:
    """Delete a downloaded catalog model from the kit's cache (bundled models are kept, with the reason)."""
    service = endpoints.app_service_endpoint()
    if service:
        raise app_service.ServiceError(f"The Foundry Local service at {service} manages its own cache: remove "
                                       f"the model there with `foundry cache remove {name}`.")
    runtime.remove_from_cache(name)
    print(f"removed {name} from the cache")
    return cache_list()


def model_run(name: str, prompt: str | None = None, device: str = "auto", max_tokens: int | None = None,
              threads: int | None = None) -> int:
    """Answer `prompt` (or chat, reading prompts from stdin) and print each answer's timing.

    `max_tokens` caps every answer (default RUN_MAX_TOKENS); `threads` decodes on that many threads instead of the
    build's setting (in-process models built or converted here; `helpers.build.threads`)."""
    max_tokens = max_tokens or RUN_MAX_TOKENS
    runner, speaker = _prepare(name, device, threads)
    conversation = Conversation(runner, max_tokens)
    if prompt is not None:
        return 0 if _answer(conversation, speaker, prompt) else 1
    print(f"Chat with {speaker} (max {max_tokens} tokens per answer; an empty line, 'exit' or Ctrl-D ends it).")
    for line in _stdin_lines():
        if line.strip().lower() in ("", *_EXIT_WORDS):
            break
        _answer(conversation, speaker, line.strip())
    return 0


def _stdin_lines() -> Iterable[str]:
    while True:
        try:
            yield input("you: ")
        except EOFError:
            print()
            return


def _prepare(name: str, device: str, threads: int | None = None) -> tuple[Runner, str]:
    """Load the model where the kit is pointed (`runners.open_runner`: FOUNDRY_LOCAL_ENDPOINT's server, else
    in-process) and say so on stderr (stdout carries only the answers), with the decode threads it runs on;
    returns its runner and the name to show. `threads` overrides a kit-built model's (ThreadSettingError for a
    server's)."""
    external, service = endpoints.external_endpoint(), endpoints.app_service_endpoint()
    if not external:
        print("\n".join(runtime.start(quiet=True).messages), file=sys.stderr)
    runner = runners.open_runner(name, device=device, threads=threads)
    seconds = runner.load()  # None: a plain OpenAI-compatible server without a load route
    if seconds is not None:
        where = f"at the service {service}" if service else f"at {external}" if external else "in-process"
        _say_loaded(runner.model_id, seconds, runner.device_note, where)
    decode = runner.threads
    print(f"decode threads: {decode['threads'] or 'runtime default'} ({decode['threads_source']})", file=sys.stderr)
    local = runner.model.alias if isinstance(runner, runners.InprocessRunner) else None
    return runner, local or name


def _say_loaded(model_id: str, seconds: float, message: str, where: str) -> None:
    print(f"{model_id} loaded {where} in {seconds:.2f} s" if seconds else f"{model_id} is loaded {where}",
          file=sys.stderr)
    if message:
        print(message, file=sys.stderr)


def _answer(conversation: Conversation, speaker: str, prompt: str) -> bool:
    """Ask, printing the answer as it arrives and then its timing line; True when it was answered."""
    print(f"{speaker}: ", end="", flush=True)
    timing = conversation.ask(prompt, lambda text: print(text, end="", flush=True))
    print(f"\n[{timing_line(timing)}]", flush=True)
    return timing.ok
