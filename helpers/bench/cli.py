"""`python -m helpers bench`: the benchmark's command line (flags in `helpers.__main__`)."""
from __future__ import annotations

import argparse
import sys

from ..core.config import ConfigError
from .markdown import console_table
from .results import REPORT_MD, RunFolderError
from .session import run_benchmark
from .settings import parse_levels


def main(args: argparse.Namespace) -> int:
    """CLI entry (`python -m helpers bench`): 0 when any model produced a successful trial, 1 when none did,
    2 for bad settings, 130 when interrupted."""
    try:
        settings = {
            "models": args.models, "prompts": args.prompts, "rounds": args.rounds, "warmup": args.warmup,
            "max_tokens": args.max_tokens, "temperature": args.temperature, "seed": args.seed, "stream": args.stream,
            "target": args.target, "endpoint": args.endpoint, "device": args.device,
            "sweep": parse_levels(args.sweep) if args.sweep else None, "sweep_max_s": args.sweep_max_s,
            "server_pid": args.server_pid, "prompt_cache": args.prompt_cache, "threads": args.threads,
        }
        run = run_benchmark(out_dir=args.out, resume=args.resume, **settings)
    except (ConfigError, RunFolderError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print("\n" + console_table(run))
    print(f"\nReport: {run.out_dir / REPORT_MD} (summary.csv, summary.json, results.jsonl beside it)")
    return 0 if run.summary["n"].sum() > 0 else 1
