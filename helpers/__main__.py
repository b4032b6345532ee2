"""`python -m helpers <verb>`: every headless action of the kit.

`setup` runs with the bare system Python (standard library only); every other verb runs in the kit's `.venv`.
"""
from __future__ import annotations

import argparse
import sys


def _models(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="Foundry Local Model Lab")
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
    pre.add_argument("--device", default="auto", choices=["cpu", "gpu", "auto"])

    verbs.add_parser("catalog", help="list every model the kit can see")
    cache = verbs.add_parser("cache", help="list the model cache, or remove a model from it")
    cache.add_argument("--remove", metavar="MODEL")
    download = verbs.add_parser("download", help="download a catalog model (progress bar)")
    download.add_argument("model")
    download.add_argument("--device", default="auto", choices=["cpu", "gpu", "auto"])

    serve = verbs.add_parser("serve", help="serve models over the OpenAI-compatible API on 127.0.0.1")
    serve.add_argument("--models", help="comma list to load (default: models.json offline defaults)")
    serve.add_argument("--port", type=int, help="port (default 5273 or FOUNDRY_LAB_PORT; 0 = any free port)")

    bench = verbs.add_parser(
        "bench", help="benchmark models: latency, throughput, memory, disk (writes a report)",
        description="Flags override the environment (BENCH_MODELS, BENCH_ROUNDS, BENCH_STREAM, BENCH_MAX_TOKENS, "
                    "FOUNDRY_LOCAL_ENDPOINT); with --resume, unset flags come from the saved run.")
    bench.add_argument("--models", help="comma list (default: models.json defaults for offline/online)")
    bench.add_argument("--prompts", help="prompt set name in prompts.json, or a .json file with one set")
    bench.add_argument("--rounds", type=int, help="measured rounds over the prompt set per model (default 3)")
    bench.add_argument("--warmup", type=int, help="warm-up requests per model, excluded from statistics (default 1)")
    bench.add_argument("--max-tokens", type=int, help="max output tokens per request (default 64)")
    bench.add_argument("--temperature", type=float, help="sampling temperature (default 0: deterministic)")
    bench.add_argument("--seed", type=int, help="sampling seed (default 42)")
    bench.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                       help="stream responses (default); --no-stream makes TTFT unavailable")
    bench.add_argument("--target", choices=["inprocess", "http"],
                       help="inprocess SDK or an OpenAI-compatible endpoint (default: http when an endpoint is set)")
    bench.add_argument("--endpoint", help="base URL of another OpenAI-compatible server (default: the built-in one)")
    bench.add_argument("--server-pid", type=int, help="process id of the --endpoint server, to sample its memory")
    bench.add_argument("--device", choices=["cpu", "gpu", "auto"], help="device (default auto)")
    bench.add_argument("--sweep", help="concurrency levels of a load sweep, e.g. 1,2,4 (http target)")
    bench.add_argument("--sweep-max-s", type=float, help="time limit of one sweep level in seconds (default 60)")
    bench.add_argument("--out", help="run folder (default: reports/latest in the repository)")
    bench.add_argument("--resume", action="store_true", help="continue the run in --out without redoing trials")

    report = verbs.add_parser("report", help="regenerate summary.csv/json and benchmark_report.md of a run folder")
    report.add_argument("run_dir", help="folder holding results.jsonl")

    args = parser.parse_args(argv)
    if args.verb == "setup":
        from .setup_env import setup as run_setup

        return run_setup(force=args.force, build_models=not args.skip_models)
    if args.verb == "build":
        from .bundled import build_bundled

        build_bundled(_models(args.models), force=args.force)
        return 0
    if args.verb == "preflight":
        from .preflight import main as preflight_main

        return preflight_main(_models(args.models), args.json, not args.no_http, args.device)
    if args.verb == "bench":
        from .benchmark import main as bench_main

        return bench_main(args)
    if args.verb == "report":
        from .report import main as report_main

        return report_main(args.run_dir)

    import pandas as pd

    from . import runtime

    pd.set_option("display.width", 200)
    if args.verb == "catalog":
        print(runtime.list_catalog().to_string(index=False))
    elif args.verb == "cache":
        if args.remove:
            runtime.remove_from_cache(args.remove)
            print(f"removed {args.remove} from the cache")
        print(runtime.cache_table().to_string(index=False))
        print(f"cache folder: {runtime.paths.model_cache_dir()}")
    elif args.verb == "download":
        print(runtime.download(args.model, args.device))
    elif args.verb == "serve":
        from .config import load_models

        runtime.serve(_models(args.models) or load_models().defaults["offline"], args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
