"""The workshop's pre-flight checklist: is everything ready before the session starts?

Checks versions, the runtime, the OpenAI-compatible endpoint, and that every target model answers a probe
in-process and over HTTP. Each failure comes with the fix. Used by `python -m helpers preflight` and notebook 00.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..core.config import resolve_prompt_set
from ..core.errors import error_text
from ..core.progress import steps
from ..core.versions import versions
from ..measure.timing import TrialTiming
from ..serve import app_service, endpoints, registry, runtime
from ..serve.runners import InprocessRunner, OpenAIServerRunner

if TYPE_CHECKING:
    import pandas as pd
    from openai import OpenAI

PROBE_MAX_TOKENS = 16


@dataclass
class Check:
    """One line of the checklist."""

    check: str
    target: str
    ok: bool
    detail: str
    fix: str = ""
    seconds: float | None = None  # how long the check took (wall clock); None when it was not timed


def target_models(models: list[str] | None = None, offline: bool | None = None) -> list[str]:
    """The models to check: as given, else `registry.default_models` (models.json defaults for the world, or what
    the Foundry Local app's service lists)."""
    return models or registry.default_models(offline)


def _guard(checks: list[Check], name: str, target: str, fix: str, action: Callable[[], str]) -> bool:
    """Run one check, record pass/fail with the error text; never raise."""
    started = time.perf_counter()
    try:
        detail = action()
        checks.append(Check(name, target, True, detail, seconds=time.perf_counter() - started))
        return True
    except Exception as exc:  # noqa: BLE001 - every failure becomes a line of the table
        checks.append(Check(name, target, False, error_text(exc)[:400], fix, time.perf_counter() - started))
        return False


def _check_versions() -> str:
    found = versions()
    if found["foundry-local-sdk"].split(".")[0] != "2" or "missing" in found.values():
        raise RuntimeError(f"need foundry-local-sdk 2.x and every package: {found}")
    return ", ".join(f"{k} {v}" for k, v in found.items())


def _answer(timing: TrialTiming) -> str:
    """Summarise a probe answer, or raise when there is none."""
    if timing.error:
        raise RuntimeError(timing.error)
    if not timing.text.strip():
        raise RuntimeError("empty answer")
    ttft = f"TTFT {timing.ttft_ms:.0f} ms, " if timing.ttft_ms is not None else ""
    rate = f"{timing.decode_tps:.0f} tok/s" if timing.decode_tps else f"{timing.output_tokens} tokens"
    return f"{ttft}{rate}: {timing.text.strip()[:60]!r}"


def run(models: list[str] | None = None, http: bool = True, device: str = "auto", progress: bool = False) -> list[Check]:
    """Run the checklist; returns every check (nothing raised). `progress`: a bar per model saying which step runs
    (finding, loading, asking in-process, asking over HTTP, unloading), on stderr or as a widget in Jupyter."""
    checks: list[Check] = []
    _guard(checks, "versions", "python + packages", "Re-run setup: `python -m helpers setup`.", _check_versions)
    if not _guard(checks, "runtime", "Foundry Local in-process", "Re-run setup; read the log under .lab/logs.",
                  lambda: runtime.start(quiet=True).messages[0]):
        return checks
    rt = runtime.start(quiet=True)
    messages = [{"role": "user", "content": resolve_prompt_set("smoke")[1].prompts[0].text}]
    service = endpoints.app_service_endpoint()
    client = _check_endpoint(checks, rt) if http or service else None
    names = target_models(models, rt.offline)
    bar = steps(len(names), "checklist") if progress else None
    for name in names:
        say = (lambda action, name=name: bar.doing(name, action)) if bar else _quiet
        if service:
            _check_service_model(checks, service, name, device, messages, client)
        elif endpoints.external_endpoint():  # any other OpenAI-compatible server: its models, not the kit's
            _check_endpoint_model(checks, endpoints.external_endpoint(), name, messages, client)
        else:
            _check_model(checks, rt, name, device, messages, client, say)
        if bar:
            bar.done()
    if bar:
        bar.close(f"{sum(c.ok for c in checks)} of {len(checks)} checks passed")
    return checks


def _quiet(action: str) -> None:
    """No progress shown."""


def _over_http(client: OpenAI, model_id: str) -> OpenAIServerRunner:
    """The runner of a model the server behind `client` already serves as `model_id` (probes: nothing loaded)."""
    return OpenAIServerRunner(model_id, endpoints.endpoint_root(str(client.base_url)), client)


def _check_endpoint(checks: list[Check], rt: runtime.LabRuntime) -> OpenAI | None:
    """The OpenAI-compatible endpoint answers and lists models; returns a client, or None when it does not."""
    external = endpoints.external_endpoint()
    fix = (f"Start the server at {external} or unset {endpoints.ENDPOINT_ENV}." if external
           else f"Free port {rt.port} or set {endpoints.PORT_ENV}=0 for any free port." if rt.port
           else "Read the error: the kit's web service could not start on a free loopback port.")
    if not _guard(checks, "endpoint", external or "built-in web service", fix, lambda: runtime.web_service_url(rt)):
        return None
    client = endpoints.openai_client(runtime.web_service_url(rt))
    listed = _guard(checks, "endpoint /v1/models", runtime.web_service_url(rt), fix,
                    lambda: f"{len(client.models.list().data)} models listed")
    return client if listed else None


def _check_model(checks: list[Check], rt: runtime.LabRuntime, name: str, device: str,
                 messages: list[dict[str, str]], client: OpenAI | None,
                 say: Callable[[str], None] = _quiet) -> None:
    """Find, load, probe in-process and over HTTP, unload one model; `say` is told each step before it runs."""
    say("finding")
    try:
        model, choice = runtime.get_model(name, device, rt)
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("model found", name, False, str(exc)[:400],
                            "Build bundled models with `python -m helpers setup`, or go online for catalog models."))
        return
    checks.append(Check("model found", name, True, model.id + (f" ({choice.message})" if choice.message else "")))
    say("loading")
    if not _guard(checks, "load", name, "Free memory or pick a smaller model; read the log under .lab/logs.",
                  lambda: f"{runtime.load(model):.2f} s"):
        return
    say("asking in-process")
    _guard(checks, "answers in-process", name, "Rebuild the model: `python -m helpers setup --force`.",
           lambda: _answer(InprocessRunner(model, choice, rt).chat(messages, max_tokens=PROBE_MAX_TOKENS)))
    if client is not None:
        say("asking over HTTP")
        _guard(checks, "answers over HTTP", name, "Check that the endpoint lists and serves this model.",
               lambda: _answer(_over_http(client, endpoints.http_model_id(model.id, client)).chat(
                   messages, max_tokens=PROBE_MAX_TOKENS)))
    say("unloading")
    _guard(checks, "unload", name, "Close what still uses the model (a notebook kernel, `foundry-lab serve`).",
           lambda: _unloaded(runtime.unload(model)))


