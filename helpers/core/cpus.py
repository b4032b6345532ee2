"""The CPUs this process may run on and the decode thread count they suggest (physical cores, capped by the usable
CPUs): the machine's facts behind `build.threads` (written into builds) and `measure.roofline` (the bandwidth test's
threads). Standard library only at import (setup runs under the bare Python); psutil is imported where used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count for this machine and the facts it came from."""

    intra_op_num_threads: int
    chosen_by: str  # how, in words
    physical_cores: int | None
    usable_cpus: int


def usable_cpus() -> int:
    """CPUs this process may run on (affinity / cgroup cpuset where the OS tells, else all logical CPUs)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def machine_choice() -> ThreadChoice:
    """Physical cores, capped by the usable CPUs; the logical CPU count where the OS does not report cores."""
    import psutil

    physical, usable = psutil.cpu_count(logical=False), usable_cpus()
    if physical:
        count = min(physical, usable)
        how = f"physical cores ({physical})" + (f", capped by the {usable} CPUs this process may use"
                                                 if usable < physical else "")
    else:
        count, how = usable, f"usable CPUs ({usable}; the OS does not report physical cores)"
    return ThreadChoice(max(1, count), how, physical, usable)
