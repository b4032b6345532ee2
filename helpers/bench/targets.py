"""Where a benchmark sends its requests: the `Target` and `ModelRunner` protocols and the kit's runners.

`InprocessTarget` times Foundry Local in this process through the SDK; `BuiltinHttpTarget` times the kit's
built-in OpenAI-compatible web service; `EndpointTarget` times any OpenAI-compatible server. A models.json entry
with `"source": "endpoint"` and an `endpoint` URL is always reached over HTTP (`EndpointModel`), so such models
(Ollama, vLLM, a llama.cpp server, Azure AI Foundry, another Foundry Local) run side by side with in-process
ones; its models.json name must be the id (or alias) the server lists.

Adding an engine that is not OpenAI-compatible: write a `ModelRunner` (load -> seconds, chat -> `TrialTiming`
filled through `measure.recorder.TrialRecorder`, unload, disk_mb) and a `Target` whose `open(name)` returns it, then
return that target from `make_target` for a new `target` name (add it to `settings.TARGETS`). The protocol,
records, statistics and reports need no change.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import psutil

from .. import app_service, runtime
from .. import config as config_files
from ..config import ConfigError
from ..devices import DeviceChoice
from ..service_routes import http_load, http_unload, wait_until_ready
from ..timing import ChatMessages, TrialTiming, time_inprocess_chat, time_openai_chat
from .settings import BenchConfig, Generation

if TYPE_CHECKING:
    from foundry_local_sdk import IModel
    from openai import OpenAI

EXTERNAL_MEMORY_NOTE = ("memory of an external server is not observable from this process: "
                        "pass --server-pid PID (the server's process id) to sample it")


class ModelRunner(Protocol):
    """One model on one target: everything the protocol asks of an engine."""

    model_id: str  # the id requests use (for HTTP: as the server lists it)
    device: str | None
    execution_provider: str | None
    context_length: int | None
    device_note: str  # why the device differs from the one asked for ("" when it does not)
    ready_wait_s: float | None  # how long the load waited for a server still loading its model (None: no wait)

    def load(self) -> float | None:
        """Cold-load; seconds taken, None when the target cannot tell. Raises ModelNotFoundError or any error."""

    def unload(self) -> None: ...

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        """One timed request; request failures are returned in `error`, not raised."""

    def disk_mb(self) -> float | None: ...


class Target(Protocol):
    """Where requests go: finds models and says whose memory to watch."""

    name: str  # "inprocess" | "http"
    description: str
    memory_pid: int | None  # process whose RSS to sample, None when not observable
    memory_note: str | None  # why memory is not observable, or what it covers

    def open(self, model: str) -> ModelRunner:
        """The runner for a model name; raises runtime.ModelNotFoundError for an unknown name."""


class LocalModel:
    """A Foundry Local model in this process, timed through the SDK (fresh ChatSession per trial)."""

    ready_wait_s = None

    def __init__(self, model: IModel, choice: DeviceChoice, rt: runtime.LabRuntime) -> None:
        self.model, self._rt = model, rt
        self.model_id = model.id
        self.device, self.device_note = choice.device, choice.message
        bundled = rt.bundled.get(model.id.split(":")[0])
        info_runtime = model.info.runtime
        self.execution_provider = (info_runtime.execution_provider if info_runtime else None) or (
            bundled.catalog.execution_provider if bundled else None)
        self.context_length = bundled.context_length if bundled else model.info.context_length

    def load(self) -> float | None:
        runtime.unload(self.model)  # loaded earlier (a notebook cell, another tool): measure a cold load anyway
        return runtime.load(self.model)

    def unload(self) -> None:
        runtime.unload(self.model)

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return time_inprocess_chat(self.model, messages, max_tokens=generation.max_tokens,
                                   temperature=generation.temperature, seed=generation.seed, stream=generation.stream)

    def disk_mb(self) -> float | None:
        return runtime.disk_mb(runtime.model_dir(self.model, self._rt))


class LocalModelOverHttp(LocalModel):
    """A model loaded in this process, timed through the kit's built-in web service (which shares the load)."""

    def __init__(self, model: IModel, choice: DeviceChoice, rt: runtime.LabRuntime, client: OpenAI) -> None:
        super().__init__(model, choice, rt)
        self._client = client

    def load(self) -> float | None:
        seconds = super().load()
        self.model_id = runtime.http_model_id(self.model.id, self._client)
        return seconds

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return _openai_trial(self._client, self.model_id, messages, generation)


class EndpointModel:
    """A model behind an external OpenAI-compatible server; the name is passed through as given."""

    device = execution_provider = context_length = ready_wait_s = None
    device_note = ""

    def __init__(self, name: str, base_url: str, client: OpenAI) -> None:
        self.name, self.model_id, self._base_url, self._client = name, name, base_url, client

    def load(self) -> float | None:
        """Wait for a server still loading its model (bounded, said on screen), then its load route, if any."""
        self.ready_wait_s = wait_until_ready(self._base_url)
        seconds = http_load(self._base_url, self.name)  # None: a plain server without a load route
        listed = runtime.served_model_ids(self._client)
        self.model_id = runtime.http_model_id(self.name, self._client)
        if listed and self.model_id not in listed:
            raise runtime.ModelNotFoundError(
                f"{self._base_url} lists no model '{self.name}' (it lists {', '.join(listed[:10])}): "
                "pass one of those ids (or its alias) with --models.")
        return seconds

    def unload(self) -> None:
        http_unload(self._base_url, self.name)

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return _openai_trial(self._client, self.model_id, messages, generation)

    def disk_mb(self) -> float | None:
        return None


