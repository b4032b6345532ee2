"""The one backend layer: how the kit reaches a model, behind one `Runner` protocol (load, unload, one timed chat)
and one `Backend` protocol (open a model, list the models).

One implementation per way of reaching a model:

- `InprocessRunner`: Foundry Local in this process through the SDK (`InprocessBackend`);
- `KitServiceRunner`: a model loaded in this process, asked through the kit's own web service (`KitServiceBackend`);
- `AppServiceRunner`: a model at the Foundry Local app's service, loaded there with the device as `ep`;
- `OpenAIServerRunner`: any OpenAI-compatible server (llama.cpp, vLLM, Ollama, Azure AI Foundry, another Foundry
  Local) -- also every models.json entry with `"source": "endpoint"`, wherever the others run.

`backend(name, ...)` is the one place a backend is chosen by name (BACKENDS), and `open_runner(model, ...)` the
one place a model name becomes a runner. The benchmark, `model run` / the notebook playground (`chat`), and the
judge all take a runner. Adding an engine that is not OpenAI-compatible: write a Runner (its chat fills a
`measure.recorder.TrialRecorder`) and a Backend and add the backend to BACKENDS; the benchmark's protocol,
records, statistics and reports need no change.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..build.threads import ThreadSettingError
from ..build.threads import setting as thread_setting
from ..core import config as config_files
from ..core.config import ConfigError
from ..core.devices import DeviceChoice
from ..measure.roofline import weights_read_mb
from ..measure.timing import ChatMessages, TrialTiming, time_inprocess_chat, time_openai_chat
from . import app_service, endpoints, runtime
from .errors import ModelNotFoundError
from .service_routes import http_load, http_unload, wait_until_ready

if TYPE_CHECKING:
    from foundry_local_sdk import IModel
    from openai import OpenAI

EXTERNAL_MEMORY_NOTE = ("memory of an external server is not observable from this process: "
                        "pass --server-pid PID (the server's process id) to sample it")
DEFAULT_TIMEOUT_S = 300.0
OnToken = Callable[[str], None]


class Runner(Protocol):
    """One model reached one way: everything the benchmark, a chat and the judge ask of an engine."""

    name: str  # the model's name as asked for (an alias), shown in tables and records
    model_id: str  # the id requests use (for HTTP: as the server lists it)
    device: str | None
    execution_provider: str | None
    context_length: int | None
    device_note: str  # why the device differs from the one asked for ("" when it does not)
    threads: dict  # {"threads": N or None, "threads_source": ...} (`helpers.build.threads.setting`)
    ready_wait_s: float | None  # how long the load waited for a server still loading its model (None: no wait)

    def load(self) -> float | None:
        """Cold-load; seconds taken, None when the backend cannot tell. Raises ModelNotFoundError or any error."""

    def unload(self) -> None: ...

    def chat(self, messages: ChatMessages, *, max_tokens: int, temperature: float = 0.0, seed: int | None = None,
             stream: bool = True, extra: Mapping[str, Any] | None = None,
             on_token: OnToken | None = None) -> TrialTiming:
        """One timed request (`timing.TrialTiming`); request failures are returned in `error`, not raised.
        `on_token(text)` receives the answer as it arrives (in-process: token by token; over HTTP: once whole)."""

    def disk_mb(self) -> float | None: ...

    def weights_read_mb(self) -> float | None:
        """MB of weights one decoded token reads (`roofline.weights_read`); None where the folder is not here."""


class Backend(Protocol):
    """Where requests go: opens models, lists them, and says whose memory holds them."""

    name: str  # "inprocess" | "http"
    description: str
    memory_pid: int | None  # process whose RSS to sample, None when not observable
    memory_note: str | None  # why memory is not observable, or what it covers

    def open(self, model: str) -> Runner:
        """The runner for a model name; raises ModelNotFoundError for an unknown name."""

    def list_models(self) -> list[str]:
        """The model names this backend can open."""


class InprocessRunner:
    """A Foundry Local model in this process, timed through the SDK (fresh ChatSession per request)."""

    ready_wait_s = None

    def __init__(self, model: IModel, choice: DeviceChoice | None = None, rt: runtime.LabRuntime | None = None,
                 threads: int | None = None) -> None:
        """`choice`: the device chosen for it (`runtime.get_model`; None: not known); `rt`: the started runtime;
        `threads`: decode threads for its loads instead of the build's setting (`helpers.build.threads`)."""
        rt = rt or runtime.start(quiet=True)
        self.model, self._rt, self._threads = model, rt, threads
        self.name, self.model_id = model.alias or model.id, model.id
        self.device, self.device_note = (choice.device, choice.message) if choice else (None, "")
        bundled = rt.bundled.get(model.id.split(":")[0])
        self.threads = thread_setting(bundled.path if bundled else None, threads)
        info_runtime = model.info.runtime
        self.execution_provider = (info_runtime.execution_provider if info_runtime else None) or (
            bundled.catalog.execution_provider if bundled else None)
        self.context_length = bundled.context_length if bundled else model.info.context_length

    def load(self) -> float | None:
        runtime.unload(self.model)  # loaded earlier (a notebook cell, another tool): measure a cold load anyway
        load_s = runtime.load(self.model, threads=self._threads)
        self.threads = runtime.LOAD_THREADS.get(self.model.id, self.threads)  # fewer when cores were busy
        return load_s

    def unload(self) -> None:
        runtime.unload(self.model)

    def chat(self, messages: ChatMessages, *, max_tokens: int, temperature: float = 0.0, seed: int | None = None,
             stream: bool = True, extra: Mapping[str, Any] | None = None,
             on_token: OnToken | None = None) -> TrialTiming:
        return time_inprocess_chat(self.model, messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                   stream=stream, on_token=on_token)

    def disk_mb(self) -> float | None:
        return runtime.disk_mb(runtime.model_dir(self.model, self._rt))

    def weights_read_mb(self) -> float | None:
        return weights_read_mb(runtime.model_dir(self.model, self._rt))


