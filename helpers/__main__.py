"""`foundry-lab <verb>` (installed by setup) and `python -m helpers <verb>`: every headless action of the kit.

The verbs mirror the workshop's `foundry` CLI (`model list|download|run`, `cache list|remove`) and add the kit's
own (`serve`, `bench`, `report`, `preflight`, `byom`, `route`, `setup`, `build`). `setup` runs with the bare system
Python (standard library only); every other verb runs in the kit's `.venv`. Errors with a clear message
(`errors.ClearError`) print as one line without a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from .build.convert import PRECISIONS  # standard library only, like everything imported before the verb is known
from .core.devices import DEVICES
from .core.lists import comma_list


def _models(value: str | None) -> list[str] | None:
    return comma_list(value) or None


def _number(kind: type[int] | type[float], minimum: float, maximum: float | None = None,
            above: bool = False) -> Callable[[str], int | float]:
    """An argparse type: `kind` within [minimum, maximum] (or strictly above `minimum`), else a one-line usage error."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (value <= minimum if above else value < minimum) or (maximum is not None and value > maximum):
            bound = f"above {minimum:g}" if above else f"from {minimum:g}" + (f" to {maximum:g}" if maximum else " up")
            raise argparse.ArgumentTypeError(f"needs a {'whole ' if kind is int else ''}number {bound}, got {text!r}")
        return value
    return parse


POSITIVE_INT, PORT, POSITIVE = _number(int, 1), _number(int, 0, 65535), _number(float, 0, above=True)


