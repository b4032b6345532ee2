"""Decode speed against this machine's memory-bandwidth limit: the roofline of a decoded token.

Generating one token multiplies every streamed weight matrix by one vector: about two floating-point operations
per weight byte read, far below what a CPU core computes per byte its memory delivers. Decode is therefore memory
bound (the roofline model: Williams, Waterman & Patterson, "Roofline", CACM 2009), and

    decode tok/s <= memory bandwidth (bytes/s) / bytes read per token  (`ceiling_tps`)

`decode_roofline_pct` = measured decode tok/s / that ceiling x 100: how close a model runs to what this machine's
memory allows, a number that can be compared across machines (a class of laptops) and engines.

**Bandwidth** (`measure_bandwidth`): numpy sums (`np.add.reduce`, which releases the GIL) over a float64 buffer of
`BUFFER_BYTES` (1 GiB: many times any CPU's last-level cache, so every byte comes from memory), split into k
contiguous slices summed by k threads at once; GB/s = buffer bytes / wall time (GB = 10^9 bytes), best of `REPEATS`
(the least disturbed pass), for k = 1 and k = the kit's decode thread count. `machine_bandwidth` measures once per
machine and keeps the result under the kit home (`<kit home>/machine/bandwidth.json`), keyed by the machine's facts
(CPU model, cores, usable CPUs, RAM, OS), so another machine sharing the kit home measures its own; a reading
taken on a busy machine is retried later and the best reading is kept (other work only ever lowers it).

**Bytes read per token** (`weights_read`): the model's ONNX weights on disk (`*.onnx` and their external data
files) minus the tables that are only *gathered*: an initializer whose every consumer is a Gather or
GatherBlockQuantized node (an input embedding table, with its quantization scales and zero points) has one row
read per token, not the whole table. A tied embedding that the output projection also multiplies is streamed every
token and stays counted. Left out: the KV cache (it grows with the position; for the bundled Qwen 0.5B about 12 KB
per position and layer, a few MB at the kit's prompt lengths against hundreds of MB of weights) and activations.
So the bytes are a slight underestimate and the ceiling a slight overestimate: a percentage near 100 is the limit.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import psutil

from ..core import paths
from ..core.cpus import machine_choice

BUFFER_BYTES = 1 << 30  # 1 GiB
REPEATS = 5
CACHE_FILE = "bandwidth.json"  # under <kit home>/machine/
BUSY_LOAD = 0.5  # 1-minute load average above which a measurement counts as disturbed by other work
BUSY_RETRY_S = 3600.0  # a disturbed measurement is repeated by the first run an hour later (the best is kept)
GATHER_OPS = frozenset({"Gather", "GatherBlockQuantized"})
WEIGHT_SUFFIXES = (".onnx", ".onnx.data", ".onnx_data", ".data")
METHOD = ("numpy sum over a {mb:.0f} MB float64 buffer split into k contiguous slices read by k threads at once, "
          "best of {repeats}; GB = 10^9 bytes")
EXPLANATION = (
    "Why model size drives latency on consumer hardware: to produce one token, a CPU (or a laptop GPU sharing its "
    "memory) must read every weight the model streams once, and does only about two arithmetic operations per byte "
    "read. Memory, not arithmetic, sets the pace: decode tok/s can never exceed the machine's memory bandwidth ÷ "
    "the bytes read per token (`decode_ceiling_tps`). A model twice the size reads twice the bytes per token, so "
    "it decodes at most half as fast on the same laptop whatever its cores; quantizing (int4: about half a byte "
    "per weight) raises the ceiling for the same reason. `decode_roofline_pct` is the measured decode rate as a "
    "percentage of that ceiling: near 100 the engine uses all the bandwidth there is, far below it something else "
    "(threads, overheads, a busy machine) holds it back. Bandwidth is measured once per machine; bytes per token "
    "are the ONNX weights minus embedding tables that are only gathered (one row per token)."
)


@dataclass(frozen=True)
class WeightsRead:
    """What decoding one token reads of a model folder's weights (bytes = B, MB = 10^6 bytes)."""

    weights_bytes: int  # ONNX files on disk (graph + external data)
    gathered_bytes: int  # initializers only gathered (embedding tables), one row read per token
    gathered: tuple[str, ...]  # their names

    @property
    def per_token_bytes(self) -> int:
        return self.weights_bytes - self.gathered_bytes

    @property
    def per_token_mb(self) -> float:
        return self.per_token_bytes / 1e6


