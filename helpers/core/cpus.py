"""The CPUs this process may run on and the decode thread count they suggest (physical cores, capped by the usable
CPUs): the machine's facts behind `build.threads` (written into builds) and `measure.roofline` (the bandwidth test's
threads). Standard library only at import (setup runs under the bare Python); psutil is imported where used.
"""
from __future__ import annotations

import os
import time
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


BUSY_SAMPLE_S = 0.5


def busy_cpus(sample_s: float = BUSY_SAMPLE_S) -> float:
    """CPUs that other processes keep busy now, in CPUs (0.0 up to the logical count): the machine's CPU use over
    `sample_s` seconds (psutil.cpu_percent) minus this process's own (psutil.Process.cpu_percent)."""
    import psutil

    me = psutil.Process()
    psutil.cpu_percent(None)
    me.cpu_percent(None)
    time.sleep(sample_s)
    machine = psutil.cpu_percent(None) / 100 * (psutil.cpu_count() or 1)
    return max(0.0, machine - me.cpu_percent(None) / 100)


def free_threads(chosen: int, busy: float, cores: int) -> int:
    """The decode threads that fit beside `busy` CPUs of other work on a machine of `cores` cores: `chosen` (the
    build's count) at most, the cores left free (busy rounded to whole cores) at most, at least 1. More threads
    than free cores makes decode slower than one thread (`benchmarks/thread_sweep.py` with a competing process:
    2 threads decoded at 0.8-0.9x of 1 on this 2-core machine)."""
    return max(1, min(chosen, cores - round(busy)))
