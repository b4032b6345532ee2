"""One comparison across a class: share bundles (nothing personal), the collector (join code, size, schema), and
the class report (DuckDB merge, spread, picks under the gates, outliers) on synthetic and real runs."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import urllib.request

import numpy as np
import pandas as pd
import pytest

from helpers.classroom import bundle as bundles
from helpers.classroom import class_report, collector
from helpers.classroom.profile import accelerators, machine_class
from helpers.classroom.synthetic import synthetic_bundle, write_synthetic
from helpers.core import paths

SMOL = "smollm2-135m-instruct-int4"


def _good() -> dict:
    return synthetic_bundle(np.random.default_rng(1), 0)


def _bytes(data: dict) -> bytes:
    return json.dumps(data).encode()


# --- the machine profile ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile, expected", [
    ({"physical_cores": 2, "ram_gb": 8.0, "gpus": [], "npus": []}, "≤2 cores · ≤8 GB · CPU only"),
    ({"physical_cores": 4, "ram_gb": 16.7, "gpus": ["NVIDIA GPU"], "npus": []}, "3-4 cores · 17-32 GB · GPU"),
    ({"physical_cores": None, "logical_cores": 24, "ram_gb": 64, "gpus": [], "npus": ["NPU"]}, "17+ cores · 33+ GB · NPU"),
])
def test_machine_class_buckets(profile, expected):
    assert machine_class(profile) == expected


def test_accelerators_are_read_from_the_os_device_tree(tmp_path):
    for card, vendor in (("card0", "0x10de"), ("card1", "0x8086")):
        (tmp_path / "class" / "drm" / card / "device").mkdir(parents=True)
        (tmp_path / "class" / "drm" / card / "device" / "vendor").write_text(vendor + "\n")
    (tmp_path / "class" / "drm" / "card0-HDMI-A-1").mkdir()  # a connector, not a GPU
    (tmp_path / "class" / "accel" / "accel0").mkdir(parents=True)
    assert accelerators(tmp_path) == {"gpus": ["NVIDIA GPU", "Intel GPU"], "npus": ["NPU"]}
    assert accelerators(tmp_path / "nothing") == {"gpus": [], "npus": []}


# --- reading a bundle ---------------------------------------------------------------------------------------------

def test_a_good_bundle_parses():
    parsed = bundles.parse_bundle(_bytes(_good()))
    assert parsed.models[0].model == SMOL and parsed.machine.machine_class.endswith(("CPU only", "GPU"))


@pytest.mark.parametrize("change, says", [
    (lambda b: b.update(format="something/9"), "not a share bundle (field `format`"),
    (lambda b: b.update(extra="x"), "extra: Extra inputs are not permitted"),
    (lambda b: b["models"][0].update(decode_tps_median=float("nan")), "models.0.decode_tps_median"),
    (lambda b: b["models"][0].update(ttft_ms_p50=-1), "models.0.ttft_ms_p50"),
    (lambda b: b["models"][0].update(model="../../etc/passwd"), "models.0.model"),
    (lambda b: b.update(label="<script>"), "label"),
    (lambda b: b.update(bundle_id="../x"), "bundle_id"),
    (lambda b: b.update(models=[]), "models"),
    (lambda b: b["machine"].update(machine_class="99 cores"), "does not match its cores"),
    (lambda b: b["machine"].update(cpu="x" * 500), "machine.cpu"),
])
def test_a_malformed_bundle_is_refused_with_the_field(change, says):
    data = _good()
    change(data)
    with pytest.raises(bundles.BundleError, match="malformed share bundle|not a share bundle") as refused:
        bundles.parse_bundle(json.dumps(data, allow_nan=True).encode())
    assert says in str(refused.value)


@pytest.mark.parametrize("data, says", [
    (b"\xff\xfe not utf-8", "not a JSON share bundle"), (b"{not json", "not a JSON share bundle"),
    (b"[1, 2]", "not a share bundle"), (b" " * (bundles.MAX_BUNDLE_BYTES + 1), "over the limit"),
])
def test_bytes_that_are_not_a_bundle_are_refused(data, says):
    with pytest.raises(bundles.BundleError, match=says):
        bundles.parse_bundle(data)


def test_personal_strings_are_found_and_not_repeated_in_the_message():
    text = json.dumps({"models": [{"model": "alice-laptop-model"}], "x": "/home/alice/lab"})
    with pytest.raises(bundles.BundleError, match="a user or host name") as found:
        bundles.check_nothing_personal(text, ["alice-laptop"])
    assert "alice" not in str(found.value)
    with pytest.raises(bundles.BundleError, match="a path"):
        bundles.check_nothing_personal(text, ["/home/alice"])
    bundles.check_nothing_personal(text, ["bob-desktop", "/home/bob"])  # nothing of this machine: no error
    bundles.check_nothing_personal("a malice-free text", ["alice"])  # a word containing it is not the name


# --- the collector ------------------------------------------------------------------------------------------------

@pytest.fixture
def running_collector(tmp_path):
    server = collector.Collector(tmp_path / "inbox", "join-42", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _post(server: collector.Collector, body: bytes, code: str | None = "join-42") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({collector.CODE_HEADER: code} if code is not None else {})}
    request = urllib.request.Request(server.url + collector.BUNDLES_PATH, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_the_collector_binds_loopback_and_needs_a_code(tmp_path):
    server = collector.Collector(tmp_path, "c", port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
    with pytest.raises(collector.ClearError, match="needs a join code"):
        collector.Collector(tmp_path, "", port=0)


def test_the_collector_keeps_every_good_bundle_and_refuses_the_rest(running_collector, tmp_path):
    good = _good()
    path = tmp_path / "mine.share.json"
    path.write_text(json.dumps(good))
    assert collector.send_bundle(path, running_collector.url, "join-42") == good["bundle_id"]
    assert collector.send_bundle(path, running_collector.url + "/bundles", "join-42") == good["bundle_id"]  # again
    kept = sorted((tmp_path / "inbox").glob("*.share.json"))
    assert len(kept) == 2 and all(good["bundle_id"] in p.name for p in kept)  # both kept, neither overwritten
    assert bundles.read_bundle_file(kept[0]).model_dump(mode="json") == bundles.parse_bundle(path.read_bytes()).model_dump(mode="json")

    assert _post(running_collector, _bytes(good), code="wrong")[0] == 401
    assert _post(running_collector, _bytes(good), code=None)[0] == 401
    status, answer = _post(running_collector, b"x" * (bundles.MAX_BUNDLE_BYTES + 1))
    assert status == 413 and "over the limit" in answer["error"]
    broken = copy.deepcopy(good)
    broken["models"][0]["model"] = "$(rm -rf /)"
    status, answer = _post(running_collector, _bytes(broken))
    assert status == 400 and "models.0.model" in answer["error"]
    status, answer = _post(running_collector, b"{\"format\": ")
    assert status == 400 and "not a JSON share bundle" in answer["error"]
    assert len(list((tmp_path / "inbox").glob("*"))) == 2  # nothing refused was kept
    with urllib.request.urlopen(running_collector.url, timeout=10) as reply:
        assert json.load(reply) == {"collector": "foundry-lab", "bundles": 2}


def test_sending_with_a_wrong_code_is_one_clear_error(running_collector, tmp_path):
    path = tmp_path / "mine.share.json"
    path.write_text(json.dumps(_good()))
    with pytest.raises(collector.SendError, match=r"refused the bundle \(HTTP 401\): wrong or missing join code"):
        collector.send_bundle(path, running_collector.url, "nope")
    with pytest.raises(collector.SendError, match="cannot reach the collector"):
        collector.send_bundle(path, "http://127.0.0.1:9", "join-42")


# --- the class report ---------------------------------------------------------------------------------------------

def test_the_class_report_on_synthetic_machines(tmp_path):
    write_synthetic(tmp_path, 60, seed=7)
    (tmp_path / "broken.json").write_text("{")
    report = class_report.build(tmp_path, max_p95_ms=3000)
    assert report.merged.machines == 60 and list(report.refused) == ["broken.json"]
    runs = report.merged.runs
    for (model, klass), group in runs.groupby(["model", "machine_class"]):  # the spread is the machines' figures
        row = report.merged.spread.set_index(["model", "machine_class"]).loc[(model, klass)]
        assert row["machines"] == len(group)
        assert row["decode_tps_median_median"] == pytest.approx(np.median(group["decode_tps_median"]))
        assert row["peak_rss_mb_max"] == pytest.approx(group["peak_rss_mb"].max())
        values = group["decode_tps_median"].to_numpy()
        q1, q3 = np.percentile(values, [25, 75])
        outside = set(group.loc[(values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1)), "machine"])
        named = report.merged.outliers
        named = set(named[(named.model == model) & (named.machine_class == klass) & (named.metric == "decode_tps_median")].machine)
        assert named == (outside if len(group) >= 4 else set())
    for pick in report.picks.itertuples():  # the pick passes the latency gate on every machine and is the largest
        mine = runs[runs.machine_class == pick.machine_class]
        fits = mine.groupby("model")["e2e_ms_p95"].max() <= 3000
        passing = [m for m in fits.index if fits[m]]
        largest = max(passing, key=lambda m: class_report._size_key(m)) if passing else None
        assert pick.pick == largest
    text = class_report.render(report)
    assert "e2e p95 ≤ 3,000 ms on every machine" in text and "1 file(s) refused" in text


def test_a_machine_that_sends_twice_counts_once(tmp_path):
    first = _good()
    second = copy.deepcopy(first)
    second["bundle_id"] = "f" * 32
    second["created"] = "2026-12-03T19:00:00+00:00"
    second["models"][0]["decode_tps_median"] = 1.0
    for name, data in (("a.json", first), ("b.json", second)):
        (tmp_path / name).write_text(json.dumps(data))
    report = class_report.build(tmp_path)
    assert report.merged.bundles == 2 and report.merged.machines == 1
    assert report.merged.runs.set_index("model").loc[SMOL, "decode_tps_median"] == 1.0  # the later bundle


@pytest.mark.cli
def test_a_folder_without_bundles_is_one_clear_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "helpers", "class", str(tmp_path)], cwd=paths.REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "no share bundle to merge" in run.stderr and "Traceback" not in run.stderr


# --- real runs ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Three small real runs of the bundled SmolLM2 (smoke prompts, 1 round, 16 tokens). Without the isolated memory
    probe (a fresh process per run, ~3 s each): peak_rss_mb is then the run's own sample, which is all a bundle needs;
    the probe is tested by test_benchmark and test_memory_fit."""
    folders = []
    for index in range(3):
        out = tmp_path_factory.mktemp(f"run{index}")
        done = subprocess.run([sys.executable, "-m", "helpers", "bench", "--models", SMOL, "--prompts", "smoke",
                               "--rounds", "1", "--warmup", "1", "--max-tokens", "16", "--no-memory-probe", "--out", str(out)],
                              cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        folders.append(out)
    return folders


def test_share_writes_a_bundle_with_nothing_personal(real_runs, tmp_path):
    out = tmp_path / "mine.share.json"
    done = subprocess.run([sys.executable, "-m", "helpers", "share", str(real_runs[0]), "--out", str(out),
                           "--label", "seat 12"], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    parsed = bundles.parse_bundle(text.encode())
    assert parsed.label == "seat 12" and parsed.models[0].model == SMOL and parsed.models[0].status == "ok"
    assert parsed.models[0].decode_tps_median > 0 and parsed.models[0].peak_rss_mb > 0
    assert parsed.machine.ram_gb > 0 and parsed.machine.versions["foundry-local-sdk"].startswith("2.")
    for personal in bundles.personal_strings():  # no user or host name, path or key
        assert personal.lower() not in text.lower()
    assert str(real_runs[0]) not in text and "error" not in json.loads(text)["models"][0]


def test_the_class_report_merges_real_runs_with_synthetic_ones(real_runs, tmp_path, monkeypatch):
    from helpers.classroom import profile

    for index, run in enumerate(real_runs):  # three real runs, as three machines would send them
        monkeypatch.setattr(profile, "machine_id", lambda i=index: f"{i:016x}")
        bundles.write_bundle(run, tmp_path / f"real-{index}.share.json", label=f"real {index}")
    write_synthetic(tmp_path, 20)
    report = class_report.build(tmp_path)
    assert report.merged.machines == 23 and not report.refused
    real = report.merged.runs[report.merged.runs.machine.str.startswith("real")]
    assert sorted(real.machine) == ["real 0", "real 1", "real 2"] and (real.model == SMOL).all()
    measured = [pd.read_csv(run / "summary.csv").set_index("model").loc[SMOL, "decode_tps_median"] for run in real_runs]
    assert sorted(real.decode_tps_median) == pytest.approx(sorted(measured), rel=1e-4)  # summary.csv rounds
    assert class_report.write(report, tmp_path / "out").read_text().startswith("# Class report: 23 machines")


def test_share_to_a_collector_from_the_command_line(real_runs, running_collector, tmp_path):
    def share(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "helpers", "share", str(real_runs[1]), "--out",
                               str(tmp_path / "b.share.json"), *extra], cwd=paths.REPO_ROOT, capture_output=True,
                              text=True, timeout=300)

    sent = share("--to", running_collector.url, "--code", "join-42")
    assert sent.returncode == 0 and "accepted as" in sent.stdout, sent.stderr
    wrong = share("--to", running_collector.url, "--code", "guess")
    assert wrong.returncode == 1 and "HTTP 401" in wrong.stderr and "Traceback" not in wrong.stderr
    alone = share("--to", running_collector.url)
    assert alone.returncode == 1 and "needs --code" in alone.stderr
    assert len(list((tmp_path / "inbox").glob("*.share.json"))) == 1
