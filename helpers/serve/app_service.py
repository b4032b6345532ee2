"""The Foundry Local app's service (installed with the `foundry` CLI), reached over its REST API.

Attendees who installed the Foundry Local app point the kit at its service with FOUNDRY_LOCAL_ENDPOINT (the port
`foundry service status` shows; `foundry server status` in newer CLIs). Its management API differs from the
in-process runtime's web service; this module speaks it. Source of the routes and shapes: the Foundry-Local
repository, docs/reference/reference-rest.md ("Custom API"), and its Python SDK 0.x (`foundry_local/api.py`,
`models.py`) for `GET /foundry/list`:

- catalog `GET /foundry/list`; cached ids `GET /openai/models`; loaded ids `GET /openai/loadedmodels`;
  status `GET /openai/status` (`Endpoints`, `ModelDirPath`, `PipeName`; newer services spell them in camelCase);
- download `POST /openai/download` (progress lines `("file", fraction)` or `... 45.5%`, then a JSON result
  `{"Success": bool, "ErrorMessage": str|null}`, any capitalisation);
- load `GET /openai/load/{id}?ttl=S&ep=cpu|cuda|dml|qnn|webgpu`, unload `GET /openai/unload/{id}?force=true`;
- token count `POST /v1/chat/completions/tokenizer/encode/count` -> `{"tokenCount": n}`.

The device toggle maps to `ep`: `gpu` loads the model's GPU variant (or asks for `cuda` on a CPU build) and falls
back to the CPU variant, saying why, when the service cannot; `cpu` asks for `ep=cpu`; `auto` tries the GPU and
falls back silently. Every request goes to the URL given (loopback in the workshop), with bounded timeouts.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.devices import DeviceChoice
from ..core.errors import ClearError

if TYPE_CHECKING:
    import pandas as pd

STATUS_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 600.0
DOWNLOAD_LINE_TIMEOUT_S = 300.0  # a download may take long, but a silent connection this long is dead
DEFAULT_TTL_S = 600
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_FRACTION = re.compile(r"^\(\s*\"?([^\",]*)\"?\s*,\s*([0-9.eE+-]+)\s*\)$")


class ServiceError(ClearError, RuntimeError):
    """The service answered with an error, or not at all; the message names the URL and what to do."""


@dataclass(frozen=True)
class ServiceModel:
    """One model variant as the service's catalog lists it."""

    id: str  # name with :version, what the service's routes and the OpenAI API take
    alias: str
    display_name: str
    device: str  # cpu | gpu | npu
    execution_provider: str  # e.g. CPUExecutionProvider
    size_mb: float | None
    license: str
    task: str
    cached: bool = False
    loaded: bool = False

    @property
    def ep(self) -> str:
        """The `ep` query value of this variant's provider: CUDAExecutionProvider -> cuda."""
        return self.execution_provider.removesuffix("ExecutionProvider").lower() or "cpu"


def _request(url: str, body: dict[str, Any] | None = None) -> urllib.request.Request:
    """GET (or POST `body` as JSON) with the API key, like every request of the kit (service_routes.auth_headers)."""
    from .service_routes import auth_headers  # imported here: service_routes imports runtime, which imports this

    headers = auth_headers() | ({"Content-Type": "application/json"} if body is not None else {})
    data = json.dumps(body).encode() if body is not None else None
    return urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")


