"""Synthetic share bundles: a made-up class or fleet, for the merge benchmark, the tests, and showing the class
report before a class has sent anything. Never mixed with real bundles silently: each one's label starts with
`synthetic` and its machine ids come from a seeded generator.

Decode rate follows the CPU roofline (tok/s = efficiency x memory bandwidth / bytes read per token, the weights'
size on disk as the bytes read), with efficiency drawn from 0.25-0.40; TTFT grows with the weights over bandwidth;
peak memory is the weights plus a runtime overhead. `THROTTLED_SHARE` of the machines run at 40 % of their rate
(a laptop on battery): the outliers the report should name.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import BUNDLE_FORMAT, BUNDLE_SUFFIX
from .profile import machine_class

# (physical cores, RAM GB, memory bandwidth GB/s, GPUs): a spread of laptops
MACHINE_KINDS = [(2, 8.0, 20.0, []), (4, 16.0, 40.0, []), (8, 16.0, 60.0, ["Intel GPU"]), (8, 32.0, 90.0, ["NVIDIA GPU"]),
                 (12, 32.0, 100.0, [])]
MODELS = {"smollm2-135m-instruct-int4": 90.0, "qwen2.5-coder-0.5b-instruct-int4": 355.0,
          "qwen2.5-coder-1.5b-instruct-int4": 970.0}  # weights on disk, MB
THROTTLED_SHARE = 0.01


def synthetic_bundle(rng: np.random.Generator, index: int) -> dict[str, Any]:
    """One machine's bundle (valid for `bundle.parse_bundle`)."""
    cores, ram_gb, bandwidth, gpus = MACHINE_KINDS[int(rng.integers(len(MACHINE_KINDS)))]
    bandwidth *= float(rng.uniform(0.85, 1.15))
    slow = 0.4 if rng.random() < THROTTLED_SHARE else 1.0
    machine = {"machine_id": f"{int(rng.integers(2**63)):016x}", "cpu": f"Synthetic CPU {cores}C",
               "physical_cores": cores, "logical_cores": cores * 2, "ram_gb": ram_gb, "os": "Linux",
               "os_release": "6.1", "arch": "x86_64", "gpus": list(gpus), "npus": [],
               "versions": {"python": "3.11.9", "foundry-local-sdk": "2.2.1"}, "memory_bandwidth_gbps": round(bandwidth, 1)}
    machine["machine_class"] = machine_class(machine)
    models = []
    for name, size_mb in MODELS.items():
        ceiling = bandwidth * 1000 / size_mb  # tok/s if every token read the weights once at full bandwidth
        decode = ceiling * float(rng.uniform(0.25, 0.40)) * slow
        ttft = (60 + 40 * size_mb / bandwidth) / slow * float(rng.uniform(0.9, 1.2))
        e2e = ttft + 63 * 1000 / decode
        models.append({"model": name, "status": "ok", "n": 9, "errors": 0, "ttft_ms_p50": ttft,
                       "ttft_ms_p95": ttft * 1.2, "e2e_ms_p50": e2e, "e2e_ms_p95": e2e * 1.1, "tpot_ms_p50": 1000 / decode,
                       "decode_tps_median": decode, "output_tps_median": 64 * 1000 / e2e,
                       "peak_rss_mb": size_mb * 1.3 + 300 + float(rng.uniform(0, 80)), "disk_mb": size_mb,
                       "load_s": size_mb / 400, "decode_roofline_pct": 100 * decode / ceiling, "quality": None})
    return {"format": BUNDLE_FORMAT, "bundle_id": uuid.UUID(int=int(rng.integers(2**63)) << 64 | index).hex,
            "created": "2026-12-03T18:00:00+00:00", "kit_version": "synthetic", "label": f"synthetic-{index}",
            "machine": machine, "run": {"prompt_set": "smoke", "prompt_fingerprint": "synthetic", "rounds": 3,
                                        "max_tokens": 64, "target": "inprocess", "created": "2026-12-03T18:00:00+00:00"},
            "models": models}


def write_synthetic(folder: str | Path, count: int, seed: int = 20) -> list[Path]:
    """Write `count` synthetic bundles into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for index in range(count):
        path = folder / f"synthetic-{index:05d}{BUNDLE_SUFFIX}"
        path.write_text(json.dumps(synthetic_bundle(rng, index)), encoding="utf-8")
        written.append(path)
    return written
