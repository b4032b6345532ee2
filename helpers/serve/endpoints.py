"""Where the OpenAI-compatible API is: environment settings, ports, endpoint URLs, the `openai` client and the
names a server lists.

FOUNDRY_LOCAL_ENDPOINT points the kit at another server (the Foundry Local app's service or any OpenAI-compatible
one); FOUNDRY_LAB_PORT pins the port of the kit's own web service (`runtime.web_service_url` starts it).
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ..core.api_key import api_key
from . import app_service
from .errors import EndpointError, PortSettingError

if TYPE_CHECKING:
    from openai import OpenAI

DEFAULT_PORT = 5273
ENDPOINT_ENV = "FOUNDRY_LOCAL_ENDPOINT"
PORT_ENV = "FOUNDRY_LAB_PORT"


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


def openai_client(base_url: str, timeout_s: float = 120.0) -> OpenAI:
    """An `openai.OpenAI` client for the server at `base_url` (root URL, `/v1` appended; `runtime.web_service_url()`
    for the kit's own); the key comes from FOUNDRY_LOCAL_API_KEY when a server needs one."""
    from openai import OpenAI

    url = base_url.rstrip("/")
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