def ceiling_tps(bandwidth_gbps: float | None, per_token_mb: float | None) -> float | None:
    """Decode tok/s the bandwidth allows: (GB/s x 10^9) / (MB per token x 10^6); None when either is unknown or
    not positive."""
    if not bandwidth_gbps or not per_token_mb or bandwidth_gbps <= 0 or per_token_mb <= 0:
        return None
    return bandwidth_gbps * 1e9 / (per_token_mb * 1e6)


def roofline_pct(decode_tps: float | None, ceiling: float | None) -> float | None:
    """Measured decode tok/s as a percentage of the ceiling; None when either is missing."""
    if decode_tps is None or ceiling is None or not math.isfinite(decode_tps) or ceiling <= 0:
        return None
    return 100.0 * decode_tps / ceiling


def read_gbps(buffer: np.ndarray, threads: int, repeats: int = REPEATS) -> float:
    """GB/s of summing `buffer` with `threads` threads (one contiguous slice each), best of `repeats`."""
    slices = np.array_split(buffer, threads)
    best = math.inf
    with ThreadPoolExecutor(threads, thread_name_prefix="bandwidth") as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(np.add.reduce, slices))
            best = min(best, time.perf_counter() - started)
    return buffer.nbytes / best / 1e9


def measure_bandwidth(thread_counts: Iterable[int], buffer_bytes: int = BUFFER_BYTES,
                      repeats: int = REPEATS) -> dict:
    """Memory read bandwidth in GB/s per thread count: `{"gbps": {"1": 22.6, "2": 43.0}, "best_gbps": 43.0,
    "buffer_mb", "repeats", "method", "seconds"}`. The buffer is smaller when less than 4x it is available."""
    started = time.perf_counter()
    size = min(buffer_bytes, int(psutil.virtual_memory().available / 4)) // 8 * 8
    buffer = np.ones(size // 8, dtype=np.float64)  # written, so every page is resident before timing
    gbps = {str(k): round(read_gbps(buffer, k, repeats), 2) for k in sorted(set(thread_counts))}
    del buffer
    return {"gbps": gbps, "best_gbps": max(gbps.values()), "buffer_mb": round(size / 1e6), "repeats": repeats,
            "method": METHOD.format(mb=size / 1e6, repeats=repeats), "seconds": round(time.perf_counter() - started, 1)}


def machine_facts() -> dict:
    """What identifies this machine for the bandwidth cache."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"system": platform.system(), "machine": platform.machine(), "cpu": cpu or platform.machine(),
            "physical_cores": psutil.cpu_count(logical=False), "logical_cores": psutil.cpu_count(),
            "usable_cpus": usable, "ram_gb": round(psutil.virtual_memory().total / 1e9)}


def machine_key(facts: dict | None = None) -> str:
    return hashlib.sha256(json.dumps(facts or machine_facts(), sort_keys=True).encode()).hexdigest()[:16]


def machine_bandwidth(threads: int | None = None, refresh: bool = False) -> dict:
    """This machine's bandwidth record (`measure_bandwidth` with 1 and `threads` threads, default the kit's decode
    thread count), measured once and cached under the kit home keyed by `machine_facts`; `refresh` measures again.

    Other work on the machine can only lower a reading, so a new measurement keeps the best figure per thread count
    of every one taken here; one taken while the machine was busy (1-minute load average above BUSY_LOAD, recorded
    as `busy`) is repeated by the first call an hour later. The record adds `machine` (the facts), `key`,
    `load_avg_1min`, `busy` and `measured_at`."""
    facts = machine_facts()
    key = machine_key(facts)
    cache = paths.kit_home() / "machine" / CACHE_FILE
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    old = known.get(key)
    if old and not refresh and not (old.get("busy") and time.time() - old.get("measured_s", 0) > BUSY_RETRY_S):
        return old
    count = threads or machine_choice().intra_op_num_threads
    load = psutil.getloadavg()[0]  # other work lowers what the test sees, never raises it
    record = {**measure_bandwidth((1, count)), "machine": facts, "key": key, "load_avg_1min": round(load, 2),
              "busy": load > BUSY_LOAD, "measured_s": time.time(),
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if old:  # interference only lowers a reading: keep the best of every measurement on this machine
        gbps = {k: max(v, old["gbps"].get(k, 0.0)) for k, v in record["gbps"].items()}
        record |= {"gbps": gbps, "best_gbps": max(gbps.values()), "busy": record["busy"] and old.get("busy", False)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_name(f".{CACHE_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({**known, key: record}, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, cache)
    return record


def _tensor_bytes(tensor: object) -> int:
    """Bytes of an ONNX initializer's data: its external data `length`, else its inline size."""
    import onnx

    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        entries = {entry.key: entry.value for entry in tensor.external_data}
        if "length" in entries:
            return int(entries["length"])
        bits = {onnx.TensorProto.INT4: 4, onnx.TensorProto.UINT4: 4}.get(tensor.data_type)
        itemsize_bits = bits or 8 * onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        return math.ceil(math.prod(tensor.dims) * itemsize_bits / 8)
    return tensor.ByteSize()


