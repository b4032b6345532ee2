"""The decode thread setting (helpers.build.threads): chosen for the machine, written and recorded without breaking
the build's hashes, overridden for one load under a lock shared by every process, recorded by the benchmark."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.bench.settings import BenchConfig
from helpers.bench.targets import thread_settings
from helpers.build import convert, threads
from helpers.core import cpus, paths
from helpers.core.config import ConfigError

BUILD_CONFIG = {"model": {"context_length": 2048, "decoder": {"session_options": {"log_id": "onnxruntime-genai",
                                                                                  "provider_options": []}}},
                "search": {"max_length": 2048}}
INPUTS = {"source_sha256": "0" * 64, "precision": "int4"}


def fake_build(folder: Path, config: dict | None = None) -> Path:
    """A finished build as convert_model leaves one: files + kit_model.json with their sha256 (no thread setting)."""
    folder.mkdir(parents=True)
    (folder / "genai_config.json").write_text(json.dumps(config or BUILD_CONFIG, indent=4) + "\n")
    (folder / "model.onnx").write_bytes(b"weights")
    manifest = {"format": convert.MANIFEST_FORMAT, "name": folder.name, "inputs": INPUTS,
                "files": convert._hash_files(folder)}
    (folder / convert.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def choice(count: int) -> cpus.ThreadChoice:
    return cpus.ThreadChoice(count, f"physical cores ({count})", count, count)


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch):
    """Loads see an idle 2-core machine unless a test says otherwise (the real sample is tested below)."""
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0.0)
    monkeypatch.setattr(threads, "machine_choice", lambda: choice(2))


def test_machine_choice_is_physical_cores_capped_by_usable_cpus(monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 8 if logical else 4)
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 8)
    assert cpus.machine_choice().intra_op_num_threads == 4  # hyper-threads add nothing to a bandwidth-bound loop
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 2)
    capped = cpus.machine_choice()
    assert capped.intra_op_num_threads == 2 and "capped" in capped.chosen_by
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 8 if logical else None)
    assert cpus.machine_choice().intra_op_num_threads == 2  # no core count: the usable CPUs


def test_apply_writes_records_and_keeps_the_build_up_to_date(tmp_path):
    folder = fake_build(tmp_path / "m")
    assert convert.is_up_to_date(folder, INPUTS)
    record = threads.apply(folder, choice(2))
    assert record["intra_op_num_threads"] == 2
    assert threads.configured(threads.read_config(folder)) == 2
    manifest = convert.read_manifest(folder)
    assert manifest["threads"] == record
    assert convert.is_up_to_date(folder, INPUTS)  # the recorded hash follows: no rebuild just for the setting
    assert threads.read_config(folder)["search"] == BUILD_CONFIG["search"]  # nothing else changed


def test_apply_is_a_no_op_when_already_set_and_follows_a_new_machine(tmp_path):
    folder = fake_build(tmp_path / "m")
    threads.apply(folder, choice(2))
    before = (folder / "genai_config.json").stat().st_mtime_ns, (folder / "kit_model.json").stat().st_mtime_ns
    time.sleep(0.01)
    threads.apply(folder, choice(2))
    assert ((folder / "genai_config.json").stat().st_mtime_ns, (folder / "kit_model.json").stat().st_mtime_ns) == before
    threads.apply(folder, choice(4))  # the folder moved to a 4-core machine
    assert threads.configured(threads.read_config(folder)) == 4 and convert.is_up_to_date(folder, INPUTS)


def test_apply_leaves_a_damaged_build_damaged(tmp_path):
    folder = fake_build(tmp_path / "m")
    (folder / "genai_config.json").write_text("{}")  # not what was built
    assert threads.apply(folder, choice(2)) is None
    assert (folder / "genai_config.json").read_text() == "{}"
    assert not convert.is_up_to_date(folder, INPUTS)
    assert threads.apply(tmp_path / "nothing-here", choice(2)) is None


def test_setting_says_where_the_count_comes_from(tmp_path):
    folder = fake_build(tmp_path / "m")
    assert threads.setting(folder) == {"threads": None, "threads_source": "runtime default"}
    threads.apply(folder, choice(2))
    assert threads.setting(folder) == {"threads": 2, "threads_source": "build"}
    assert threads.setting(folder, 1) == {"threads": 1, "threads_source": "override"}
    assert threads.setting(None) == {"threads": None, "threads_source": "not observable"}


def placed(tmp_path: Path, count: int = 2) -> tuple[Path, Path]:
    """A build with `count` threads and its cache placement (links), as runtime.start lays them out."""
    built = fake_build(tmp_path / "models" / "m")
    threads.apply(built, choice(count))
    placement = tmp_path / "cache" / "local" / "m"
    placement.mkdir(parents=True)
    for item in built.iterdir():
        (placement / item.name).symlink_to(item)
    return placement, built


def test_override_is_read_at_load_and_the_link_comes_back(tmp_path):
    placement, built = placed(tmp_path)
    build_text = (built / "genai_config.json").read_text()
    with threads.loading(placement, built, 1):
        assert not (placement / "genai_config.json").is_symlink()
        assert threads.configured(threads.read_config(placement)) == 1
    assert (placement / "genai_config.json").resolve() == (built / "genai_config.json").resolve()
    assert (built / "genai_config.json").read_text() == build_text  # the build is never changed by an override
    with pytest.raises(RuntimeError), threads.loading(placement, built, 1):
        raise RuntimeError("load failed")
    assert (placement / "genai_config.json").is_symlink()


def test_a_plain_load_repairs_an_override_left_by_a_crash(tmp_path):
    placement, built = placed(tmp_path)
    (placement / "genai_config.json").unlink()
    (placement / "genai_config.json").write_text(json.dumps(threads.with_threads(BUILD_CONFIG, 1)))
    with threads.loading(placement, built):
        assert threads.configured(threads.read_config(placement)) == 2


def test_override_of_a_catalog_model_is_a_clear_error():
    with pytest.raises(threads.ThreadSettingError, match="built or converted"), threads.loading(None, None, 2):
        pass
    with threads.loading(None, None):  # a plain load of a catalog model just runs
        pass


HOLDER = """
import sys, time
from pathlib import Path
from helpers.build import threads
placement, built, marker = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with threads.loading(placement, built, 1):
    marker.write_text("in")
    time.sleep(1.5)
    seen = threads.configured(threads.read_config(placement))