def main(argv: list[str] | None = None) -> int:
    prog = "foundry-lab" if os.path.basename(sys.argv[0]) == "foundry-lab" else "python -m helpers"
    parser = argparse.ArgumentParser(prog=prog, description="Foundry Local Model Lab")
    verbs = parser.add_subparsers(dest="verb", required=True)

    setup = verbs.add_parser("setup", help="create .venv, install requirements, build the bundled models")
    setup.add_argument("--force", action="store_true", help="rebuild the bundled models even when up to date")
    setup.add_argument("--skip-models", action="store_true", help="only the virtual environment")

    build = verbs.add_parser("build", help="build the bundled offline models (inside .venv)")
    build.add_argument("--force", action="store_true")
    build.add_argument("--models", help="comma list of bundled model names (default: all)")

    pre = verbs.add_parser("preflight", help="check runtime, endpoint and that every target model answers")
    pre.add_argument("--models", help="comma list (default: models.json defaults for offline/online)")
    pre.add_argument("--json", action="store_true", help="machine-readable output")
    pre.add_argument("--no-http", action="store_true", help="skip the web service checks")
    pre.add_argument("--device", default="auto", choices=DEVICES)

    model = verbs.add_parser("model", help="like `foundry model`: list, download, run (FOUNDRY_LOCAL_ENDPOINT: "
                                           "at the Foundry Local service)")
    model_verbs = model.add_subparsers(dest="action", required=True)
    model_verbs.add_parser("list", help="every model the kit can see, one row per variant")
    model_download = model_verbs.add_parser("download", help="download a catalog model (progress bar)")
    model_run = model_verbs.add_parser("run", help="answer --prompt (streamed, then TTFT, tok/s, tokens), "
                                                   "or chat interactively without it")
    for action in (model_download, model_run):
        action.add_argument("model", help="alias or id, e.g. smollm2-135m-instruct-int4")
        action.add_argument("--device", default="auto", choices=DEVICES)
    model_run.add_argument("--prompt", help="one question; without it: an interactive chat")
    model_run.add_argument("--max-tokens", type=POSITIVE_INT, help="max tokens per answer (default: terminal.RUN_MAX_TOKENS)")
    model_run.add_argument("--threads", type=POSITIVE_INT, help="decode threads for this run (default: the build's "
                                                               "setting, chosen for this machine at setup)")

    cache = verbs.add_parser("cache", help="like `foundry cache`: list (default), remove MODEL")
    cache.add_argument("--remove", metavar="MODEL", help="same as `cache remove MODEL`")
    cache_verbs = cache.add_subparsers(dest="action")
    cache_verbs.add_parser("list", help="the cache with sizes on disk and its folder")
    cache_verbs.add_parser("remove", help="delete a downloaded catalog model").add_argument("model")

    verbs.add_parser("catalog", help="same as `model list`")
    download = verbs.add_parser("download", help="same as `model download MODEL`")
    download.add_argument("model")
    download.add_argument("--device", default="auto", choices=DEVICES)

    serve = verbs.add_parser("serve", help="serve models over the OpenAI-compatible API on 127.0.0.1")
    serve.add_argument("--models", help="comma list to load (default: models.json offline defaults)")
    serve.add_argument("--port", type=PORT, help="port (default 5273 or FOUNDRY_LAB_PORT; 0 = any free port)")

    bench = verbs.add_parser(
        "bench", help="benchmark models: latency, throughput, memory, disk (writes a report)",
        description="Flags override the environment (BENCH_MODELS, BENCH_ROUNDS, BENCH_STREAM, BENCH_MAX_TOKENS, "
                    "FOUNDRY_LOCAL_ENDPOINT); with --resume, unset flags come from the saved run.")
    bench.add_argument("--models", help="comma list (default: models.json defaults for offline/online)")
    bench.add_argument("--prompts", help="prompt set name in prompts.json, or a .json file: one set, or a copy of "
                                        "prompts.json (its default_set is used)")
    bench.add_argument("--rounds", type=int, help="measured rounds over the prompt set per model (default 3)")
    bench.add_argument("--warmup", type=int, help="warm-up requests per model, excluded from statistics (default 1)")
    bench.add_argument("--max-tokens", type=int, help="max output tokens per request (default 64)")
    bench.add_argument("--temperature", type=float, help="sampling temperature (default 0: deterministic)")
    bench.add_argument("--seed", type=int, help="sampling seed (default 42)")
    bench.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                       help="stream responses (default); --no-stream makes TTFT unavailable")
    bench.add_argument("--target",  # checked by BenchConfig against bench.settings.TARGETS
                       help="inprocess SDK or an OpenAI-compatible endpoint (default: http when an endpoint is set)")
    bench.add_argument("--endpoint", help="base URL of another OpenAI-compatible server (default: the built-in one)")
    bench.add_argument("--server-pid", type=int, help="process id of the --endpoint server, to sample its memory")
    bench.add_argument("--device", choices=DEVICES, help="device (default auto)")
    bench.add_argument("--prompt-cache", choices=["cold", "warm"],
                       help="cold (default): TTFT of a cold prefill on every engine (per-request prefix, "
                            "cache_prompt: false); warm: prompts repeat unchanged and a server's prefix cache may "
                            "serve them (labelled in the report)")
    bench.add_argument("--threads", type=POSITIVE_INT,
                       help="decode threads of the models built here, for this run (default: each build's setting, "
                            "chosen for this machine at setup; recorded in the results header)")
    bench.add_argument("--sweep", help="concurrency levels of a load sweep, e.g. 1,2,4 (http target)")
    bench.add_argument("--sweep-max-s", type=float, help="time limit of one sweep level in seconds (default 60)")
    bench.add_argument("--out", help="run folder (default: reports/latest in the repository, paths.DEFAULT_RUN_DIR)")
    bench.add_argument("--resume", action="store_true", help="continue the run in --out without redoing trials")

    byom = verbs.add_parser("byom", help="bring your own model: convert a GGUF / HF folder / HF repo id, register, probe")
    byom.add_argument("source", help="a .gguf file, a Hugging Face model folder, or a repo id owner/name (online)")
    byom.add_argument("--name", required=True, help="the model's alias, e.g. smollm2-135m-fp32")
    byom.add_argument("--precision", default="int4", choices=PRECISIONS)
    byom.add_argument("--ep", default="cpu", help="execution provider: cpu, cuda, dml, webgpu, ... (default cpu)")
    byom.add_argument("--context-length", type=POSITIVE_INT, default=2048, help="context length in tokens (default 2048)")
    byom.add_argument("--display-name", help="display name (default: the name)")
    byom.add_argument("--license", default="unknown", help="license id of the model, e.g. apache-2.0")
    byom.add_argument("--capabilities", default="chat", help="comma list of capability tags for the router")
    byom.add_argument("--force", action="store_true", help="rebuild even when an intact build of the same inputs exists")
    byom.add_argument("--no-probe", action="store_true", help="only convert: no registration check and no test answer")

    route = verbs.add_parser("route", help="pick a model for a request by capabilities and constraints")
    route.add_argument("capabilities", help="comma list of required capability tags, e.g. chat,summarize")
    route.add_argument("--max-p95-ms", type=POSITIVE, help="latency budget: measured e2e p95 in ms")
    route.add_argument("--max-memory-mb", type=POSITIVE, help="memory budget: measured peak memory in MB")
    route.add_argument("--licenses", help="comma list of acceptable licenses")
    route.add_argument("--summary", help="summary.csv of a benchmark run (default: reports/latest/summary.csv)")

    report = verbs.add_parser("report", help="regenerate a run folder's reports: summaries, quality, comparison, "
                                             "charts, benchmark_report.md and report.html")
    report.add_argument("run_dir", help="folder holding results.jsonl")
    report.add_argument("--weights", help="selection weights, e.g. quality=0.5,latency=0.3 (others keep defaults)")
    report.add_argument("--watts", type=float, default=30.0, help="power draw for the cost estimate (default 30)")
    report.add_argument("--baseline", help="an earlier run folder to compare with (before/after, CPU/GPU)")
    report.add_argument("--price-per-kwh", type=_number(float, 0), help="electricity price for the cost estimate, in --currency "
                                                            "(default: energy.DEFAULT_PRICE_PER_KWH)")
    report.add_argument("--currency", help="currency of --price-per-kwh and of every cost (default: energy.DEFAULT_CURRENCY)")
    report.add_argument("--judge", help="model that grades the answers (default: models.json judge for this world; "
                                        "'none' to skip)")

    args = parser.parse_args(argv)
    if args.verb == "setup":
        from .build.setup_env import setup as run_setup

        return run_setup(force=args.force, build_models=not args.skip_models)
    if args.verb == "build":
        from .build.bundled import build_bundled

        build_bundled(_models(args.models), force=args.force)
        return 0
    if args.verb == "preflight":
        from .workshop.preflight import main as preflight_main

        return preflight_main(_models(args.models), args.json, not args.no_http, args.device)
    if args.verb == "bench":
        from .bench.cli import main as bench_main

        return bench_main(args)
    if args.verb == "byom":
        from .workshop.byom import main as byom_main

        return byom_main(args)
    if args.verb == "route":
        from .evaluate.router import main as route_main

        return route_main(args)
    if args.verb == "report":
        from .present.report import main as report_main

        prices = {k: v for k, v in {"price_per_kwh": args.price_per_kwh, "currency": args.currency}.items() if v is not None}
        return report_main(args.run_dir, args.weights, args.watts, args.baseline, judge=args.judge, **prices)

    if args.verb == "serve":
        from .core.config import load_models
        from .serve import runtime

        runtime.serve(_models(args.models) or load_models().defaults["offline"], args.port)
        return 0
    from .workshop import terminal

    action = getattr(args, "action", None)
    if args.verb == "catalog" or (args.verb, action) == ("model", "list"):
        return terminal.model_list()
    if args.verb == "download" or action == "download":
        return terminal.model_download(args.model, args.device)
    if action == "run":
        return terminal.model_run(args.model, args.prompt, args.device, args.max_tokens, args.threads)
    removing = args.remove or (args.model if action == "remove" else None)
    return terminal.cache_remove(removing) if removing else terminal.cache_list()


def cli(argv: list[str] | None = None) -> int:
    """`main`, with the kit's clear errors printed as one line (no traceback) and exit status 1; warnings are one
    line too (`warning: …`, not the source line that raised them)."""
    import warnings

    from .core.api_key import redact
    from .core.errors import ClearError

    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        return main(argv)
    except ClearError as exc:
        print(redact(f"error: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(cli())
