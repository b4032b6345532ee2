"""Start `python -m helpers serve` on its default port (5273), run the seed's script against it, stop the server.

Run by tests/seed/test_seed_script.py inside a private network namespace (its own loopback), so the fixed port
of the seed's script is free whatever else runs on the machine. Prints the server's lines, then the script's
output; exits with the script's exit code.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVE_START_S = 180.0
SCRIPT_S = 300.0


def main() -> int:
    models = ",".join(sys.argv[1:])
    env = {name: value for name, value in os.environ.items() if name not in ("FOUNDRY_LAB_PORT", "FOUNDRY_LOCAL_ENDPOINT")}
    server = subprocess.Popen([sys.executable, "-m", "helpers", "serve", "--models", models], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + SERVE_START_S
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                print("serve exited before serving", flush=True)
                return 3
            print("[serve]", line.rstrip(), flush=True)
            if line.startswith("Serving OpenAI-compatible API at "):
                break
        else:
            print(f"serve did not start within {SERVE_START_S:.0f} s", flush=True)
            return 3
        script = subprocess.run([sys.executable, str(Path(__file__).with_name("benchmark_models.py"))], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=SCRIPT_S)
        print(script.stdout, end="")
        print(script.stderr, end="", file=sys.stderr)
        return script.returncode
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
