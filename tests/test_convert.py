"""The converter and the bundled models, on the real converter environment and the real models.

The session first makes sure the bundles are built in the real kit home (a no-op after `python -m helpers setup`).
Tests that damage or rebuild a model work in a private kit home that shares the real converter environment,
downloads and dequantized-HF cache, so they never touch the real bundles.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.build import bundled, convert
from helpers.core import paths

SMOL_INT4, SMOL_INT8, GEMMA = "smollm2-135m-instruct-int4", "smollm2-135m-instruct-int8", "gemma-3-270m-base-int4"
QWEN_05, QWEN_15 = "qwen2.5-coder-0.5b-instruct-int4", "qwen2.5-coder-1.5b-instruct-int4"
SMOL_GGUF = next(b for b in bundled.BUNDLED if b.name == SMOL_INT4)
GENERATE = """
import json, sys
import onnxruntime_genai as og
model = og.Model(sys.argv[1])
tokenizer = og.Tokenizer(model)
prompt = tokenizer.apply_chat_template(json.dumps([{"role": "user", "content": "Name a colour."}]),
                                       add_generation_prompt=True)
params = og.GeneratorParams(model)
params.set_search_options(max_length=int(sys.argv[2]), do_sample=False)
generator = og.Generator(model, params)
generator.append_tokens(tokenizer.encode(prompt))
tokens = []
while not generator.is_done() and len(tokens) < 12:
    generator.generate_next_token()
    tokens.append(int(generator.get_next_tokens()[0]))
print(json.dumps({"tokens": len(tokens), "text": tokenizer.decode(tokens)}))
"""


@pytest.fixture(scope="session")
def real_home() -> Path:
    """The real kit home with every bundle built and current."""
    results = bundled.build_bundled()
    assert {r["name"] for r in results} == {b.name for b in bundled.BUNDLED}
    return paths.kit_home()


@pytest.fixture
def lab_home(real_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private kit home: converter venv, downloads and HF cache linked from the real one, no models yet."""
    home = tmp_path / "lab"
    (home / "models").mkdir(parents=True)
    for shared in ("convert-venv", "downloads", "hf"):
        (home / shared).symlink_to(real_home / shared, target_is_directory=True)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    return home


def copy_bundle(real_home: Path, name: str) -> Path:
    return Path(shutil.copytree(real_home / "models" / name, paths.bundled_models_dir() / name))


def bundle(name: str) -> bundled.Bundle:
    return next(b for b in bundled.BUNDLED if b.name == name)


def smol_gguf(real_home: Path) -> Path:
    return real_home / "downloads" / SMOL_GGUF.gguf


# --- the bundles -------------------------------------------------------------------------------------------


def test_every_bundle_is_built_and_current(real_home):
    for each in bundled.BUNDLED:
        out = bundled.bundle_dir(each)
        assert convert.is_up_to_date(out, bundled.expected_inputs(each)), each.name
        assert convert.folder_size_mb(out) > 50, each.name


def test_second_build_skips_up_to_date_bundles(real_home, capsys):
    [result] = bundled.build_bundled([SMOL_INT4])
    assert result["status"] == "up to date" and result["seconds"] < 15
    assert f"{SMOL_INT4}: up to date" in capsys.readouterr().out


@pytest.mark.parametrize("name", [b.name for b in bundled.BUNDLED])
def test_manifest_records_the_build(real_home, name):
    spec, folder = bundle(name), real_home / "models" / name
    manifest = convert.read_manifest(folder)
    assert manifest["inputs"] == bundled.expected_inputs(spec)
    assert manifest["gguf_sha256"] == spec.gguf_sha256 and manifest["gguf"] == spec.gguf
    assert (manifest["source_package"], manifest["source_version"]) == tuple(spec.packages[0].split("=="))
    assert manifest["license"] == spec.license and manifest["display_name"] == spec.display_name
    assert manifest["variant"] == ("instruct" if spec.instruct else "base")
    assert manifest["precision"] == spec.precision and manifest["build_seconds"] > 0
    assert manifest["size_mb"] == pytest.approx(convert.folder_size_mb(folder), abs=0.2)
    genai = json.loads((folder / "genai_config.json").read_text())
    assert genai["model"]["context_length"] == genai["search"]["max_length"] == spec.context_length == 2048
    # provenance: the header the worker read, the data files joined, and each stage's time and peak memory
    assert manifest["source_header"]["general.architecture"] == spec.architecture
    assert manifest["source_header"]["general.name"] == spec.gguf_name
    assert manifest["source_quant"] == spec.source_quant and manifest["builder_options"] == dict(spec.builder_options)
    assert len(manifest["data_files"]) >= 1 and all(f.split(": ")[0] in spec.packages for f in manifest["data_files"])
    assert set(manifest["build_steps"]) == set(convert.STAGES)
    assert 0 < manifest["peak_rss_mb"] <= 8000, "a conversion step peaked above the 8 GB goal"


def test_qwen_bundles_are_joined_from_their_data_files_in_package_order(real_home):
    for name, count in ((QWEN_05, 6), (QWEN_15, 22)):
        files = convert.read_manifest(real_home / "models" / name)["data_files"]
        assert len(files) == count
        assert [f.rsplit("/part", 1)[1] for f in files] == [f"{i:02d}.bin" for i in range(1, count + 1)]


