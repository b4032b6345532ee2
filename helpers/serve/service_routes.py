"""Foundry Local's management routes over HTTP: load and unload a model on a running service.

A Foundry Local service (v2 `/models/load/{alias}`, older `/openai/load/{name}`) loads models on request; a plain
OpenAI-compatible server has no such routes, and then these functions return None: a route answered 404, 405 or
501 is skipped, not fatal. Every request carries the API key (FOUNDRY_LOCAL_API_KEY) when one is set, like the
kit's chat requests, because gateways guard every route. Loopback servers only in the kit's own use; the URL is
whatever endpoint the user configured.

A server still loading its model answers 503 "Loading model" on every route but `/v1/models` (llama.cpp, Docker
Model Runner). `wait_until_ready` polls its `/health` while it answers 503, bounded (LOADING_WAIT_S) and said on
screen, so a benchmark measures a ready server; a management route answering 503 raises `ServerLoadingError`
saying the server is still loading and when to retry.
"""
from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from ..core.api_key import API_KEY_ENV, api_key
from ..measure.openai_wire import LOADING_STATUS, still_loading_text

NO_SUCH_ROUTE = (404, 405, 501)
LOADING_WAIT_S = 120.0  # how long a benchmark waits for a server that is still loading its model
LOADING_POLL_S = 0.5


class ServerLoadingError(RuntimeError):
    """The server is still loading its model (HTTP 503) and did not become ready in time."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _health_status(base_url: str, timeout_s: float) -> tuple[int | None, str, str | None]:
    """(HTTP status, body text, Retry-After) of `GET /health`; status None when nothing answered."""
    request = urllib.request.Request(base_url.rstrip("/") + "/health", headers=auth_headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            return reply.status, "", None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), exc.headers.get("Retry-After")
    except (urllib.error.URLError, OSError):
        return None, "", None


def wait_until_ready(base_url: str, max_wait_s: float = LOADING_WAIT_S,
                     say: Callable[[str], None] = _say) -> float:
    """Wait while the server answers `GET /health` with 503 (still loading its model): seconds waited, 0.0 when it
    was ready (or has no such route, or did not answer: the next request reports that). Says on screen that it
    waits and when the server became ready; raises ServerLoadingError after `max_wait_s`."""
    started = time.perf_counter()
    status, body, retry_after = _health_status(base_url, LOADING_POLL_S * 20)
    if status != LOADING_STATUS:
        return 0.0
    say(f"{still_loading_text(base_url, body or 'Service Unavailable', retry_after)}: waiting up to "
        f"{max_wait_s:.0f} s before measuring")
    while status == LOADING_STATUS:
        if time.perf_counter() - started > max_wait_s:
            raise ServerLoadingError(f"{still_loading_text(base_url, body, retry_after)} (waited {max_wait_s:.0f} "
                                     "s, the kit's limit)")
        time.sleep(LOADING_POLL_S)
        status, body, retry_after = _health_status(base_url, LOADING_POLL_S * 20)
    waited = time.perf_counter() - started
    say(f"{base_url}: ready after {waited:.1f} s; measuring")
    return waited


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
            if exc.code == LOADING_STATUS:
                raise ServerLoadingError(still_loading_text(base_url, exc.read().decode(errors="replace"),
                                                            exc.headers.get("Retry-After"))) from exc
            if exc.code not in NO_SUCH_ROUTE:  # no such route: not a Foundry Local service
                detail = exc.read().decode(errors="replace")[:300]
                hint = f" (set {API_KEY_ENV} to the server's key)" if exc.code in (401, 403) else ""
                raise RuntimeError(f"{base_url}{route} answered HTTP {exc.code}{hint}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise ConnectionError(f"cannot reach {base_url} ({exc.reason}): is the server running at that URL?") from exc
    return None
