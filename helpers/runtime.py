"""The kit's one connection to Foundry Local: in-process runtime, bundled models, web service, endpoints.

`start()` brings up the real Foundry Local runtime in this process (foundry-local-sdk 2.x) with the kit's own
app/cache/log folders, registers the bundled models, and makes the built-in OpenAI-compatible web service able
to serve them. Everything else in `helpers` reaches models through here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import app_service, memory_fit, paths
from .api_key import API_KEY_ENV as API_KEY_ENV  # notebooks and tests read runtime.API_KEY_ENV
from .api_key import api_key
from .config import READ_ENCODING, load_models
from .devices import DeviceChoice, choose_device, gpu_providers
from .errors import ClearError
from .gateway import Front, port_taken_message, whois
from .offline_catalog import CatalogModel, OfflineCatalogServer, place_in_cache

if TYPE_CHECKING:
    from foundry_local_sdk import FoundryLocalManager, IModel
    from openai import OpenAI

APP_NAME = "foundry-model-lab"
PUBLIC_CATALOG_HOST = "api.catalog.azureml.ms"
PUBLIC_CATALOG_URL = f"https://{PUBLIC_CATALOG_HOST}/asset-gallery/v1.0/models"
DEFAULT_PORT = 5273
ENDPOINT_ENV = "FOUNDRY_LOCAL_ENDPOINT"
OFFLINE_ENV = "FOUNDRY_LAB_OFFLINE"
PORT_ENV = "FOUNDRY_LAB_PORT"
BUNDLED_VERSION = 1


class ModelNotFoundError(ClearError, LookupError):
    """No model with that alias or id in any catalog the kit can see."""


class OfflineError(ClearError, ConnectionError):
    """A download was asked for while the public catalog is unreachable."""


class BundledModelError(ClearError, ValueError):
    """An action meant for downloaded catalog models was asked of a bundled or converted model."""


class PortSettingError(ClearError, ValueError):
    """A port (--port or FOUNDRY_LAB_PORT) that is not a whole number from 0 to 65535."""


def checked_port(value: object, source: str) -> int:
    """`value` as a TCP port (0 = any free port); PortSettingError naming `source` (the flag or variable) else."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise PortSettingError(f"{source} must be a port number from 1 to 65535 (or 0 for any free port), got "
                               f"{value!r}.")
    return port


def env_port() -> int | None:
    """FOUNDRY_LAB_PORT as a port, or None when it is unset or empty."""
    value = os.environ.get(PORT_ENV, "").strip()
    return checked_port(value, PORT_ENV) if value else None


class EndpointError(ClearError, ConnectionError):
    """FOUNDRY_LOCAL_ENDPOINT (or --endpoint) is not a URL, or no server answers there."""


class PortInUseError(ClearError, OSError):
    """The kit's port is taken; the message says by whom (the kit elsewhere, or a foreign program) and what to do."""


@dataclass
class BundledModel:
    """A built bundled (or converted) model folder and what the catalogs should say about it."""

    catalog: CatalogModel
    path: Path
    meta: dict = field(default_factory=dict)
    cache_path: Path | None = None

    @property
    def source(self) -> str:
        """`bundled` (built by setup) or `converted` (brought by the user with `byom`)."""
        return "bundled" if self.path.parent == paths.bundled_models_dir() else "converted"

    @property
    def context_length(self) -> int | None:
        search = json.loads((self.path / "genai_config.json").read_text(encoding=READ_ENCODING)).get("search", {})
        return search.get("max_length")


@dataclass
class LabRuntime:
    """The running Foundry Local runtime and what the kit learned while starting it."""

    manager: "FoundryLocalManager"
    offline: bool
    bundled: dict[str, BundledModel]
    catalog_server: OfflineCatalogServer
    port: int | None  # the served API's port; None: any free port, reported when the service starts
    messages: list[str] = field(default_factory=list)
    role: str = "a notebook kernel or script"  # who serves, as `GET /foundry-lab` tells other kit processes
    front: Front | None = None  # the served API, once `web_service_url` started it


_runtime: LabRuntime | None = None
_lock = threading.Lock()
_offline: bool | None = None


