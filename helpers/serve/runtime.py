"""The in-process Foundry Local runtime: start, load/unload with a memory check, download and cache, the web
service of this process, and the serve loop.

`start()` brings up the real Foundry Local runtime in this process (foundry-local-sdk 2.x) with the kit's own
app/cache/log folders, registers the built models (`registry`), and makes the built-in OpenAI-compatible web
service able to serve them, behind the kit's front door (`gateway`). Endpoints and clients: `endpoints`.
"""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import paths
from ..core.config import load_models
from ..core.devices import DeviceChoice, choose_device, gpu_providers
from ..measure import memory_fit
from .endpoints import DEFAULT_PORT, PORT_ENV, env_port, external_endpoint
from .errors import BundledModelError, ModelNotFoundError, OfflineError, PortInUseError
from .gateway import Front, port_taken_message, whois
from .offline_catalog import OfflineCatalogServer, place_in_cache
from .registry import (
    PUBLIC_CATALOG_HOST,
    PUBLIC_CATALOG_URL,
    BundledModel,
    detect_offline,
    find_bundled,
    local_models,
    model_folder,
    register_local,
)

if TYPE_CHECKING:
    from foundry_local_sdk import FoundryLocalManager, IModel

APP_NAME = "foundry-model-lab"


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
        for item in bundled.values():  # registrations persist in the model cache
            register_local(runtime.manager, item)
        built = f"{sum(b.source == 'bundled' for b in bundled.values())} bundled models"
        converted = sum(b.source == "converted" for b in bundled.values())
        built += f" and {converted} converted" if converted else ""
        world = (
            f"offline: the public Foundry catalog ({PUBLIC_CATALOG_HOST}) is unreachable, using the {built}"
            if offline
            else f"online: public Foundry catalog plus {built}"
        )
        runtime.messages.append(f"Foundry Local runtime started in-process ({world}).")
        if not bundled:
            runtime.messages.append("No bundled models are built yet: run `python -m helpers setup`.")
        if not quiet:
            print("\n".join(runtime.messages))
        _runtime = runtime
        return runtime


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
    register_local(rt.manager, item)
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
        raise ModelNotFoundError(f"Model '{name}' not found: {hint}. Models on this machine: {local_models(rt.bundled)}.")
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


# model id -> the thread setting its last load used (`helpers.build.threads.loading`)
LOAD_THREADS: dict[str, dict] = {}


def load(model: "IModel", *, check_memory: bool = True, threads: int | None = None) -> float:
    """Load into memory; returns the load time in seconds (0.0 when it was already loaded).

    First checks the model fits in the available RAM (`check_fits`; raises memory_fit.ModelTooLargeError) unless
    `check_memory` is False. `threads`: decode threads for this load instead of the build's setting (a model
    already loaded is reloaded; `helpers.build.threads.loading`, ThreadSettingError for a catalog model). The
    setting the load used (fewer threads when other work keeps cores busy) is kept in LOAD_THREADS[model.id]."""
    from ..build.threads import loading

    if model.is_loaded and threads is None:
        return 0.0
    unload(model)
    if check_memory:
        check_fits(model)
    item = _runtime.bundled.get(model.id.split(":")[0]) if _runtime else None
    with loading(item.cache_path if item else None, item.path if item else None, threads) as used:
        started = time.perf_counter()
        model.load()
        load_s = time.perf_counter() - started
    LOAD_THREADS[model.id] = used
    return load_s


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
    from .native_stderr import held_back

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
        raise OfflineError(f"Cannot download '{name}': offline. Models on this machine: {local_models(rt.bundled)}.")
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