def weights_read(folder: str | Path) -> WeightsRead:
    """The weights one decoded token reads from an ONNX Runtime GenAI model folder (see the module docstring).

    Reads each `*.onnx` graph without its external data. FileNotFoundError when the folder holds no ONNX model."""
    folder = Path(folder)
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file())
    return _weights_read(folder.resolve(), stamp)


@lru_cache(maxsize=32)
def _weights_read(folder: Path, stamp: tuple) -> WeightsRead:
    import onnx

    graphs = sorted(folder.glob("*.onnx"))
    if not graphs:
        raise FileNotFoundError(f"{folder} holds no *.onnx model, so its bytes per token cannot be estimated.")
    weights = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    gathered_bytes, gathered = 0, []
    for graph_file in graphs:
        graph = onnx.load(str(graph_file), load_external_data=False).graph
        consumers: dict[str, set[str]] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, set()).add(node.op_type)
        for tensor in graph.initializer:
            ops = consumers.get(tensor.name)
            if ops and ops <= GATHER_OPS:
                gathered_bytes += _tensor_bytes(tensor)
                gathered.append(tensor.name)
    return WeightsRead(weights, gathered_bytes, tuple(gathered))


def weights_read_mb(folder: str | Path | None) -> float | None:
    """`weights_read(folder).per_token_mb`, rounded; None without a folder or an ONNX model in it."""
    if folder is None:
        return None
    try:
        return round(weights_read(folder).per_token_mb, 1)
    except (FileNotFoundError, OSError):
        return None


def bandwidth_summary(record: dict | None) -> str:
    """One line for a report: `43.0 GB/s (1 thread: 22.6; 2 threads: 43.0; numpy sum …)` or why it is missing."""
    if not record or not record.get("gbps"):
        return "not measured" + (f" ({record['error']})" if record and record.get("error") else "")
    per = "; ".join(f"{k} thread{'s' if k != '1' else ''}: {v:.1f}" for k, v in record["gbps"].items())
    busy = (f"; measured while the machine was busy (load average {record['load_avg_1min']:.1f}): a lower bound, "
            "measured again later" if record.get("busy") else "")
    return f"{record['best_gbps']:.1f} GB/s ({per}; {record['method']}{busy})"



def roofline_columns(decode_tps: float | None, per_token_mb: float | None, bandwidth: dict | None) -> dict:
    """A summary row's roofline columns: `decode_ceiling_tps` (best measured bandwidth / `weights_read_mb`) and
    `decode_roofline_pct` (decode_tps_median / that ceiling x 100); None where an input is missing."""
    best = bandwidth.get("best_gbps") if bandwidth else None
    ceiling = ceiling_tps(best, per_token_mb)
    return {"decode_ceiling_tps": ceiling, "decode_roofline_pct": roofline_pct(decode_tps, ceiling)}
