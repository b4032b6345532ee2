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