def _get(url: str, timeout_s: float = REQUEST_TIMEOUT_S) -> Any:
    """GET a JSON route; ServiceError (with the server's message) on HTTP errors or when unreachable."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout_s) as reply:
            body = reply.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise ServiceError(f"{url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"{url} is unreachable ({getattr(exc, 'reason', exc)}): is the Foundry Local service "
                           "running? `foundry service status` shows its URL.") from None
    return json.loads(body) if body.strip() else None


def json_field(record: dict[str, Any], name: str, default: Any = None) -> Any:
    """A JSON field whatever its capitalisation (`ModelDirPath`, `modelDirPath`, `success`, `Success`)."""
    lowered = {key.lower(): value for key, value in record.items()}
    return lowered.get(name.lower(), default)


def status(base_url: str, timeout_s: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
    """`GET /openai/status` as a dict, or None when the server is not a Foundry Local app service."""
    try:
        found = _get(f"{base_url}/openai/status", timeout_s)
    except (ServiceError, ValueError):
        return None
    if isinstance(found, dict) and (json_field(found, "endpoints") is not None or json_field(found, "modelDirPath")):
        return found
    return None


_kinds: dict[str, bool] = {}


def is_app_service(base_url: str) -> bool:
    """True when `base_url` is a Foundry Local app service (it answers `/openai/status`); asked once per URL."""
    if base_url not in _kinds:
        _kinds[base_url] = status(base_url) is not None
    return _kinds[base_url]


def models(base_url: str) -> list[ServiceModel]:
    """Every variant of the service's catalog, with whether it is cached and loaded."""
    listed = _get(f"{base_url}/foundry/list") or []
    cached = set(_get(f"{base_url}/openai/models") or [])
    loaded = set(_get(f"{base_url}/openai/loadedmodels") or [])
    found = []
    for entry in listed:
        runtime = json_field(entry, "runtime") or {}
        model_id = str(json_field(entry, "name", ""))
        found.append(ServiceModel(
            id=model_id, alias=str(json_field(entry, "alias") or model_id.split(":")[0]),
            display_name=str(json_field(entry, "displayName") or model_id),
            device=str(json_field(runtime, "deviceType") or "CPU").lower(),
            execution_provider=str(json_field(runtime, "executionProvider") or "CPUExecutionProvider"),
            size_mb=json_field(entry, "fileSizeMb"), license=str(json_field(entry, "license") or "unknown"),
            task=str(json_field(entry, "task") or ""), cached=model_id in cached, loaded=model_id in loaded,
        ))
    return found


def catalog_table(base_url: str) -> "pd.DataFrame":
    """The service's catalog with the columns of `tables.list_catalog()`; `source` is `service`."""
    import pandas as pd

    rows = [{"alias": m.alias, "id": m.id, "device": m.device, "execution_provider": m.execution_provider,
             "size_mb": m.size_mb, "license": m.license, "task": m.task, "context_length": None, "cached": m.cached,
             "loaded": m.loaded, "source": "service"} for m in models(base_url)]
    columns = ["alias", "id", "device", "execution_provider", "size_mb", "license", "task", "context_length",
               "cached", "loaded", "source"]
    return pd.DataFrame(rows, columns=columns).sort_values(["alias", "device"], ignore_index=True)


def variants(base_url: str, name: str) -> list[ServiceModel]:
    """The variants an alias or id names (an id names one); ServiceError listing the aliases when none."""
    listed = models(base_url)
    exact = [m for m in listed if name in (m.id, m.id.split(":")[0])]
    found = exact or [m for m in listed if m.alias == name]
    if not found:
        aliases = ", ".join(sorted({m.alias for m in listed})) or "none"
        raise ServiceError(f"Model '{name}' is not in the catalog of the Foundry Local service at {base_url}; "
                           f"it lists: {aliases}.")
    return found


def _variant_for(found: list[ServiceModel], device: str) -> ServiceModel:
    return next((m for m in found if m.device == device), found[0])


def load(base_url: str, name: str, device: str = "auto", ttl_s: int = DEFAULT_TTL_S) -> tuple[ServiceModel, float, DeviceChoice]:
    """Load a model at the service on the device asked for; returns the variant, seconds taken and the choice.

    `gpu`/`auto` load the GPU variant with its `ep` (or `ep=cuda` on a CPU-only model); when the service cannot,
    the CPU variant is loaded with `ep=cpu` and, for `gpu`, the choice's message says what the service answered.
    """
    found = variants(base_url, name)
    cpu = _variant_for(found, "cpu")
    if device in ("gpu", "auto"):
        gpu = next((m for m in found if m.device == "gpu"), None)
        target, ep = (gpu, gpu.ep) if gpu else (cpu, "cuda")
        try:
            seconds = _timed_get(f"{base_url}/openai/load/{target.id}?ttl={ttl_s}&ep={ep}", LOAD_TIMEOUT_S)
            return target, seconds, DeviceChoice(target.id, "gpu", device)
        except ServiceError as exc:
            why = f"GPU requested but the service could not load {target.id} with ep={ep} ({exc}). Continuing on the CPU."
            message = why if device == "gpu" else ""
    else:
        message = ""
    seconds = _timed_get(f"{base_url}/openai/load/{cpu.id}?ttl={ttl_s}&ep=cpu", LOAD_TIMEOUT_S)
    return cpu, seconds, DeviceChoice(cpu.id, "cpu", device, message)


