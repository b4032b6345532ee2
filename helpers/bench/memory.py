"""Memory and machine facts of a benchmark run: the peak-RSS sampler and the system description.

MB = 10^6 bytes throughout.
"""
from __future__ import annotations

import platform
import threading
from pathlib import Path
from typing import Any

import psutil

RSS_INTERVAL_S = 0.05


class PeakRssSampler:
    """Samples one process's resident set size in a background thread: `before_mb` and `peak_mb` (MB = 10^6 bytes).

    With pid None nothing is sampled and both stay None.
    """

    def __init__(self, pid: int | None, interval_s: float = RSS_INTERVAL_S) -> None:
        self._process = psutil.Process(pid) if pid is not None else None
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.before_mb: float | None = None
        self.peak_mb: float | None = None

    def _sample(self) -> None:
        rss_mb = self._process.memory_info().rss / 1e6
        self.peak_mb = rss_mb if self.peak_mb is None else max(self.peak_mb, rss_mb)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._sample()
            except psutil.Error:  # the process went away; keep what was seen
                return

    def start(self) -> PeakRssSampler:
        if self._process is not None:
            self._sample()
            self.before_mb = self.peak_mb
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            try:
                self._sample()
            except psutil.Error:
                pass


def system_info() -> dict[str, Any]:
    """OS, CPU model, cores and memory of this machine."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "os": platform.platform(),
        "cpu": cpu or platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),  # GB = 10^9 bytes
        "python": platform.python_version(),
    }