class _OverHttp:
    """The chat of every runner that reaches its model over the OpenAI-compatible API."""

    model_id: str
    _client: OpenAI

    def chat(self, messages: ChatMessages, *, max_tokens: int, temperature: float = 0.0, seed: int | None = None,
             stream: bool = True, extra: Mapping[str, Any] | None = None,
             on_token: OnToken | None = None) -> TrialTiming:
        timing = time_openai_chat(self._client, self.model_id, messages, max_tokens=max_tokens,
                                  temperature=temperature, seed=seed, stream=stream, extra=extra)
        if on_token is not None:
            on_token(timing.text)
        return timing


class KitServiceRunner(_OverHttp, InprocessRunner):
    """A model loaded in this process, timed through the kit's built-in web service (which shares the load)."""

    def __init__(self, model: IModel, choice: DeviceChoice, rt: runtime.LabRuntime, client: OpenAI,
                 threads: int | None = None) -> None:
        super().__init__(model, choice, rt, threads)
        self._client = client

    def load(self) -> float | None:
        seconds = super().load()
        self.model_id = endpoints.http_model_id(self.model.id, self._client)
        return seconds


class OpenAIServerRunner(_OverHttp):
    """A model behind an external OpenAI-compatible server; the name is passed through as given."""

    device = execution_provider = context_length = ready_wait_s = None
    device_note = ""

    def __init__(self, name: str, base_url: str, client: OpenAI) -> None:
        self.name, self.model_id, self._base_url, self._client = name, name, base_url, client
        self.threads = declared_threads(name)

    def load(self) -> float | None:
        """Wait for a server still loading its model (bounded, said on screen), then its load route, if any."""
        self.ready_wait_s = wait_until_ready(self._base_url)
        seconds = http_load(self._base_url, self.name)  # None: a plain server without a load route
        listed = endpoints.served_model_ids(self._client)
        self.model_id = endpoints.http_model_id(self.name, self._client)
        if listed and self.model_id not in listed:
            raise ModelNotFoundError(
                f"{self._base_url} lists no model '{self.name}' (it lists {', '.join(listed[:10])}): "
                "pass one of those ids (or its alias) with --models.")
        return seconds

    def resolve_id(self) -> str:
        """Without loading: the id to send, as the server lists the name (`endpoints.http_model_id`); EndpointError
        naming the URL when nothing answers there."""
        self.model_id = endpoints.http_model_id(self.name, self._client)
        return self.model_id

    def unload(self) -> None:
        http_unload(self._base_url, self.name)

    def disk_mb(self) -> float | None:
        return None

    def weights_read_mb(self) -> float | None:
        return None


class AppServiceRunner(_OverHttp):
    """A model at the Foundry Local app's service: looked up in its catalog, loaded there with the device as `ep`.

    Load and unload are timed by the service's routes (`/openai/load/{id}?ep=`, `/openai/unload/{id}?force=true`);
    the device actually used, and why it differs from the one asked for, come from `app_service.load`.
    """

    context_length = ready_wait_s = None

    def __init__(self, name: str, base_url: str, client: OpenAI, device: str) -> None:
        try:
            found = app_service.variants(base_url, name)
        except app_service.ServiceError as exc:
            raise ModelNotFoundError(str(exc)) from None
        self.name, self._base_url, self._client, self._device = name, base_url, client, device
        self.model_id, self.device, self.execution_provider = found[0].id, found[0].device, found[0].execution_provider
        self.device_note = ""
        self.threads = thread_setting(None)

    def load(self) -> float | None:
        model, seconds, choice = app_service.load(self._base_url, self.name, self._device)
        self.model_id, self.device, self.execution_provider = model.id, model.device, model.execution_provider
        self.device_note = choice.message
        return seconds

    def unload(self) -> None:
        app_service.unload(self._base_url, self.model_id)

    def disk_mb(self) -> float | None:
        return None  # on the service's disk: not measured from here (its catalog states a download size)

    def weights_read_mb(self) -> float | None:
        return None


