"""Foundry Local's management routes over HTTP: load and unload a model on a running service.

A Foundry Local service (v2 `/models/load/{alias}`, older `/openai/load/{name}`) loads models on request; a plain
OpenAI-compatible server has no such routes, and then these functions return None: a route answered 404, 405 or
501 is skipped, not fatal. Every request carries the API key (FOUNDRY_LOCAL_API_KEY) when one is set, like the
kit's chat requests, because gateways guard every route. Loopback servers only in the kit's own use; the URL is
whatever endpoint the user configured.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from ..core.api_key import API_KEY_ENV, api_key

NO_SUCH_ROUTE = (404, 405, 501)


def auth_headers() -> dict[str, str]:
    """`Authorization: Bearer KEY` when FOUNDRY_LOCAL_API_KEY is set (the key itself is never printed)."""
    key = api_key()
    return {"Authorization": f"Bearer {key}"} if key else {}


def http_load(base_url: str, name: str, timeout_s: float = 600.0) -> float | None:
    """Ask a Foundry Local service to load a model (v2 `/models/load/{alias}`, older `/openai/load/{name}`).

    Returns seconds taken, or None when the server has no such route (plain OpenAI-compatible servers).
    """
    return _service_route(base_url, ("/models/load/", "/openai/load/"), name, timeout_s)


def http_unload(base_url: str, name: str, timeout_s: float = 60.0) -> float | None:
    """Ask a Foundry Local service to unload a model (v2 `/models/unload/{alias}`, older `/openai/unload/{name}`).

    Returns seconds taken, or None when the server has no such route.
    """
    return _service_route(base_url, ("/models/unload/", "/openai/unload/"), name, timeout_s)


def _service_route(base_url: str, prefixes: tuple[str, ...], name: str, timeout_s: float) -> float | None:
    """GET the first management route (prefix + name) the server has; seconds taken, None when none exists."""
    for prefix in prefixes:
        route = prefix + name
        started = time.perf_counter()
        request = urllib.request.Request(base_url.rstrip("/") + route, headers=auth_headers())
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as reply:
                reply.read()
            return time.perf_counter() - started
        except urllib.error.HTTPError as exc:
            if exc.code not in NO_SUCH_ROUTE:  # no such route: not a Foundry Local service
                detail = exc.read().decode(errors="replace")[:300]
                hint = f" (set {API_KEY_ENV} to the server's key)" if exc.code in (401, 403) else ""
                raise RuntimeError(f"{base_url}{route} answered HTTP {exc.code}{hint}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise ConnectionError(f"cannot reach {base_url} ({exc.reason}): is the server running at that URL?") from exc
    return None
