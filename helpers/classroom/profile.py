"""The machine's profile in a share bundle: what makes runs on different machines comparable, nothing personal.

`machine_profile()` returns CPU model, physical and logical cores, RAM (GB = 10^9 bytes), GPU and NPU when the
operating system shows them, OS name, release and architecture, and the kit's runtime versions
(`helpers.core.versions`). It never reads user or host names, paths or keys. `machine_id` is a random token kept in
the kit home (`.lab/machine_id`): it tells two runs of one machine apart from runs of two machines without saying
whose machine it is. `machine_class` groups machines for the class report: CPU cores, RAM and accelerator, in
buckets a laptop buyer would recognise.
"""
from __future__ import annotations

import platform
import secrets
from pathlib import Path
from typing import Any

import psutil

from ..bench.memory import system_info
from ..core import paths
from ..core.versions import versions

MACHINE_ID_FILE = "machine_id"
CORE_BUCKETS = (2, 4, 8, 16)  # "≤2 cores", "3-4 cores", …, "17+ cores"
RAM_BUCKETS_GB = (8, 16, 32)  # "≤8 GB", "9-16 GB", "17-32 GB", "33+ GB"
_PCI_VENDORS = {"0x10de": "NVIDIA", "0x1002": "AMD", "0x8086": "Intel", "0x106b": "Apple", "0x5143": "Qualcomm"}


def machine_id() -> str:
    """This machine's anonymous id (16 hex digits), created once in the kit home; random, derived from nothing."""
    path = paths.kit_home() / MACHINE_ID_FILE
    if path.is_file():
        found = path.read_text(encoding="utf-8").strip()
        if len(found) == 16 and all(c in "0123456789abcdef" for c in found):
            return found
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(8) + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def accelerators(sys_root: Path = Path("/sys")) -> dict[str, list[str]]:
    """GPUs (display-class PCI devices by vendor, Linux `/sys/class/drm`) and NPUs (`/sys/class/accel`) the OS shows;
    on macOS the Apple GPU of Apple silicon. Empty lists when none is detectable (not the same as none present)."""
    gpus: list[str] = []
    for card in sorted((sys_root / "class" / "drm").glob("card[0-9]")) if (sys_root / "class" / "drm").is_dir() else []:
        vendor_file = card / "device" / "vendor"
        if vendor_file.is_file():
            vendor = vendor_file.read_text().strip().lower()
            gpus.append(f"{_PCI_VENDORS.get(vendor, 'unknown vendor ' + vendor)} GPU")
    npus = [f"NPU ({(d / 'device' / 'vendor').read_text().strip()})" if (d / "device" / "vendor").is_file() else "NPU"
            for d in sorted((sys_root / "class" / "accel").glob("accel*"))] if (sys_root / "class" / "accel").is_dir() else []
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        gpus.append("Apple GPU")
    return {"gpus": gpus, "npus": npus}


def _bucket(value: float, limits: tuple[int, ...], unit: str) -> str:
    low = 0
    for limit in limits:
        if value <= limit:
            return f"≤{limit} {unit}" if low == 0 else f"{low + 1}-{limit} {unit}"
        low = limit
    return f"{low + 1}+ {unit}"


def machine_class(profile: dict[str, Any]) -> str:
    """e.g. '≤2 cores · 17-32 GB · CPU only': physical cores, RAM and accelerator buckets of a profile."""
    cores = profile.get("physical_cores") or profile.get("logical_cores") or 0
    accel = "GPU" if profile.get("gpus") else "NPU" if profile.get("npus") else "CPU only"
    return f"{_bucket(cores, CORE_BUCKETS, 'cores')} · {_bucket(profile.get('ram_gb') or 0, RAM_BUCKETS_GB, 'GB')} · {accel}"


def machine_profile(header: dict[str, Any] | None = None) -> dict[str, Any]:
    """This machine as a share bundle describes it; `header` (a run's results header) adds the memory bandwidth
    the run measured (`memory_bandwidth_gbps`, GB/s) and the runtime versions it ran with."""
    header = header or {}
    system = {**system_info(), **(header.get("system") or {})}  # the machine the run was measured on
    profile: dict[str, Any] = {
        "machine_id": machine_id(),
        "cpu": system["cpu"],
        "physical_cores": system["physical_cores"],
        "logical_cores": system["logical_cores"],
        "ram_gb": system.get("ram_gb") or round(psutil.virtual_memory().total / 1e9, 1),
        "os": platform.system(),
        "os_release": platform.release(),
        "arch": platform.machine(),
        **accelerators(),
        "versions": {k: str(v) for k, v in (header.get("versions") or versions()).items()},
        "memory_bandwidth_gbps": header.get("memory_bandwidth_gbps"),
    }
    profile["machine_class"] = machine_class(profile)
    return profile