class InprocessBackend:
    """Foundry Local in this Python process (foundry-local-sdk)."""

    name = "inprocess"

    def __init__(self, device: str = "auto", threads: int | None = None) -> None:
        """`threads`: decode threads of the kit's own models for every load (None: each build's setting)."""
        self._rt = runtime.start()
        self._device, self._threads = device, threads
        self.memory_pid: int | None = os.getpid()
        self.memory_note: str | None = None
        world = "offline, bundled models" if self._rt.offline else "online"
        self.description = f"Foundry Local SDK in this process ({world})"

    def open(self, model: str) -> Runner:
        return configured_endpoint(model) or InprocessRunner(*runtime.get_model(model, self._device, self._rt),
                                                             self._rt, self._threads)

    def list_models(self) -> list[str]:
        return sorted(self._rt.bundled)


class KitServiceBackend(InprocessBackend):
    """The kit's built-in OpenAI-compatible web service; models are loaded in this process, which serves them."""

    name = "http"

    def __init__(self, device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S, threads: int | None = None) -> None:
        super().__init__(device, threads)
        self.url = runtime.web_service_url(self._rt)
        self._client = endpoints.openai_client(self.url, timeout_s)
        self.description = f"built-in web service {self.url} (in this process)"

    def open(self, model: str) -> Runner:
        return configured_endpoint(model) or KitServiceRunner(*runtime.get_model(model, self._device, self._rt),
                                                              self._rt, self._client, self._threads)


class EndpointBackend:
    """Another server: the Foundry Local app's service (recognised by its status route) or any OpenAI-compatible
    one."""

    name = "http"

    def __init__(self, url: str, server_pid: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 device: str = "auto") -> None:
        if server_pid is not None and not _pid_exists(server_pid):
            raise ConfigError(f"--server-pid {server_pid}: no such process; give the pid of the server at {url}.")
        self.url, self._device = url, device
        self._client = endpoints.openai_client(url, timeout_s)
        self._service = app_service.is_app_service(url)
        self.memory_pid = server_pid
        self.memory_note = None if server_pid else EXTERNAL_MEMORY_NOTE
        kind = "Foundry Local app service" if self._service else "external endpoint"
        self.description = f"{kind} {url}" + (f" (server pid {server_pid})" if server_pid else "")

    def open(self, model: str) -> Runner:
        if self._service:
            return AppServiceRunner(model, self.url, self._client, self._device)
        return OpenAIServerRunner(model, self.url, self._client)

    def list_models(self) -> list[str]:
        return endpoints.served_model_ids(self._client)


def _pid_exists(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid)


def configured_endpoint(model: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> OpenAIServerRunner | None:
    """The runner of a models.json entry with `"source": "endpoint"` (reached at its `endpoint`), else None."""
    entry = config_files.load_models().models.get(model)
    if entry is None or entry.source != "endpoint":
        return None
    url = endpoints.endpoint_root(entry.endpoint)
    return OpenAIServerRunner(model, url, endpoints.openai_client(url, timeout_s))


BACKENDS = ("inprocess", "http")


def backend(name: str = "inprocess", *, device: str = "auto", endpoint: str | None = None,
            timeout_s: float = DEFAULT_TIMEOUT_S, server_pid: int | None = None, threads: int | None = None) -> Backend:
    """The backend called `name` (BACKENDS): `inprocess` (the SDK in this process) or `http` (the server at
    `endpoint`, else FOUNDRY_LOCAL_ENDPOINT, else the kit's own web service). ConfigError for another name.
    `threads` overrides the decode threads of the kit's own models (ThreadSettingError for another server's)."""
    if name not in BACKENDS:
        raise ConfigError(f"backend {name!r}: choose one of {', '.join(BACKENDS)}.")
    if name == "inprocess":
        return InprocessBackend(device, threads)
    url = endpoint or endpoints.external_endpoint()
    if url:
        if threads is not None:
            raise ThreadSettingError(f"--threads sets the kit's in-process models; the server at {url} runs on the "
                                     "threads it was started with.")
        return EndpointBackend(url, server_pid, timeout_s, device)
    return KitServiceBackend(device, timeout_s, threads)


def open_runner(model: str, name: str | None = None, *, device: str = "auto", threads: int | None = None) -> Runner:
    """The runner of `model` on backend `name`; by default where the kit is pointed: the server of
    FOUNDRY_LOCAL_ENDPOINT when set (the Foundry Local app's service or another), else in-process. `threads`:
    see `backend`."""
    return backend(name or ("http" if endpoints.external_endpoint() else "inprocess"), device=device,
                   threads=threads).open(model)


def declared_threads(name: str) -> dict:
    """The thread setting of a models.json endpoint model: its `threads` field (what the server was started with,
    e.g. `llama-server -t 2`), else not observable from here."""
    entry = config_files.load_models().models.get(name)
    if entry is not None and entry.threads is not None:
        return {"threads": entry.threads, "threads_source": "declared in models.json"}
    return thread_setting(None)
