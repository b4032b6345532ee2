"""How many threads a built model decodes on: chosen for this machine, written where the runtime reads it, recorded,
and overridable for one load.

onnxruntime-genai reads `model.decoder.session_options.intra_op_num_threads` from a model's `genai_config.json` when
the model is loaded. Without it, 0.18 decoded on ONE thread on a 2-core machine (design notes, "Threads"): half the
machine idle, every figure the kit teaches wrong for that machine.

The choice (`core.cpus.machine_choice`): the physical cores this process may run on (psutil's physical core count, capped by
the CPUs the process is allowed to use). Decode is memory-bandwidth bound: hyper-threads share a core's load
units and add nothing, so logical CPUs would oversubscribe; a measured probe at setup would be decided by whatever
else happens to run during setup (the moment a machine is busiest), so the kit uses the machine's facts and
`benchmarks/thread_sweep.py` shows the figures behind them (1…N threads, idle and with a competing process).

`apply(folder)` writes the count into a build's genai_config.json and records it in its `kit_model.json`
(`threads`), updating the recorded sha256 of genai_config.json so `convert.is_up_to_date` still holds: a build from
before gets its setting at setup without a rebuild. `loading(...)` overrides the count for one load (`--threads N`):
under a lock per model shared by every kit process, the cache placement's genai_config.json (a link to the build's)
becomes a copy with the override until the runtime has read it, then the link is back; a load without an override
takes the same lock and finds the link, unless other processes keep cores busy at that moment (sampled for
`core.cpus.BUSY_SAMPLE_S`): then it gets as many threads as cores are free, at least one, because more threads
than free cores decode slower than one (the thread sweep's competing-process figures). The build itself is never
changed by a load.

Standard library only at import (setup runs under the bare Python); psutil and filelock are imported where used.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from ..core.cpus import ThreadChoice, busy_cpus, free_threads, machine_choice, usable_cpus
from ..core.errors import ClearError
from . import convert

GENAI_CONFIG = "genai_config.json"
SETTING = "intra_op_num_threads"
MANIFEST_KEY = "threads"  # in kit_model.json
LOCK_TIMEOUT_S = 300.0  # a load of the largest bundled model takes ~10 s; a lock held longer is a hung process


class ThreadSettingError(ClearError, ValueError):
    """A thread count that is not a whole number >= 1, or an override for a model the kit did not build."""


def read_config(folder: Path) -> dict:
    return json.loads((Path(folder) / GENAI_CONFIG).read_text(encoding="utf-8-sig"))


def configured(config: dict) -> int | None:
    """The thread count a genai_config.json sets (None: the runtime's own default decides)."""
    return config.get("model", {}).get("decoder", {}).get("session_options", {}).get(SETTING)


def with_threads(config: dict, count: int) -> dict:
    """A copy of `config` with `model.decoder.session_options.intra_op_num_threads` = count."""
    copy = json.loads(json.dumps(config))
    copy.setdefault("model", {}).setdefault("decoder", {}).setdefault("session_options", {})[SETTING] = count
    return copy


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    if path.is_symlink():
        path.unlink()
    os.replace(temporary, path)


def apply(folder: str | Path, choice: ThreadChoice | None = None) -> dict | None:
    """Write the thread count into a build's genai_config.json and record it in its kit_model.json.

    `choice` defaults to `machine_choice()`. Nothing is written when both already say so. The recorded sha256 of
    genai_config.json is updated only when the file matched it (an intact build), so a damaged build still shows
    as damaged. Returns the `threads` record of kit_model.json, or None when the folder is not a finished build
    (no kit_model.json) or its genai_config.json does not match the recorded hash.
    """
    folder = Path(folder)
    manifest = convert.read_manifest(folder)
    path = folder / GENAI_CONFIG
    if manifest is None or not path.is_file():
        return None
    recorded = (manifest.get("files") or {}).get(GENAI_CONFIG)
    if recorded is not None and convert.file_sha256(path) != recorded:
        return None
    choice = choice or machine_choice()
    record = asdict(choice)
    config = read_config(folder)
    if configured(config) == choice.intra_op_num_threads and manifest.get(MANIFEST_KEY) == record:
        return record
    _write_atomic(path, json.dumps(with_threads(config, choice.intra_op_num_threads), indent=4) + "\n")
    if recorded is not None:
        manifest["files"][GENAI_CONFIG] = convert.file_sha256(path)
    manifest[MANIFEST_KEY] = record
    _write_atomic(folder / convert.MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return record


def setting(folder: str | Path | None, override: int | None = None) -> dict:
    """What a model is set to decode on: `{"threads": N or None, "threads_source": ...}` with the source
    `override` (--threads), `build` (its genai_config.json, chosen at setup: kit_model.json says how), `runtime
    default` (the config sets none) or `not observable` (no folder here: an endpoint's or a catalog model's). A
    load may use fewer when other work keeps cores busy (`loading`, source `fewer at load: ...`)."""
    if override is not None:
        return {"threads": override, "threads_source": "override"}
    if folder is None or not (Path(folder) / GENAI_CONFIG).is_file():
        return {"threads": None, "threads_source": "not observable"}
    count = configured(read_config(Path(folder)))
    return {"threads": count, "threads_source": "build" if count is not None else "runtime default"}


def _link(source: Path, link: Path) -> None:
    """`link` -> `source` (a copy where the OS refuses links), replacing what is there."""
    if link.is_symlink() and link.resolve() == source.resolve():
        return
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    try:
        os.symlink(source.resolve(), temporary)
    except OSError:  # Windows without developer mode: copy, as offline_catalog.place_in_cache does
        import shutil

        shutil.copy2(source, temporary)
    os.replace(temporary, link)


def _at_load(config: dict) -> tuple[int | None, dict]:
    """The thread count for a load without override, and its setting record: the build's, or fewer when other
    processes keep cores busy right now (`core.cpus.free_threads`)."""
    chosen = configured(config)
    if chosen is None or chosen <= 1:
        return None, {"threads": chosen, "threads_source": "build" if chosen else "runtime default"}
    busy = busy_cpus()
    count = free_threads(chosen, busy, machine_choice().intra_op_num_threads)
    if count == chosen:
        return None, {"threads": chosen, "threads_source": "build"}
    return count, {"threads": count, "threads_source": f"fewer at load: {busy:.1f} CPUs busy with other work, "
                                                       f"{count} of the build's {chosen}"}


@contextmanager
def loading(placement: Path | None, built: Path | None, override: int | None = None) -> Iterator[dict]:
    """Around one `model.load()` of a model the kit built or converted: hold its load lock and let the runtime
    read `override` threads, or without one the build's count capped by the cores other work leaves free now
    (`_at_load`: a competing process on 2 cores means 1 thread); yields the setting the load used (`setting`'s
    shape).

    `placement` is the folder the runtime loads from (the model cache's links to `built`, the build folder). With
    no placement (a catalog model) an override raises ThreadSettingError and a plain load runs unlocked. The lock
    (filelock, next to the placement) serialises every kit process's loads of this model, so one process's
    override is never read by another's load; the link is restored even when the load fails.
    """
    if override is not None and (not isinstance(override, int) or override < 1):
        raise ThreadSettingError(f"threads must be a whole number >= 1 (this machine has {usable_cpus()} usable "
                                 f"CPUs), got {override!r}.")
    if placement is None or built is None:
        if override is not None:
            raise ThreadSettingError(f"a thread override (--threads {override}) applies to models built or converted "
                                     "on this machine (bundled, byom); a catalog model uses its own genai_config.json.")
        yield setting(None)
        return
    from filelock import FileLock

    target, source = Path(placement) / GENAI_CONFIG, Path(built) / GENAI_CONFIG
    with FileLock(str(Path(placement).parent / f".{Path(placement).name}.load.lock"), timeout=LOCK_TIMEOUT_S):
        config = json.loads(source.read_text(encoding="utf-8-sig"))
        count, used = (override, setting(built, override)) if override is not None else _at_load(config)
        try:
            if count is not None and count != configured(config):
                _write_atomic(target, json.dumps(with_threads(config, count), indent=4) + "\n")
            else:
                _link(source, target)
            yield used
        finally:
            _link(source, target)