marker.write_text(f"out {time.time()} {seen}")
"""


@pytest.mark.cli
def test_another_process_loading_waits_for_an_override_to_finish(tmp_path):
    placement, built = placed(tmp_path)
    marker = tmp_path / "marker"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(placement), str(built), str(marker)],
                              cwd=paths.REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the holder process never entered its load"
        with threads.loading(placement, built):
            entered = time.time()
            assert threads.configured(threads.read_config(placement)) == 2  # never the other process's override
        holder.wait(timeout=30)
    finally:
        holder.kill()
    _, left, seen = marker.read_text().split()
    assert seen == "1" and entered >= float(left) - 0.05


def test_a_thread_count_below_one_is_a_clear_error(tmp_path):
    placement, built = placed(tmp_path)
    with pytest.raises(threads.ThreadSettingError, match="whole number >= 1"), threads.loading(placement, built, 0):
        pass


def test_bench_threads_setting_is_validated():
    with pytest.raises(ConfigError, match=r"threads \(--threads\)"):
        BenchConfig(models=("m",), threads=0)
    with pytest.raises(ConfigError, match="runs on the threads it was started with"):
        BenchConfig(models=("m",), target="http", endpoint="http://127.0.0.1:9/v1", threads=2)
    assert BenchConfig(models=("m",), threads=2).plan  # a setting of the run: part of its plan (resume checks it)


def test_results_header_records_each_models_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "lab"))
    threads.apply(fake_build(paths.bundled_models_dir() / "built-here"), choice(2))
    fake_build(paths.user_models_dir() / "converted-before")
    config = BenchConfig(models=("built-here", "converted-before", "qwen2.5-0.5b"))
    assert thread_settings(config) == {
        "built-here": {"threads": 2, "threads_source": "build"},
        "converted-before": {"threads": None, "threads_source": "runtime default"},
        "qwen2.5-0.5b": {"threads": None, "threads_source": "not observable"},
    }
    overridden = thread_settings(BenchConfig(models=("built-here", "qwen2.5-0.5b"), threads=1))
    assert overridden == {"built-here": {"threads": 1, "threads_source": "override"},
                          "qwen2.5-0.5b": {"threads": None, "threads_source": "not observable"}}


# --- on the real bundled models --------------------------------------------------------------------------------------

SMOL = "smollm2-135m-instruct-int4"


def test_a_build_from_before_gets_the_setting_at_setup_without_a_rebuild(lab, tmp_path, monkeypatch, capsys):
    import shutil

    from helpers.build import bundled

    real = lab.bundled[SMOL].path
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "lab"))
    old = Path(shutil.copytree(real, paths.bundled_models_dir() / SMOL))
    config = threads.read_config(old)  # as setup left it before threads were set: no setting, hashes to match
    config["model"]["decoder"]["session_options"].pop(threads.SETTING, None)
    (old / "genai_config.json").write_text(json.dumps(config, indent=4) + "\n")
    manifest = convert.read_manifest(old)
    manifest.pop(threads.MANIFEST_KEY, None)
    manifest["files"]["genai_config.json"] = convert.file_sha256(old / "genai_config.json")
    (old / "kit_model.json").write_text(json.dumps(manifest, indent=2) + "\n")

    [result] = bundled.build_bundled([SMOL])
    assert result["status"] == "up to date"  # not rebuilt (a rebuild would need the converter and minutes)
    assert "threads" in capsys.readouterr().out
    wanted = cpus.machine_choice().intra_op_num_threads
    assert threads.configured(threads.read_config(old)) == wanted == result["threads"]["intra_op_num_threads"]
    assert convert.read_manifest(old)["threads"]["intra_op_num_threads"] == wanted
    assert convert.is_up_to_date(old, bundled.expected_inputs(next(b for b in bundled.BUNDLED if b.name == SMOL)))
    assert bundled.build_bundled([SMOL])[0]["status"] == "up to date"  # and stays so


def _threads_of_this_process() -> int:
    import psutil

    return psutil.Process().num_threads()


def test_the_override_reaches_the_runtime(lab):
    """onnxruntime starts intra-op pool threads when a session is created: one thread fewer than the setting. Loading
    with 1 and then with 3 threads must differ by two OS threads in this process (the build's file unchanged)."""
    from helpers.serve import runtime

    model, _ = runtime.get_model(SMOL, runtime=lab)
    build_text = (lab.bundled[SMOL].path / "genai_config.json").read_text()
    counts = {}
    for count in (1, 3):
        runtime.load(model, threads=count)
        counts[count] = _threads_of_this_process()
        runtime.unload(model)
    assert counts[3] - counts[1] == 2, counts
    assert (lab.bundled[SMOL].path / "genai_config.json").read_text() == build_text
    assert (lab.bundled[SMOL].cache_path / "genai_config.json").is_symlink()


def test_bench_records_the_setting_and_the_roofline(lab, tmp_path):
    from helpers.bench.results import REPORT_MD, read_records
    from helpers.bench.session import run_benchmark

    run = run_benchmark(models=[SMOL], rounds=1, max_tokens=16, threads=1, prompts="smoke", progress=False,
                        out_dir=tmp_path)
    header = read_records(tmp_path)[0]
    assert header["threads"] == {SMOL: {"threads": 1, "threads_source": "override"}}
    assert header["bandwidth"]["best_gbps"] > 0 and header["config"]["threads"] == 1
    row = run.summary.iloc[0]
    assert (row["threads"], row["threads_source"]) == (1, "override")
    assert row["weights_read_mb"] > 0 and 0 < row["decode_roofline_pct"]
    assert row["decode_ceiling_tps"] == pytest.approx(header["bandwidth"]["best_gbps"] * 1e3 / row["weights_read_mb"])
    report = (tmp_path / REPORT_MD).read_text()
    assert "## Roofline" in report and f"{SMOL}: 1 (override)" in report


def test_run_comparison_shows_each_sides_threads():
    import pandas as pd

    from helpers.evaluate import compare
    from helpers.measure.stats import summarize

    def summary(decode: float, count: int | None) -> pd.DataFrame:
        trials = pd.DataFrame([{"model": "m", "e2e_ms": 1000.0 + i, "ttft_ms": 200.0 + i, "decode_tps": decode + i}
                               for i in range(6)])
        frame = summarize(trials, "model", ["e2e_ms", "ttft_ms", "decode_tps"])
        frame = frame.rename(columns={"decode_tps_p50": "decode_tps_median"})
        return frame if count is None else frame.assign(threads=count)

    result = compare.compare_runs(summary(40.0, 1), summary(70.0, 2))
    assert (result["baseline_threads"] == 1).all() and (result["candidate_threads"] == 2).all()
    older = compare.compare_runs(summary(40.0, None), summary(70.0, 2))  # a run from before: NA, not an error
    assert older["baseline_threads"].isna().all() and (older["candidate_threads"] == 2).all()


def test_model_run_and_bench_take_threads_on_the_command_line(lab, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=paths.REPO_ROOT, capture_output=True,
                              text=True, timeout=300, env={**os.environ, "FOUNDRY_LAB_PORT": "0"})

    answered = run("model", "run", SMOL, "--prompt", "Say hi.", "--max-tokens", "8", "--threads", "1")
    assert answered.returncode == 0 and "decode threads: 1 (override)" in answered.stderr, answered.stderr
    plain = run("model", "run", SMOL, "--prompt", "Say hi.", "--max-tokens", "8")
    assert "(build)" in plain.stderr or "(runtime default)" in plain.stderr, plain.stderr
    refused = run("bench", "--models", SMOL, "--threads", "0", "--out", str(tmp_path))
    assert refused.returncode == 2 and "--threads" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("chosen, busy, cores, expected", [
    (2, 0.1, 2, 2), (2, 1.0, 2, 1), (2, 3.0, 2, 1), (8, 1.2, 8, 7), (4, 2.0, 8, 4), (8, 0.6, 8, 7),
])
def test_a_load_gets_the_threads_that_fit_beside_other_work(chosen, busy, cores, expected):
    assert cpus.free_threads(chosen, busy, cores) == expected


def test_a_load_beside_a_busy_core_reads_fewer_threads_and_says_why(tmp_path, monkeypatch):
    # thread sweep, 2026-12-03: with one competing process, 2 threads decoded at 0.8x of one thread on 2 cores
    placement, built = placed(tmp_path)
    monkeypatch.setattr(threads, "busy_cpus", lambda: 1.0)
    with threads.loading(placement, built) as used:
        assert threads.configured(threads.read_config(placement)) == 1
    assert used["threads"] == 1 and used["threads_source"].startswith("fewer at load: 1.0 CPUs busy")
    assert (placement / "genai_config.json").is_symlink()  # the build keeps its 2
    assert threads.configured(threads.read_config(built)) == 2
    with threads.loading(placement, built, 2) as used:  # an override is what the user asked for, busy or not
        assert threads.configured(threads.read_config(placement)) == 2 and used["threads_source"] == "override"


@pytest.mark.cli
def test_busy_cpus_sees_a_competing_process():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        busy = cpus.busy_cpus()
    finally:
        spinner.kill()
    assert 0.6 <= busy <= cpus.usable_cpus()
