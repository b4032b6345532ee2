"""The roofline (helpers.measure.roofline): the arithmetic, the cached bandwidth, and the bytes read per token on
synthetic graphs (which tables are subtracted) and on the real bundled models."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.bench.summary import model_summary
from helpers.core import paths
from helpers.measure import roofline


def test_ceiling_is_bandwidth_over_bytes_per_token():
    # issue #20's figures: two cores read ~43 GB/s; the 355 MB Qwen 0.5B folder -> ~121 tok/s at most
    assert roofline.ceiling_tps(43.0, 355.0) == pytest.approx(121.13, abs=0.01)
    assert roofline.ceiling_tps(43.0, 973.0) == pytest.approx(44.19, abs=0.01)
    for missing in ((None, 355.0), (43.0, None), (0.0, 355.0), (43.0, 0.0), (-1.0, 355.0)):
        assert roofline.ceiling_tps(*missing) is None


def test_roofline_pct_is_decode_over_ceiling():
    assert roofline.roofline_pct(40.0, 121.13) == pytest.approx(33.02, abs=0.01)
    assert roofline.roofline_pct(None, 121.0) is None
    assert roofline.roofline_pct(40.0, None) is None
    assert roofline.roofline_pct(float("nan"), 121.0) is None


def test_roofline_columns_use_the_best_measured_bandwidth():
    bandwidth = {"gbps": {"1": 22.6, "2": 43.0}, "best_gbps": 43.0}
    columns = roofline.roofline_columns(72.0, 283.0, bandwidth)
    assert columns["decode_ceiling_tps"] == pytest.approx(43e9 / 283e6)
    assert columns["decode_roofline_pct"] == pytest.approx(72.0 / (43e9 / 283e6) * 100)
    assert roofline.roofline_columns(72.0, 283.0, None) == {"decode_ceiling_tps": None, "decode_roofline_pct": None}
    assert roofline.roofline_columns(72.0, 283.0, {"error": "no memory"})["decode_ceiling_tps"] is None


def test_read_gbps_counts_the_buffer_once_per_pass():
    buffer = np.ones(1 << 20)  # 8 MB
    assert roofline.read_gbps(buffer, 1, repeats=2) > 0
    assert roofline.read_gbps(buffer, 2, repeats=2) > 0


def test_bandwidth_is_measured_once_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    calls = []

    def fake_measure(counts, *args):
        calls.append(tuple(counts))
        return {"gbps": {str(k): 10.0 * k for k in counts}, "best_gbps": 10.0 * max(counts), "method": "fake"}

    monkeypatch.setattr(roofline, "measure_bandwidth", fake_measure)
    first = roofline.machine_bandwidth(threads=2)
    assert first["best_gbps"] == 20.0 and calls == [(1, 2)]
    assert roofline.machine_bandwidth(threads=2) == first and len(calls) == 1  # cached under the kit home
    cache = json.loads((tmp_path / "machine" / roofline.CACHE_FILE).read_text())
    assert list(cache) == [roofline.machine_key()]
    facts = roofline.machine_facts()
    monkeypatch.setattr(roofline, "machine_facts", lambda: {**facts, "cpu": "another CPU"})
    roofline.machine_bandwidth(threads=2)  # another machine sharing the kit home measures its own
    assert len(calls) == 2 and len(json.loads((tmp_path / "machine" / roofline.CACHE_FILE).read_text())) == 2
    roofline.machine_bandwidth(threads=2, refresh=True)
    assert len(calls) == 3


def test_a_busy_reading_is_retried_later_and_the_best_kept(tmp_path, monkeypatch):
    import psutil

    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    readings = iter([{"1": 4.0, "2": 3.9}, {"1": 22.6, "2": 43.0}, {"1": 20.0, "2": 30.0}])

    def fake_measure(counts, *args):
        gbps = next(readings)
        return {"gbps": gbps, "best_gbps": max(gbps.values()), "method": "fake"}

    monkeypatch.setattr(roofline, "measure_bandwidth", fake_measure)
    monkeypatch.setattr(psutil, "getloadavg", lambda: (6.8, 4.0, 2.0))
    busy = roofline.machine_bandwidth(threads=2)
    assert busy["busy"] and busy["best_gbps"] == 4.0
    assert roofline.machine_bandwidth(threads=2) == busy  # within the hour: reused
    monkeypatch.setattr(roofline.time, "time", lambda: busy["measured_s"] + roofline.BUSY_RETRY_S + 1)
    monkeypatch.setattr(psutil, "getloadavg", lambda: (0.1, 0.1, 0.1))
    quiet = roofline.machine_bandwidth(threads=2)
    assert not quiet["busy"] and quiet["gbps"] == {"1": 22.6, "2": 43.0} and quiet["best_gbps"] == 43.0
    again = roofline.machine_bandwidth(threads=2, refresh=True)  # a lower reading never replaces a higher one
    assert again["gbps"] == {"1": 22.6, "2": 43.0} and not again["busy"]


def test_measure_bandwidth_reports_each_thread_count():
    record = roofline.measure_bandwidth((1, 2), buffer_bytes=16 << 20, repeats=2)
    assert set(record["gbps"]) == {"1", "2"} and record["best_gbps"] == max(record["gbps"].values())
    assert record["buffer_mb"] == 17 and "best of 2" in record["method"]  # 16 MiB in MB


def test_bandwidth_summary_line():
    line = roofline.bandwidth_summary({"gbps": {"1": 22.6, "2": 43.0}, "best_gbps": 43.0, "method": "numpy sum"})
    assert line == "43.0 GB/s (1 thread: 22.6; 2 threads: 43.0; numpy sum)"
    assert roofline.bandwidth_summary(None) == "not measured"
    assert roofline.bandwidth_summary({"error": "MemoryError"}) == "not measured (MemoryError)"


# --- bytes per token ---------------------------------------------------------------------------------------------

VOCAB, HIDDEN = 512, 64


def write_model(folder, tied: bool, external: bool = True):
    """A decoder-shaped graph: an embedding Gather, one MatMul layer, and the output projection (lm_head): its own
    table, or (tied) the embedding table itself."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    embed = numpy_helper.from_array(rng.random((VOCAB, HIDDEN), dtype=np.float32), "embed_tokens.weight")
    layer = numpy_helper.from_array(rng.random((HIDDEN, HIDDEN), dtype=np.float32), "layer.weight")
    nodes = [helper.make_node("Gather", ["embed_tokens.weight", "input_ids"], ["h0"]),
             helper.make_node("MatMul", ["h0", "layer.weight"], ["h1"])]
    initializers = [embed, layer]
    if tied:
        nodes += [helper.make_node("Transpose", ["embed_tokens.weight"], ["embed_t"]),
                  helper.make_node("MatMul", ["h1", "embed_t"], ["logits"])]
    else:
        initializers.append(numpy_helper.from_array(rng.random((HIDDEN, VOCAB), dtype=np.float32), "lm_head.weight"))
        nodes.append(helper.make_node("MatMul", ["h1", "lm_head.weight"], ["logits"]))
    graph = helper.make_graph(nodes, "decoder", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, VOCAB])], initializers)
    folder.mkdir()
    onnx.save(helper.make_model(graph), str(folder / "model.onnx"), save_as_external_data=external,
              all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    (folder / "genai_config.json").write_text("{}")  # not weights: never counted
    return folder


def test_a_separate_embedding_table_is_gathered_not_streamed(tmp_path):
    read = roofline.weights_read(write_model(tmp_path / "untied", tied=False))
    files = (tmp_path / "untied" / "model.onnx").stat().st_size + (tmp_path / "untied" / "model.onnx.data").stat().st_size
    assert read.weights_bytes == files
    assert read.gathered == ("embed_tokens.weight",) and read.gathered_bytes == VOCAB * HIDDEN * 4
    assert read.per_token_bytes == files - VOCAB * HIDDEN * 4


def test_a_tied_embedding_is_streamed_by_the_output_layer(tmp_path):
    read = roofline.weights_read(write_model(tmp_path / "tied", tied=True))
    assert read.gathered == () and read.per_token_bytes == read.weights_bytes


def test_inline_weights_are_counted_too(tmp_path):
    read = roofline.weights_read(write_model(tmp_path / "inline", tied=False, external=False))
    assert read.gathered_bytes >= VOCAB * HIDDEN * 4  # the inline tensor's serialized size (data + name, dims)
    assert read.gathered_bytes < VOCAB * HIDDEN * 4 + 100


def test_a_folder_without_an_onnx_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.onnx model"):
        roofline.weights_read(tmp_path)
    assert roofline.weights_read_mb(tmp_path) is None and roofline.weights_read_mb(None) is None


def test_summary_rows_carry_the_roofline_columns():
    import pandas as pd

    from helpers.bench.summary import models_frame, trials_frame

    trial = {"type": "trial", "session": 1, "model": "m", "model_id": "m:1", "target": "inprocess", "prompt_id": "p",
             "round": 0, "warmup": False, "ok": True, "truncated": False, "decode_tps": 72.0, "e2e_ms": 1000.0,
             "note": None, "tokens_source": "usage", "finish_reason": "length", "error": None}
    records = [{"type": "model", "model": "m", "status": "loaded", "threads": 2, "threads_source": "build",
                "weights_read_mb": 283.0}]
    summary = model_summary(trials_frame([trial]), models_frame(records, ["m"]), 1,
                            {"gbps": {"1": 22.6, "2": 43.0}, "best_gbps": 43.0})
    row = summary.iloc[0]
    assert row["threads"] == 2 and row["threads_source"] == "build" and row["weights_read_mb"] == 283.0
    assert row["decode_ceiling_tps"] == pytest.approx(151.94, abs=0.01)
    assert row["decode_roofline_pct"] == pytest.approx(47.39, abs=0.01)
    assert pd.isna(model_summary(trials_frame([trial]), models_frame(records, ["m"]), 1).iloc[0]["decode_roofline_pct"])


@pytest.mark.parametrize("name, tied", [("smollm2-135m-instruct-int4", True),
                                        ("qwen2.5-coder-0.5b-instruct-int4", False),
                                        ("qwen2.5-coder-1.5b-instruct-int4", False)])
def test_bytes_per_token_of_the_real_bundled_models(lab, name, tied):
    """SmolLM2 ties its output layer to the embedding: all of it streams. The Qwens' int4 builds quantize the
    embedding separately (GatherBlockQuantized): 151,936 rows x hidden x 4 bits plus scales are only gathered."""
    folder = lab.bundled[name].path
    read = roofline.weights_read(folder)
    assert read.weights_bytes == sum(p.stat().st_size for p in folder.iterdir()
                                     if p.name.endswith((".onnx", ".onnx.data")))
    if tied:
        assert read.gathered_bytes < 1e6  # at most small index tables
    else:
        hidden = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]["hidden_size"]
        table = 151_936 * hidden / 2  # int4: half a byte per weight
        assert table <= read.gathered_bytes <= table * 1.15  # plus block scales (and zero points)