def detect_offline(timeout_s: float = 2.0) -> bool:
    """True when the public Foundry catalog cannot be reached; decided once per process.

    Set FOUNDRY_LAB_OFFLINE=1 (or 0) to skip the probe. The runtime itself would wait ~4 s per catalog call.
    """
    global _offline
    if _offline is None:
        forced = os.environ.get(OFFLINE_ENV)
        if forced in ("0", "1"):
            _offline = forced == "1"
        else:
            try:
                socket.create_connection((PUBLIC_CATALOG_HOST, 443), timeout=timeout_s).close()
                _offline = False
            except OSError:
                _offline = True
    return _offline


def model_folder(folder: Path, entries: dict | None = None) -> BundledModel:
    """A built model folder (`genai_config.json` + `kit_model.json`) as the catalogs describe it."""
    if not (folder / "genai_config.json").is_file() or not (folder / "kit_model.json").is_file():
        raise FileNotFoundError(f"{folder} is not a built model folder: it needs genai_config.json and kit_model.json "
                                "(build it with `python -m helpers byom` or `python -m helpers build`).")
    meta = json.loads((folder / "kit_model.json").read_text(encoding=READ_ENCODING))
    entry = (load_models().models if entries is None else entries).get(folder.name)
    return BundledModel(
        catalog=CatalogModel(
            name=folder.name,
            alias=folder.name,
            display_name=entry.display_name if entry else meta.get("display_name", folder.name),
            license=entry.license if entry else meta.get("license", "unknown"),
        ),
        path=folder,
        meta=meta,
    )


def default_models(offline: bool | None = None) -> list[str]:
    """models.json `defaults.offline` when the public catalog is unreachable, else `defaults.online`.

    With FOUNDRY_LOCAL_ENDPOINT on the Foundry Local app's service: the defaults of both worlds that the service
    lists, else the models it has cached.
    """
    defaults = load_models().defaults
    service = app_service_endpoint()
    if service:
        return app_service.default_models(service, defaults["offline"] + defaults["online"])
    return defaults["offline" if (detect_offline() if offline is None else offline) else "online"]


def default_judge(offline: bool | None = None) -> str | None:
    """models.json `judge.offline` or `judge.online` (the strongest instruct model of that world), or None."""
    return load_models().judge.get("offline" if (detect_offline() if offline is None else offline) else "online")


def find_bundled() -> dict[str, BundledModel]:
    """Built model folders under the kit home (bundled and user-converted), by name."""
    entries = load_models().models
    found: dict[str, BundledModel] = {}
    for root in (paths.bundled_models_dir(), paths.user_models_dir()):
        for folder in sorted(root.glob("*/")) if root.exists() else []:
            if folder.name.startswith("."):  # a build in progress (.name.partial, .name.work) or a replaced one
                continue
            if (folder / "genai_config.json").is_file() and (folder / "kit_model.json").is_file():
                found.setdefault(folder.name, model_folder(folder, entries))
    return found


def start(*, port: int | None = None, quiet: bool = False) -> LabRuntime:
    """Start (or return the already started) in-process Foundry Local runtime with the bundled models.

    Safe to call again from a re-run notebook cell: the second call returns the same runtime.
    """
    global _runtime
    with _lock:
        if _runtime is not None:
            return _runtime
        from foundry_local_sdk import Configuration, FoundryLocalManager

        offline = detect_offline()
        bundled = find_bundled()
        server = OfflineCatalogServer([b.catalog for b in bundled.values()])
        for item in bundled.values():
            item.cache_path = place_in_cache(item.path, item.catalog, paths.model_cache_dir())
        catalogs = [(server.url, None)] if offline else [(PUBLIC_CATALOG_URL, None), (server.url, None)]
        if port is None:
            port = env_port()
        for folder in (paths.app_data_dir(), paths.model_cache_dir(), paths.logs_dir()):
            folder.mkdir(parents=True, exist_ok=True)
        FoundryLocalManager.initialize(
            Configuration(
                app_name=APP_NAME,
                app_data_dir=str(paths.app_data_dir()),
                model_cache_dir=str(paths.model_cache_dir()),
                logs_dir=str(paths.logs_dir()),
                web=Configuration.WebService(urls="http://127.0.0.1:0"),  # behind the kit's front (gateway.py)
                catalog_urls=catalogs,
                disable_nonessential_telemetry=True,
            )
        )
        runtime = LabRuntime(FoundryLocalManager.instance, offline, bundled, server, port)
        _register_local(runtime)
        local_models = f"{sum(b.source == 'bundled' for b in bundled.values())} bundled models"
        converted = sum(b.source == "converted" for b in bundled.values())
        local_models += f" and {converted} converted" if converted else ""
        world = (
            f"offline: the public Foundry catalog ({PUBLIC_CATALOG_HOST}) is unreachable, using the {local_models}"
            if offline
            else f"online: public Foundry catalog plus {local_models}"
        )
        runtime.messages.append(f"Foundry Local runtime started in-process ({world}).")
        if not bundled:
            runtime.messages.append("No bundled models are built yet: run `python -m helpers setup`.")
        if not quiet:
            print("\n".join(runtime.messages))
        _runtime = runtime
        return runtime


