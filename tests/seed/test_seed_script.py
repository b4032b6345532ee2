"""The seed's `benchmark_models.py` (models by alias, base URL http://localhost:5273/v1) against `serve`.

The script's port is fixed, so the server and the script run in a private network namespace (`unshare --net`,
root only: a loopback of their own where 5273 is free). Without that, the test uses the machine's port 5273 when
it is free, and skips with the reason when it is not.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.seed import benchmark_models

HERE = Path(__file__).resolve().parent


def _isolation() -> list[str]:
    """The command prefix that runs a command in a fresh network namespace with loopback up, or [] when unusable."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return []
    prefix = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    probe = subprocess.run(prefix + ["true"], capture_output=True, timeout=30)
    return prefix if probe.returncode == 0 else []


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.model
def test_seed_benchmark_script_runs_against_the_kit_server():
    prefix = _isolation()
    if not prefix and not _port_free(5273):
        pytest.skip("port 5273 is taken and no private network namespace is available (needs root and unshare)")
    run = subprocess.run(prefix + [sys.executable, str(HERE / "run_against_serve.py"), *benchmark_models.MODELS],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"the seed script failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    printed = run.stdout[run.stdout.index("[\n"):run.stdout.index("\nInterpretation Tips")]
    summary = json.loads(printed)
    assert [row["model"] for row in summary] == benchmark_models.MODELS
    for row in summary:
        assert row["rounds"] == benchmark_models.ROUNDS and row["latency_avg"] > 0
        assert row["tokens_per_sec_avg"] and row["tokens_per_sec_avg"] > 0, row
        assert row["sample"].strip(), f"{row['model']} answered nothing"