def _unloaded(waited_s: float) -> str:
    """The unload in plain words (the runtime's own refusals while the web service held the model are not shown)."""
    if not waited_s:
        return "memory freed"
    return (f"memory freed after {waited_s:.2f} s: the web service was still closing the HTTP answer's session, "
            "so the kit waited for it (the runtime's 'cannot unload' refusals meanwhile are expected, not errors)")


def _check_endpoint_model(checks: list[Check], endpoint: str, name: str, messages: list[dict[str, str]],
                          client: OpenAI | None) -> None:
    """At an OpenAI-compatible server set by FOUNDRY_LOCAL_ENDPOINT (not the Foundry Local app): the model is
    listed at /v1/models (by id or alias) and answers over HTTP. Nothing is looked up or loaded in-process."""
    fix = f"Pass an id that {endpoint}/v1/models lists, or load the model in that server first."
    if client is None:
        checks.append(Check("model listed", name, False, f"{endpoint} did not list its models", fix))
        return

    def listed() -> str:
        ids = endpoints.served_model_ids(client)
        model_id = endpoints.http_model_id(name, client)
        if model_id not in ids:
            raise LookupError(f"{endpoint} lists no model '{name}' (it lists {', '.join(ids[:10]) or 'none'})")
        return model_id

    if _guard(checks, "model listed", name, fix, listed):
        model_id = checks[-1].detail
        _guard(checks, "answers over HTTP", name, "Check the server's log: it lists the model but did not answer.",
               lambda: _answer(_over_http(client, model_id).chat(messages, max_tokens=PROBE_MAX_TOKENS)))