def _register_local(runtime: LabRuntime) -> None:
    """Register every bundled model in the LOCAL catalog once (registrations persist in the model cache)."""
    for item in runtime.bundled.values():
        _register_one(runtime, item)


def _register_one(runtime: LabRuntime, item: BundledModel) -> None:
    """Register one model folder, already placed in the cache, in the LOCAL catalog unless it is there."""
    from foundry_local_sdk import CatalogType, ModelInfoBuilder

    local = runtime.manager.get_catalog(CatalogType.LOCAL)
    if local.get_model_variant(item.catalog.model_id) is not None:
        return
    info = ModelInfoBuilder()
    info.set_string_property("task", item.catalog.task)
    info.set_string_property("display_name", item.catalog.display_name)
    info.set_string_property("license", item.catalog.license)
    # Registered at the cache placement: one folder, so a load in-process also serves the web service.
    local.register_model(item.cache_path, item.catalog.model_id, info)


def register(folder: str | Path, runtime: LabRuntime | None = None) -> BundledModel:
    """Make a built model folder usable now, in-process and over the web service, like a bundled model.

    Places it in the model cache (links, so a rebuilt folder is picked up), registers it in the LOCAL catalog
    and adds it to the offline catalog the web service reads. Folders under the kit's models folders
    are also found by the next `start()`.
    """
    rt = runtime or start(quiet=True)
    item = model_folder(Path(folder).expanduser().resolve())
    previous = rt.bundled.get(item.catalog.name)
    if previous is not None and previous.path != item.path:
        raise ValueError(f"a model named '{item.catalog.name}' is already registered from {previous.path}; "
                         f"choose another name for {item.path}.")
    item.cache_path = place_in_cache(item.path, item.catalog, paths.model_cache_dir())
    _register_one(rt, item)
    rt.bundled[item.catalog.name] = item
    rt.catalog_server.update([b.catalog for b in rt.bundled.values()])
    return item


def unregister(name: str, runtime: LabRuntime | None = None) -> None:
    """Undo `register`: unload, drop the LOCAL registration and the cache placement; the model folder stays."""
    from foundry_local_sdk import CatalogType

    rt = runtime or start(quiet=True)
    item = rt.bundled.pop(name, None)
    if item is None:
        raise ModelNotFoundError(f"'{name}' is not a registered model folder; registered: {', '.join(sorted(rt.bundled))}.")
    local = rt.manager.get_catalog(CatalogType.LOCAL)
    model = local.get_model_variant(item.catalog.model_id)
    if model is not None:
        unload(model)
        local.unregister_model(item.catalog.model_id)
    if item.cache_path is not None:
        shutil.rmtree(item.cache_path, ignore_errors=True)
    rt.catalog_server.update([b.catalog for b in rt.bundled.values()])


def local_models(rt: LabRuntime) -> str:
    """The models built on this machine, by source: `bundled: a, b; converted: c` (or `none built`)."""
    by_source: dict[str, list[str]] = {}
    for name, item in sorted(rt.bundled.items()):
        by_source.setdefault(item.source, []).append(name)
    return "; ".join(f"{source}: {', '.join(names)}" for source, names in by_source.items()) or "none built"


