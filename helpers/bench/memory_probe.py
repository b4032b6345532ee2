"""A model's memory measured in isolation: a fresh process loads it, answers one request, and reports its RSS.

In-process, the resident set size is the whole Python process: a model measured after others carries their
leftovers (allocator caches, other models' arenas, notebook state), so the same model showed 951, 797 and 1,590 MB
in three notebooks (issue #17). The probe measures every model the same way, wherever it is asked from: a new
process (`python -m helpers.bench.memory_probe MODEL`) starts the kit's runtime, records its RSS before the
load (`baseline_mb`: Python, the SDK and the runtime, no model), loads the model, sends one fixed request
(PROBE_PROMPT, PROBE_MAX_TOKENS, temperature 0), and samples the RSS every RSS_INTERVAL_S throughout
(`peak_mb`). `model_mb` = peak_mb - baseline_mb: what the model itself adds (weights, KV cache of one request,
session buffers). MB = 10^6 bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from ..core.errors import ClearError

PROBE_PROMPT = "Explain in two sentences what a small language model is."
PROBE_MAX_TOKENS = 32
PROBE_TIMEOUT_S = 600.0
METHOD = "isolated process: a fresh process loads the model and answers one request (helpers.bench.memory_probe)"


class MemoryProbeError(ClearError, RuntimeError):
    """The isolated probe process could not measure the model."""


@dataclass(frozen=True)
class MemoryProbe:
    """One isolated measurement of a model (MB = 10^6 bytes)."""

    model: str
    baseline_mb: float  # the probe process before the load: Python, SDK, runtime
    peak_mb: float  # largest RSS from before the load to the end of the request
    model_mb: float  # peak_mb - baseline_mb: the model's own footprint
    ok: bool  # the probe request succeeded


def probe_model_memory(model: str, device: str = "auto", timeout_s: float = PROBE_TIMEOUT_S) -> MemoryProbe:
    """Measure `model` in a fresh process (see the module doc). Raises MemoryProbeError naming the model and the
    probe's last message when it fails. The probe serves nothing: its web service takes any free port."""
    command = [sys.executable, "-m", "helpers.bench.memory_probe", model, "--device", device]
    env = os.environ | {"FOUNDRY_LAB_PORT": "0"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise MemoryProbeError(f"memory probe of {model}: no answer within {timeout_s:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise MemoryProbeError(f"memory probe of {model} failed (exit {done.returncode}): {said}")
    return MemoryProbe(**json.loads(lines[-1]))


def _measure(model_name: str, device: str) -> MemoryProbe:
    import gc

    from ..measure.timing import time_inprocess_chat
    from ..serve import runtime
    from .memory import PeakRssSampler

    rt = runtime.start(quiet=True)
    model, _ = runtime.get_model(model_name, device, rt)
    runtime.unload(model)
    gc.collect()
    memory = PeakRssSampler(os.getpid()).start()
    try:
        runtime.load(model, check_memory=False)
        trial = time_inprocess_chat(model, [{"role": "user", "content": PROBE_PROMPT}],
                                    max_tokens=PROBE_MAX_TOKENS, temperature=0.0, seed=42)
    finally:
        memory.stop()
    runtime.unload(model)
    return MemoryProbe(model=model_name, baseline_mb=memory.before_mb, peak_mb=memory.peak_mb,
                       model_mb=memory.peak_mb - memory.before_mb, ok=trial.ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    print(json.dumps(asdict(_measure(args.model, args.device))), flush=True)
    os._exit(0)  # the runtime's native threads must not delay the answer


if __name__ == "__main__":
    main()
