"""`foundry-lab share | class | collect`: the command-line side of the class comparison."""
from __future__ import annotations

import argparse

from ..core.errors import ClearError


def main(args: argparse.Namespace) -> int:
    """Dispatch one of the three verbs (arguments as `helpers.__main__` parses them)."""
    if args.verb == "share":
        from .bundle import write_bundle
        from .collector import send_bundle

        if bool(args.to) != bool(args.code):
            raise ClearError("share --to URL needs --code CODE (the collector's join code), and --code needs --to.")
        path = write_bundle(args.run_dir, args.out, args.label)
        print(f"bundle written: {path}")
        if args.to:
            print(f"sent to {args.to}: accepted as {send_bundle(path, args.to, args.code)}")
        return 0
    if args.verb == "class":
        from .class_report import main as class_main

        return class_main(args.folder, args.out, args.max_p95_ms)
    from .collector import serve

    serve(args.folder, args.code, args.host, args.port)
    return 0