def get_model(name: str, device: str = "auto", runtime: LabRuntime | None = None) -> tuple["IModel", DeviceChoice]:
    """The model for an alias or id, on the device asked for (`cpu`, `gpu`, `auto`).

    Bundled models come from the LOCAL catalog; catalog models choose a variant by device. When the device
    cannot be honoured the returned DeviceChoice says why, and the CPU is used.
    """
    from foundry_local_sdk import CatalogType

    rt = runtime or start()
    local = rt.manager.get_catalog(CatalogType.LOCAL)
    bare = name.split(":")[0]
    if bare in rt.bundled:
        model = local.get_model_variant(rt.bundled[bare].catalog.model_id)
        choice = choose_device(device, gpu_providers(rt.manager), [("cpu", model.id)], bundled=True)
        return model, choice
    public = rt.manager.get_catalog()
    model = public.get_model(name) or public.get_model_variant(name)
    if model is None:
        hint = "the public catalog is unreachable (offline)" if rt.offline else "check the alias with `foundry-lab model list`"
        raise ModelNotFoundError(f"Model '{name}' not found: {hint}. Models on this machine: {local_models(rt)}.")
    variants = [(device_of(v), v) for v in model.variants]
    choice = choose_device(device, gpu_providers(rt.manager), [(d, v.id) for d, v in variants])
    model.select_variant(next(v for _, v in variants if v.id == choice.variant_id))
    return model, choice


def device_of(model: "IModel") -> str:
    """`cpu`, `gpu` or `npu`: the device a catalog variant runs on (CPU when the catalog does not say)."""
    runtime = model.info.runtime
    return (runtime.device_type.value if runtime and runtime.device_type else "CPU").lower()


def expected_memory(model: "IModel", runtime: LabRuntime | None = None) -> memory_fit.MemoryEstimate | None:
    """What loading `model` will take (`memory_fit`): from its folder when local, else the catalog's file size;
    None when neither is known."""
    folder = model_dir(model, runtime)
    if folder is not None and (folder / "genai_config.json").is_file():
        return memory_fit.estimate_folder(folder)
    size = model.info.file_size_mb
    return memory_fit.estimate_download(size, model.info.context_length) if size else None


def smaller_model_that_fits(available_mb: float, exclude: str, runtime: LabRuntime | None = None) -> str | None:
    """The largest built instruct model (bundled or converted) other than `exclude` expected to fit in
    `available_mb`, or None."""
    rt = runtime or start()
    entries = load_models().models
    fitting = [(estimate.total_mb, name) for name, item in rt.bundled.items()
               if name != exclude and (entries[name].instruct if name in entries else item.meta.get("instruct", True))
               and (estimate := memory_fit.estimate_folder(item.path)).total_mb <= available_mb]
    return max(fitting)[1] if fitting else None


def check_fits(model: "IModel", runtime: LabRuntime | None = None) -> None:
    """Raise memory_fit.ModelTooLargeError, with both figures and a smaller model, when `model` will not fit in
    the RAM available now; nothing when it fits or its size is unknown."""
    estimate = expected_memory(model, runtime)
    if estimate is None:
        return
    available = memory_fit.available_mb()
    name = model.id.split(":")[0]
    if estimate.total_mb > available:
        memory_fit.require_fit(name, estimate, available=available,
                               smaller=smaller_model_that_fits(available, name, runtime))


def load(model: "IModel", *, check_memory: bool = True) -> float:
    """Load into memory; returns the load time in seconds (0.0 when it was already loaded).

    First checks the model fits in the available RAM (`check_fits`; raises memory_fit.ModelTooLargeError) unless
    `check_memory` is False."""
    if model.is_loaded:
        return 0.0
    if check_memory:
        check_fits(model)
    started = time.perf_counter()
    model.load()
    return time.perf_counter() - started


UNLOAD_WAIT_S = 5.0
STILL_IN_USE = "still using it"


def unload(model: "IModel") -> float:
    """Free the model's memory (no-op when not loaded); returns the seconds spent waiting for the web service to
    release the model (0.0 when the first attempt succeeded).

    The web service releases its session a moment after a response has ended (observed: up to ~0.2 s); until
    then the runtime refuses with "session(s) still using it", so that refusal is retried for UNLOAD_WAIT_S. The
    native runtime also prints each refusal as an "[error]" line on stderr: those lines are held back
    (`serve.native_stderr`) and shown only when the retry fails too.
    """
    from .serve.native_stderr import held_back

    deadline = time.monotonic() + UNLOAD_WAIT_S
    started = time.monotonic()
    waited = False
    with held_back(lambda line: STILL_IN_USE in line) as held:
        while model.is_loaded:
            try:
                model.unload()
            except Exception as exc:  # noqa: BLE001 - the SDK raises its own exception type
                if STILL_IN_USE not in str(exc) or time.monotonic() > deadline:
                    held.drop = False
                    raise
                waited = True
                time.sleep(0.05)
    return time.monotonic() - started if waited else 0.0


