"""Running a case of issue #10 against its scripted server, again while the server itself fell behind its script."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..fixture_server import ReceivedRequest, Script, serve
from .cases import Case

MAX_FIXTURE_LATENESS_MS, ATTEMPTS = 10.0, 5


def chat_requests(script: Script) -> list[ReceivedRequest]:
    return [r for r in script.received if r.method == "POST" and r.path.rstrip("/").endswith("/chat/completions")]


def _client_lag_s(trials: list[dict[str, Any]], script: Script) -> float:
    """How long after the server wrote a request's first token the client took to see it, at most over the
    streamed trials (records with `start` and `token_times`, in request order): a client kept off the CPU by other
    work reads late, whatever the code does."""
    lags = [trial["start"] + trial["token_times"][0] - received.token_sent[0]
            for trial, received in zip(trials, chat_requests(script))
            if trial.get("token_times") and received.token_sent]
    return max(lags, default=0.0)


def _as_trials(result: object) -> list[dict[str, Any]]:
    return [result] if isinstance(result, dict) else []


def run_case(case: Case, measure: Callable[[str, Script], object],
             trials: Callable[[object], list[dict[str, Any]]] | None = None) -> tuple[Script, object]:
    """`measure(base_url, script)` against a fresh server for the case; repeated (at most ATTEMPTS times) while
    the fixture fell more than MAX_FIXTURE_LATENESS_MS behind its own schedule, or the client saw the first token
    that much after it was written (CPU load from other processes). This repeats an invalid experiment in the
    test; the code under test never retries, and a client that is always late still fails every attempt.
    `trials(result)` gives the trial records of a result (default: the result itself when it is one record)."""
    for _ in range(ATTEMPTS):
        script = case.script()
        with serve(script) as base_url:
            result = measure(base_url, script)
        if (all(r.lateness_s * 1000 <= MAX_FIXTURE_LATENESS_MS for r in chat_requests(script))
                and _client_lag_s((trials or _as_trials)(result), script) * 1000 <= MAX_FIXTURE_LATENESS_MS):
            break
    return script, result


def with_send_time(record: dict[str, Any], received: ReceivedRequest | None) -> dict[str, Any]:
    """The record plus `send_ms`: request start (client) -> request read (server), on the shared perf_counter clock."""
    return record | {"send_ms": None if received is None else (received.arrived - record["start"]) * 1000}
