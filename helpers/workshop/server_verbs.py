"""`server status`, `model load MODEL`, `model unload MODEL`: today's Foundry Local CLI verbs for a running server.

Since CLI 0.10 `foundry server start|status` replaced `foundry service …` and `foundry model load|unload` load into
the running service. The kit's server is `foundry-lab server start` (= `serve`) on 127.0.0.1:5273 (or
FOUNDRY_LAB_PORT); with FOUNDRY_LOCAL_ENDPOINT set, the server is that one. Which server a verb talks to
(`running_server`):

1. FOUNDRY_LOCAL_ENDPOINT on the Foundry Local app's service: its REST API (`helpers.serve.app_service`, load with `ep`);
2. FOUNDRY_LOCAL_ENDPOINT on another server: Foundry Local's load routes if it has them (`helpers.serve.service_routes`);
3. else the kit's own server on its port, recognised by `GET /foundry-lab` (`gateway.whois`), through its
   `/models/load/{alias}` routes.

Loading needs a server that outlives this command: when none runs, the error says how to start one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..core.errors import ClearError
from ..serve import app_service, endpoints, service_routes
from ..serve.gateway import whois


class NoServerError(ClearError, ConnectionError):
    """No server runs where a load or unload should go."""


@dataclass
class ServerStatus:
    """What `server status` reports: `running`, `kind` (kit | foundry-local-service | endpoint | foreign | none),
    the OpenAI-compatible base URL (with /v1), the process and the models loaded there (when it says)."""

    running: bool
    kind: str
    url: str | None = None
    pid: int | None = None
    role: str | None = None
    models: list[str] = field(default_factory=list)
    detail: str = ""


def kit_port() -> int:
    """The port `server start` binds: FOUNDRY_LAB_PORT when set to a fixed port, else 5273 (endpoints.DEFAULT_PORT)."""
    return endpoints.env_port() or endpoints.DEFAULT_PORT


def server_status() -> ServerStatus:
    """Which server the kit's verbs would use, and whether it answers (never raises for a server that is down)."""
    external = endpoints.external_endpoint()
    if external:
        if endpoints.app_service_endpoint():
            loaded = app_service.loaded(external)
            return ServerStatus(True, "foundry-local-service", f"{external}/v1", models=loaded,
                                detail="the Foundry Local app's service (FOUNDRY_LOCAL_ENDPOINT)")
        try:
            ids = endpoints.served_model_ids(endpoints.openai_client(external, timeout_s=5))
        except Exception as exc:  # noqa: BLE001 - a server that is down is a status, not an error
            return ServerStatus(False, "endpoint", f"{external}/v1", detail=f"does not answer: {exc}")
        return ServerStatus(True, "endpoint", f"{external}/v1", models=ids, detail="FOUNDRY_LOCAL_ENDPOINT")
    port = kit_port()
    holder = whois(port)
    if holder is None:
        return ServerStatus(False, "none", detail=f"nothing listens on 127.0.0.1:{port}")
    if not holder:
        return ServerStatus(False, "foreign", f"http://127.0.0.1:{port}/v1",
                            detail=f"127.0.0.1:{port} is held by another program (not this kit; often the Foundry "
                                   "Local app): set FOUNDRY_LOCAL_ENDPOINT to use it")
    return ServerStatus(True, "kit", f"{holder['url']}/v1", holder.get("pid"), holder.get("role"),
                        list(holder.get("models") or []), "the kit's server")


def print_status(as_json: bool = False) -> int:
    """Print `server status` (text or JSON); exit code 0 when a server runs, 1 when none does."""
    status = server_status()
    if as_json:
        print(json.dumps(asdict(status), indent=2))
    elif status.running:
        who = f" (process {status.pid}, {status.role})" if status.pid else ""
        print(f"Server running at {status.url}{who}: {status.detail}")
        print(f"loaded: {', '.join(status.models) or 'none'}")
    else:
        print(f"No server running: {status.detail}. Start the kit's with `foundry-lab server start`.")
    return 0 if status.running else 1


def _target() -> tuple[str, str]:
    """(kind, root URL) of the server a load/unload goes to; NoServerError saying how to start one."""
    status = server_status()
    if not status.running or status.url is None:
        raise NoServerError(f"No server to load into: {status.detail}. Start one that keeps models loaded: "
                            "`foundry-lab server start --models MODEL`, or set FOUNDRY_LOCAL_ENDPOINT.")
    return status.kind, endpoints.endpoint_root(status.url)


def load(name: str, device: str = "auto") -> int:
    """Load `name` into the running server; prints the time taken."""
    kind, root = _target()
    if kind == "foundry-local-service":
        model, seconds, choice = app_service.load(root, name, device)
        print(f"{model.id} loaded at the service {root} in {seconds:.2f} s {choice.message}".rstrip())
        return 0
    seconds = service_routes.http_load(root, name)
    if seconds is None:
        raise NoServerError(f"{root} has no load route (not a Foundry Local service): load {name} in that server "
                            "its own way.")
    print(f"{name} loaded at {root} in {seconds:.2f} s")
    return 0


def unload(name: str) -> int:
    """Unload `name` from the running server."""
    kind, root = _target()
    if kind == "foundry-local-service":
        for model in app_service.variants(root, name):
            if model.loaded:
                app_service.unload(root, model.id)
        print(f"{name} unloaded at the service {root}")
        return 0
    if service_routes.http_unload(root, name) is None:
        raise NoServerError(f"{root} has no unload route (not a Foundry Local service).")
    print(f"{name} unloaded at {root}")
    return 0