def model_dir(model: "IModel", runtime: LabRuntime | None = None) -> Path | None:
    """The model's folder on disk, or None when it is not cached."""
    rt = runtime or start()
    bare = model.id.split(":")[0]
    if bare in rt.bundled:
        return rt.bundled[bare].path
    path = model.get_path() if model.is_cached else ""
    return Path(path) if path else None


def disk_mb(path: Path | None) -> float | None:
    """Size of the files under `path` in MB = 10^6 bytes (links followed), None when there is no folder."""
    if path is None or not path.exists():
        return None
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 1e6, 1)


def download(name: str, device: str = "auto", progress: bool = True, cancel: threading.Event | None = None) -> Path | None:
    """Download a catalog model into the kit's cache with a progress bar; bundled models are already local."""
    from tqdm.auto import tqdm

    rt = start()
    model, _ = get_model(name, device, rt)
    local = rt.bundled.get(model.id.split(":")[0])
    if local is not None:
        print(f"{model.id} is a {local.source} model, built on this machine ({local.path}): nothing to download, so "
              f"no progress bar. A catalog model (online) shows one while it downloads, e.g. "
              f"`download qwen2.5-0.5b-instruct-generic-cpu:4:  42%|████▏     | 42/100 [00:12<00:16]`.")
        return local.path
    if model.is_cached:
        print(f"{model.id} is already in the cache.")
        return model_dir(model, rt)
    if rt.offline:
        raise OfflineError(f"Cannot download '{name}': offline. Models on this machine: {local_models(rt)}.")
    with tqdm(total=100, unit="%", desc=f"download {model.id}", disable=not progress) as bar:
        model.download(lambda pct: bar.update(max(0.0, pct - bar.n)), cancel)
    return model_dir(model, rt)


def remove_from_cache(name: str) -> None:
    """Delete a downloaded catalog model from the cache. Bundled models are rebuilt by setup, not removed here."""
    rt = start()
    local = rt.bundled.get(name.split(":")[0])
    if local is not None and local.source == "bundled":
        raise BundledModelError(f"'{name}' is a bundled model built by setup at {local.path}; "
                                "delete that folder to free disk (setup rebuilds it).")
    if local is not None:
        raise BundledModelError(f"'{name}' is a model you converted (byom) at {local.path}, not a download; "
                                "`runtime.unregister(name)` forgets it, deleting that folder frees the disk.")
    model, _ = get_model(name, runtime=rt)
    unload(model)
    model.remove_from_cache()


# --- OpenAI-compatible endpoint -------------------------------------------------------------------

def endpoint_root(url: str) -> str:
    """A server's root URL as the kit passes it around: no trailing `/` and no `/v1` (clients append it)."""
    return url.strip().rstrip("/").removesuffix("/v1")


def external_endpoint() -> str | None:
    """FOUNDRY_LOCAL_ENDPOINT (Foundry Local app/service or any OpenAI-compatible server), if set.

    EndpointError when it is set but not an http(s) URL with a host (it would otherwise be ignored silently)."""
    root = endpoint_root(os.environ.get(ENDPOINT_ENV, ""))
    if root and not is_server_url(root):
        raise EndpointError(f"{ENDPOINT_ENV}={root!r} {NOT_A_SERVER_URL}, or unset it for the kit's own.")
    return root or None


NOT_A_SERVER_URL = ("is not a server URL: give one like http://127.0.0.1:5272/v1 (`foundry service status` shows the "
                    "Foundry Local app's)")


def is_server_url(url: str) -> bool:
    """True for an http(s) URL with a host (and optionally a port and path): what an endpoint setting must be."""
    return re.match(r"^https?://[^/\s:]+(:\d+)?(/\S*)?$", url.strip()) is not None


def app_service_endpoint() -> str | None:
    """FOUNDRY_LOCAL_ENDPOINT when it is the Foundry Local app's service (its catalog, cache and loads are used
    there), else None."""
    external = external_endpoint()
    return external if external and app_service.is_app_service(external) else None