def test_large_intermediates_are_gone_after_the_build(real_home):
    """The dequantized HF folders of the Qwen models (1.2 and 3.4 GB) and every float32 export are deleted."""
    for name in (QWEN_05, QWEN_15):
        assert not convert.hf_cache_dir(bundle(name).gguf_sha256).exists()
    assert not list((real_home / "models").glob(".*"))


@pytest.mark.parametrize("name,max_length", [(SMOL_INT4, 512), (SMOL_INT8, 512), (GEMMA, 128), (QWEN_05, 256),
                                             (QWEN_15, 256)])
def test_bundle_generates_with_its_chat_template(real_home, name, max_length):
    """Gemma is also asked with a max length below its 512-token sliding window (needs windowed_kv_cache=false)."""
    done = subprocess.run([str(convert.converter_python()), "-c", GENERATE, str(real_home / "models" / name),
                           str(max_length)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["tokens"] > 0 and answer["text"].strip()


def test_gemma_gets_turn_template_and_end_of_turn_eos(real_home):
    folder = real_home / "models" / GEMMA
    assert "<start_of_turn>" in (folder / "chat_template.jinja").read_text()
    assert json.loads((folder / "genai_config.json").read_text())["model"]["eos_token_id"] == [1, 106]


# --- content idempotence -----------------------------------------------------------------------------------


def test_truncated_file_is_detected_and_rebuilt(lab_home, real_home, capsys):
    folder = copy_bundle(real_home, SMOL_INT8)
    expected = bundled.expected_inputs(bundle(SMOL_INT8))
    assert convert.is_up_to_date(folder, expected)
    (folder / "tokenizer_config.json").write_text("")
    assert not convert.is_up_to_date(folder, expected)

    [result] = bundled.build_bundled([SMOL_INT8])
    out = capsys.readouterr().out
    assert result["status"] == "built"
    assert "dequantize: skipped" in out, "the second precision must reuse the cached HF folder"
    assert convert.is_up_to_date(folder, expected)


def test_missing_file_or_changed_inputs_are_not_up_to_date(lab_home, real_home):
    folder = copy_bundle(real_home, SMOL_INT4)
    expected = bundled.expected_inputs(bundle(SMOL_INT4))
    assert not convert.is_up_to_date(folder, {**expected, "context_length": 4096})
    (folder / "genai_config.json").unlink()
    assert not convert.is_up_to_date(folder, expected)


def test_partial_build_folder_is_never_taken_as_complete(lab_home, real_home):
    """A crash leaves only the hidden `.name.partial` sibling, even one holding a full manifest."""
    target = paths.bundled_models_dir() / SMOL_INT4
    shutil.copytree(real_home / "models" / SMOL_INT4, target.with_name(f".{SMOL_INT4}.partial"))
    assert not convert.is_up_to_date(target, bundled.expected_inputs(bundle(SMOL_INT4)))
    assert convert.read_manifest(target) is None and not (target / "genai_config.json").exists()


def test_interrupted_build_leaves_nothing_that_looks_built(lab_home, real_home):
    """Ctrl-C while the builder is writing: the worker dies with the caller and the partial folder goes."""
    out = paths.bundled_models_dir() / "interrupted"
    partial = out.with_name(".interrupted.partial")

    def interrupt_once_the_builder_writes(line: str) -> None:
        if line.strip().startswith("build:"):
            deadline = time.monotonic() + 60
            while not partial.is_dir() and time.monotonic() < deadline:
                time.sleep(0.1)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert.convert_model(smol_gguf(real_home), out, "int8", progress=interrupt_once_the_builder_writes,
                              source_sha=SMOL_GGUF.gguf_sha256)
    time.sleep(3)  # a worker that outlived the interrupt would write the folder again
    assert not out.exists() and not partial.exists() and not out.with_name(".interrupted.work").exists()


def test_hf_folder_source_converts_without_touching_the_folder(lab_home):
    source = convert.hf_cache_dir(SMOL_GGUF.gguf_sha256)
    before = convert.source_sha256(source)
    manifest = convert.convert_model(source, lab_home / "from-hf", "int4", context_length=1024)
    assert convert.source_sha256(source) == before
    assert manifest["inputs"]["source_sha256"] == before
    assert convert.is_up_to_date(lab_home / "from-hf", manifest["inputs"])
    genai = json.loads((lab_home / "from-hf" / "genai_config.json").read_text())
    assert genai["search"]["max_length"] == 1024


def test_gguf_checksum_mismatch_is_refused(lab_home):
    wrong = dataclasses.replace(SMOL_GGUF, gguf_sha256="0" * 64)
    with pytest.raises(convert.ConversionError) as caught:
        bundled.fetch_gguf(wrong)
    assert caught.value.step == "verify" and SMOL_GGUF.gguf_sha256 in caught.value.message
    assert not list(paths.downloads_dir().glob(".*.partial"))


# --- bad inputs give named errors --------------------------------------------------------------------------


def test_not_a_model_folder(tmp_path):
    (tmp_path / "README.md").write_text("just notes")
    with pytest.raises(convert.ConversionError, match="not a Hugging Face model folder") as caught:
        convert.convert_model(tmp_path, tmp_path / "out")
    assert caught.value.step == "inspect" and "config.json" in caught.value.fix


def test_random_bytes_gguf_is_reported_corrupted(tmp_path):
    (tmp_path / "x.gguf").write_bytes(os.urandom(4096))
    with pytest.raises(convert.ConversionError, match="not a GGUF file") as caught:
        convert.convert_model(tmp_path / "x.gguf", tmp_path / "out")
    assert "sha256" in caught.value.fix


def test_truncated_gguf_fails_before_anything_is_converted(lab_home, real_home, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    with open(smol_gguf(real_home), "rb") as whole:
        truncated.write_bytes(whole.read(20 * 2**20))
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_model(truncated, tmp_path / "out")
    assert caught.value.step in ("header", "dequantize") and "uncorrupted GGUF" in caught.value.fix
    assert not (tmp_path / "out").exists()


def test_gguf_whose_header_names_other_weights_is_refused(lab_home, real_home, tmp_path):
    """The header check runs before dequantizing: wrong general.name -> a named error, nothing converted."""
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_model(smol_gguf(real_home), tmp_path / "out", source_sha=SMOL_GGUF.gguf_sha256,
                              expect={"general.name": "Qwen2.5 Coder 1.5B Instruct GGUF"})
    assert caught.value.step == "header"
    assert "general.name is 'Smollm2 135M 8k Lc100K Mix1 Ep2', expected 'Qwen2.5 Coder 1.5B Instruct GGUF'" in \
        caught.value.message
    assert "models.json" in caught.value.fix and not (tmp_path / "out").exists()


def test_memory_check_refuses_with_both_figures(lab_home, real_home, tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "available_memory_mb", lambda: 300.0)
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_model(smol_gguf(real_home), tmp_path / "out", source_sha=SMOL_GGUF.gguf_sha256)
    assert caught.value.step == "inspect" and "of memory at its peak; 0.3 GB is available now" in caught.value.message


def test_resource_estimate_of_the_1_5b_is_within_the_8_gb_goal(tmp_path):
    gguf = tmp_path / "model.gguf"
    with open(gguf, "wb") as file:
        file.truncate(1_117_320_768)  # sparse: the size of Qwen2.5-Coder 1.5B Q4_K_M
    need = convert.resource_estimate(gguf, tmp_path / "no-hf", "int4")
    assert 5000 < need["memory_mb"] <= 8000 and need["work_mb"] > need["output_mb"] > 0


def test_unsupported_architecture_lists_supported_ones(lab_home, tmp_path):
    folder = tmp_path / "foo"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["FooForCausalLM"], "model_type": "foo"}))
    with pytest.raises(convert.ConversionError, match="FooForCausalLM") as caught:
        convert.convert_model(folder, tmp_path / "out")
    assert caught.value.step == "inspect"
    assert "LlamaForCausalLM" in caught.value.fix and "Gemma3ForCausalLM" in caught.value.fix