def unload(base_url: str, model_id: str) -> float:
    """Unload now (`force=true` ignores the TTL); seconds taken."""
    return _timed_get(f"{base_url}/openai/unload/{model_id}?force=true", REQUEST_TIMEOUT_S)


def loaded(base_url: str) -> list[str]:
    """Ids of the models the service holds in memory."""
    return list(_get(f"{base_url}/openai/loadedmodels") or [])


def _timed_get(url: str, timeout_s: float) -> float:
    started = time.perf_counter()
    _get(url, timeout_s)
    return time.perf_counter() - started


def count_tokens(base_url: str, model_id: str, messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a chat request as the service's tokenizer counts them (no inference)."""
    request = _request(f"{base_url}/v1/chat/completions/tokenizer/encode/count",
                       {"model": model_id, "messages": messages})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as reply:
            return int(json_field(json.loads(reply.read()), "tokenCount"))
    except urllib.error.HTTPError as exc:
        raise ServiceError(f"{request.full_url} answered HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}") from None


def download(base_url: str, name: str, progress: bool = True) -> ServiceModel:
    """Download a model into the service's cache, with a tqdm bar fed by the service's progress lines.

    Returns the variant (the CPU one for an alias). Already cached: says so and returns at once.
    ServiceError with the service's ErrorMessage when it reports a failure.
    """
    from tqdm.auto import tqdm

    model = _variant_for(variants(base_url, name), "cpu")
    if model.cached:
        print(f"{model.id} is already in the service's cache.")
        return model
    request = _request(f"{base_url}/openai/download", {"model": model.id, "IgnorePipeReport": True})
    result = ""
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_LINE_TIMEOUT_S) as reply, \
                tqdm(total=100.0, unit="%", desc=f"download {model.id}", disable=not progress,
                     bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}% [{elapsed}<{remaining}]") as bar:
            for raw in reply:
                line = raw.decode(errors="replace").strip()
                if result or line.startswith("{"):
                    result += line
                    continue
                percent = _progress_percent(line)
                if percent is not None and percent > bar.n:
                    bar.update(min(percent, 100.0) - bar.n)
    except urllib.error.HTTPError as exc:
        raise ServiceError(f"{base_url}/openai/download answered HTTP {exc.code}: "
                           f"{exc.read().decode(errors='replace')[:300]}") from None
    try:
        outcome = json.loads(result)
    except ValueError:
        raise ServiceError(f"{base_url}/openai/download ended without its JSON result (got {result[:200]!r}); "
                           "run the download again.") from None
    if not json_field(outcome, "success", False):
        raise ServiceError(f"The service could not download {model.id}: {json_field(outcome, 'errorMessage') or 'no reason given'}")
    return model


def _progress_percent(line: str) -> float | None:
    """0-100 from a progress line: `("file", 0.42)` (a fraction, as documented) or `... 42.0%` (the CLI's text)."""
    fraction = _FRACTION.match(line)
    if fraction:
        return float(fraction.group(2)) * 100.0
    percent = _PERCENT.search(line)
    return float(percent.group(1)) if percent else None


def ensure_loaded(base_url: str, name: str, device: str = "auto") -> ServiceModel:
    """The variant of `name` that the service has loaded, loading it first (on `device`) when none is."""
    found = variants(base_url, name)
    ready = next((m for m in found if m.loaded), None)
    return ready or load(base_url, name, device)[0]


def default_models(base_url: str, wanted: list[str]) -> list[str]:
    """The `wanted` aliases (models.json defaults) that the service lists; else the aliases it has cached."""
    listed = models(base_url)
    aliases = {m.alias for m in listed}
    return [name for name in wanted if name in aliases] or sorted({m.alias for m in listed if m.cached})