def web_service_url(runtime: LabRuntime | None = None) -> str:
    """Base URL of the OpenAI-compatible service: the external endpoint, else this process's own (started here).

    This process serves on `runtime.port` (`serve`: 5273 or FOUNDRY_LAB_PORT; others: FOUNDRY_LAB_PORT, else any
    free port, so notebooks open side by side never clash), through the kit's front (`gateway.Front`: aliases,
    identification). The first call prints one line saying which server this is.
    PortInUseError when the port is taken, naming the kit process or the foreign program that holds it.
    """
    external = external_endpoint()
    if external:
        return external
    rt = runtime or start()
    with _lock:
        if rt.front is None:
            if not rt.manager.urls:
                rt.manager.start_web_service()
            try:
                rt.front = Front(rt.port or 0, rt.manager.urls[0], rt.role, lambda: _loaded_aliases(rt))
            except OSError:
                raise PortInUseError(port_taken_message(rt.port or 0, whois(rt.port or 0) or {})) from None
            where = "its fixed port" if rt.port else f"a free port; set {PORT_ENV} to pin one"
            print(f"Web service: {rt.front.url}/v1 is this process's own ({rt.role}, {where}).", flush=True)
    return rt.front.url


def _loaded_aliases(rt: LabRuntime) -> list[str]:
    from foundry_local_sdk import CatalogType

    return sorted({m.alias for kind in (CatalogType.LOCAL, CatalogType.PUBLIC)
                   for m in rt.manager.get_catalog(kind).get_loaded_models()})


def openai_client(base_url: str | None = None, timeout_s: float = 120.0) -> OpenAI:
    """An `openai.OpenAI` client for the endpoint; the key comes from FOUNDRY_LOCAL_API_KEY when a server needs one."""
    from openai import OpenAI

    url = (base_url or web_service_url()).rstrip("/")
    return OpenAI(base_url=f"{url}/v1", api_key=api_key() or "not-needed", timeout=timeout_s, max_retries=0)


def served_model_ids(client: OpenAI) -> list[str]:
    """The ids a server lists at `GET /v1/models`; EndpointError naming the URL when nothing answers there."""
    from openai import APIConnectionError

    try:
        return [m.id for m in client.models.list()]
    except APIConnectionError as exc:  # "Connection error." alone does not say where
        raise EndpointError(f"cannot reach {client.base_url} ({exc.__cause__ or exc}): is the server running at "
                            f"that URL? (set by {ENDPOINT_ENV} or --endpoint)") from exc


def http_model_id(name: str, client: OpenAI) -> str:
    """The name to send for a model: the alias on the kit's server, the variant id (`alias:1`) on others.

    On the Foundry Local app's service (FOUNDRY_LOCAL_ENDPOINT) the model is looked up in the service's catalog
    and loaded there when it is not yet (`app_service.ensure_loaded`). Names a server does not list pass through.
    """
    root = endpoint_root(str(client.base_url))
    if root == app_service_endpoint():
        return app_service.ensure_loaded(root, name.split(":")[0]).id  # its catalog ids differ from the kit's
    ids = served_model_ids(client)
    if name in ids:
        return name
    bare = name.split(":")[0]  # the kit's own server lists aliases: `alias:1` -> `alias`
    return next((i for i in ids if i.split(":")[0] == bare), name)


def serve(models: list[str], port: int | None = None) -> None:
    """Load models and keep the built-in web service up on loopback until interrupted (Ctrl-C).

    The port is `port`, else FOUNDRY_LAB_PORT, else 5273 (the port the workshop's scripts use).
    """
    if port is None:
        port = env_port()
        port = DEFAULT_PORT if port is None else port
    rt = start(port=port)
    rt.role = "foundry-lab serve"
    url = web_service_url(rt)  # the port first: a taken port fails before any model is loaded
    for name in models:
        model, choice = get_model(name, runtime=rt)
        print(f"loaded {model.id} in {load(model):.2f} s {choice.message}".rstrip())
    print(f"Serving OpenAI-compatible API at {url}/v1 (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopped")


def __getattr__(name: str) -> object:
    """`runtime.list_catalog` and `runtime.cache_table`, as notebooks call them, live in `helpers.catalog_tables`."""
    if name in ("list_catalog", "cache_table"):
        from . import catalog_tables

        return getattr(catalog_tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