def _check_service_model(checks: list[Check], service: str, name: str, device: str,
                         messages: list[dict[str, str]], client: OpenAI | None) -> None:
    """At the Foundry Local app's service: find in its catalog, load (device -> ep, timed), answer, unload."""
    try:
        found = app_service.variants(service, name)
    except app_service.ServiceError as exc:
        checks.append(Check("model found", name, False, str(exc)[:400],
                            "Pick a model the service lists: `foundry-lab model list`."))
        return
    listed = ", ".join(f"{m.id} ({m.device}{', cached' if m.cached else ''})" for m in found)
    checks.append(Check("model found", name, True, f"at the service: {listed}"))
    if not any(m.cached for m in found):
        checks.append(Check("downloaded", name, False, "not in the service's cache",
                            f"Download it first: `foundry-lab model download {name}`."))
        return
    loaded: list[app_service.ServiceModel] = []

    def load() -> str:
        model, seconds, choice = app_service.load(service, name, device)
        loaded.append(model)
        return f"{model.id} on {model.device} in {seconds:.2f} s" + (f" ({choice.message})" if choice.message else "")

    if not _guard(checks, "load at the service", name, "Free memory at the service or pick a smaller model.", load):
        return
    if client is not None:
        _guard(checks, "answers over HTTP", name, "Check the service's log (`foundry service status`).",
               lambda: _answer(_over_http(client, loaded[0].id).chat(messages, max_tokens=PROBE_MAX_TOKENS)))
    _guard(checks, "unload at the service", name, "Unload it with `foundry model unload`.",
           lambda: f"{app_service.unload(service, loaded[0].id):.2f} s")


def as_table(checks: list[Check]) -> pd.DataFrame:
    """The checklist as a DataFrame (PASS/FAIL first column)."""
    import pandas as pd

    table = pd.DataFrame([asdict(c) for c in checks])
    table.insert(0, "result", table.pop("ok").map({True: "PASS", False: "FAIL"}))
    return table


def seconds_per_model(checks: list[Check]) -> pd.DataFrame:
    """One row per model checked: model, then the seconds each timed step took (`load_s`, `answers_in_process_s`,
    `answers_over_http_s`, ...; missing when the step did not run), for the claims notebook 00 prints."""
    import pandas as pd

    rows: dict[str, dict[str, float | str]] = {}
    for check in checks:
        if check.seconds is not None and check.check not in _SETUP_CHECKS:
            column = check.check.lower().replace(" ", "_").replace("-", "_").replace("/", "") + "_s"
            rows.setdefault(check.target, {"model": check.target})[column] = check.seconds
    return pd.DataFrame(list(rows.values()))


_SETUP_CHECKS = {"versions", "runtime", "endpoint", "endpoint /v1/models"}


def main(models: list[str] | None, as_json: bool, http: bool, device: str) -> int:
    """CLI entry: print the table (or JSON); exit code 0 only when every check passed.

    With `as_json` stdout carries only the JSON list of checks: what the runtime and web service print on the way
    (which server this is, the world it started in) goes to stderr, so `foundry-lab preflight --json | jq` works."""
    import contextlib
    import json

    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        checks = run(models, http=http, device=device, progress=True)
    if as_json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        from ..present.cells import show

        print(show(as_table(checks)[["result", "check", "target", "detail", "seconds"]],
                   units={"seconds": "s"}).to_text())
        failed = [c for c in checks if not c.ok]
        print(f"\n{len(checks) - len(failed)} passed, {len(failed)} failed")
    return 0 if all(c.ok for c in checks) else 1