def test_missing_tokenizer_is_named(lab_home, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    config = json.loads((convert.hf_cache_dir(SMOL_GGUF.gguf_sha256) / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(convert.ConversionError, match="no tokenizer") as caught:
        convert.convert_model(folder, tmp_path / "out")
    assert caught.value.step == "inspect"


def test_missing_chat_template_is_named(lab_home, tmp_path):
    """A tokenizer with neither a chat template nor known turn tokens cannot serve chat requests."""
    folder = tmp_path / "no-template"
    folder.mkdir()
    config = json.loads((convert.hf_cache_dir(SMOL_GGUF.gguf_sha256) / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast",
                                                             "unk_token": "[UNK]"}))
    (folder / "tokenizer.json").write_text(json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1}, "unk_token": "[UNK]"}}))
    with pytest.raises(convert.ConversionError, match="no chat template") as caught:
        convert.convert_model(folder, tmp_path / "out")
    assert caught.value.step == "save_hf" and "chat_template.jinja" in caught.value.fix


def test_invalid_precision_for_provider_lists_valid_pairs(lab_home):
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_model(convert.hf_cache_dir(SMOL_GGUF.gguf_sha256), lab_home / "out", "fp16", "cpu")
    assert caught.value.step == "target" and "int4/cpu" in caught.value.fix


def test_unknown_precision_and_too_little_disk(tmp_path):
    with pytest.raises(convert.ConversionError, match="unknown precision"):
        convert.convert_model(tmp_path, tmp_path / "out", "int3")
    with pytest.raises(convert.ConversionError, match="MB needed") as caught:
        convert._check_disk("inspect", [(tmp_path, 10**12)])
    assert "FOUNDRY_LAB_HOME" in caught.value.fix


@pytest.mark.cli
def test_convert_module_imports_with_the_standard_library_only():
    code = ("import sys; import helpers.build.convert; "
            "print(sorted(m for m in ('tqdm', 'torch', 'transformers', 'pydantic') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