class AppServiceModel:
    """A model at the Foundry Local app's service: looked up in its catalog, loaded there with the device as `ep`.

    Load and unload are timed by the service's routes (`/openai/load/{id}?ep=`, `/openai/unload/{id}?force=true`);
    the device actually used, and why it differs from the one asked for, come from `app_service.load`.
    """

    context_length = ready_wait_s = None

    def __init__(self, name: str, base_url: str, client: OpenAI, device: str) -> None:
        try:
            found = app_service.variants(base_url, name)
        except app_service.ServiceError as exc:
            raise runtime.ModelNotFoundError(str(exc)) from None
        self.name, self._base_url, self._client, self._device = name, base_url, client, device
        self.model_id, self.device, self.execution_provider = found[0].id, found[0].device, found[0].execution_provider
        self.device_note = ""

    def load(self) -> float | None:
        model, seconds, choice = app_service.load(self._base_url, self.name, self._device)
        self.model_id, self.device, self.execution_provider = model.id, model.device, model.execution_provider
        self.device_note = choice.message
        return seconds

    def unload(self) -> None:
        app_service.unload(self._base_url, self.model_id)

    def chat(self, messages: ChatMessages, generation: Generation) -> TrialTiming:
        return _openai_trial(self._client, self.model_id, messages, generation)

    def disk_mb(self) -> float | None:
        return None  # on the service's disk: not measured from here (its catalog states a download size)


def _openai_trial(client: OpenAI, model_id: str, messages: ChatMessages, generation: Generation) -> TrialTiming:
    return time_openai_chat(client, model_id, messages, max_tokens=generation.max_tokens,
                            temperature=generation.temperature, seed=generation.seed, stream=generation.stream,
                            extra=generation.extra)


class InprocessTarget:
    """Foundry Local in this Python process (foundry-local-sdk)."""

    name = "inprocess"

    def __init__(self, device: str) -> None:
        self._rt = runtime.start()
        self._device = device
        self.memory_pid: int | None = os.getpid()
        self.memory_note: str | None = None
        world = "offline, bundled models" if self._rt.offline else "online"
        self.description = f"Foundry Local SDK in this process ({world})"

    def open(self, model: str) -> ModelRunner:
        return configured_endpoint(model) or LocalModel(*runtime.get_model(model, self._device, self._rt), self._rt)


class BuiltinHttpTarget(InprocessTarget):
    """The kit's built-in OpenAI-compatible web service; models are loaded in this process, which serves them."""

    name = "http"

    def __init__(self, device: str, timeout_s: float) -> None:
        super().__init__(device)
        self.url = runtime.web_service_url(self._rt)
        self._client = runtime.openai_client(self.url, timeout_s)
        self.description = f"built-in web service {self.url} (in this process)"

    def open(self, model: str) -> ModelRunner:
        return configured_endpoint(model) or LocalModelOverHttp(*runtime.get_model(model, self._device, self._rt),
                                                                self._rt, self._client)


class EndpointTarget:
    """Any OpenAI-compatible server (another Foundry Local service, llama.cpp, Ollama, ...)."""

    name = "http"

    def __init__(self, url: str, server_pid: int | None, timeout_s: float, device: str = "auto") -> None:
        if server_pid is not None and not psutil.pid_exists(server_pid):
            raise ConfigError(f"--server-pid {server_pid}: no such process; give the pid of the server at {url}.")
        self.url, self._device = url, device
        self._client = runtime.openai_client(url, timeout_s)
        self._service = app_service.is_app_service(url)
        self.memory_pid = server_pid
        self.memory_note = None if server_pid else EXTERNAL_MEMORY_NOTE
        kind = "Foundry Local app service" if self._service else "external endpoint"
        self.description = f"{kind} {url}" + (f" (server pid {server_pid})" if server_pid else "")

    def open(self, model: str) -> ModelRunner:
        if self._service:
            return AppServiceModel(model, self.url, self._client, self._device)
        return EndpointModel(model, self.url, self._client)


def configured_endpoint(model: str, timeout_s: float = 300.0) -> EndpointModel | None:
    """The runner of a models.json entry with `"source": "endpoint"` (reached at its `endpoint`), else None."""
    entry = config_files.load_models().models.get(model)
    if entry is None or entry.source != "endpoint":
        return None
    url = runtime.endpoint_root(entry.endpoint)
    return EndpointModel(model, url, runtime.openai_client(url, timeout_s))


def make_target(config: BenchConfig) -> Target:
    """The target a config asks for."""
    if config.target == "inprocess":
        return InprocessTarget(config.device)
    if config.endpoint:
        return EndpointTarget(config.endpoint, config.server_pid, config.request_timeout_s, config.device)
    return BuiltinHttpTarget(config.device, config.request_timeout_s)

