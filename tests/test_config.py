"""models.json / prompts.json validation: every error names the file, the entry and the field."""
from __future__ import annotations

import json

import pytest

from helpers.core import config
from helpers.core.devices import choose_device


def test_shipped_files_are_valid():
    models = config.load_models()
    assert set(models.defaults["offline"]) <= {k for k, m in models.models.items() if m.source == "bundled"}
    assert not models.models["gemma-3-270m-base-int4"].instruct
    prompts = config.load_prompts()
    assert prompts.default_set in prompts.sets and "meeting-notes" in prompts.sets


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_malformed_models_json_names_entry_and_field(tmp_path):
    data = json.loads(config.MODELS_FILE.read_text())
    data["models"]["qwen2.5-0.5b"]["size_mb"] = "big"
    del data["models"]["phi-4-mini"]["license"]
    with pytest.raises(config.ConfigError) as err:
        config.load_models(_write(tmp_path, "models.json", data))
    text = str(err.value)
    assert "models.json" in text
    assert "models.qwen2.5-0.5b.size_mb" in text
    assert "models.phi-4-mini.license" in text


def test_models_json_that_is_not_json_names_line(tmp_path):
    with pytest.raises(config.ConfigError, match=r"models.json: not valid JSON at line 2"):
        config.load_models(_write(tmp_path, "models.json", '{\n  "version": 1,,\n}'))


def test_default_naming_unknown_model_is_refused(tmp_path):
    data = json.loads(config.MODELS_FILE.read_text())
    data["defaults"]["offline"].append("ghost")
    with pytest.raises(config.ConfigError, match="ghost"):
        config.load_models(_write(tmp_path, "models.json", data))


def test_bad_prompt_id_is_named(tmp_path):
    data = json.loads(config.PROMPTS_FILE.read_text())
    data["sets"]["smoke"]["prompts"][0]["id"] = "Not Kebab"
    with pytest.raises(config.ConfigError, match=r"sets\.smoke\.prompts\.0\.id"):
        config.load_prompts(_write(tmp_path, "prompts.json", data))


def test_duplicate_prompt_ids_are_named(tmp_path):
    data = json.loads(config.PROMPTS_FILE.read_text())
    prompts = data["sets"]["smoke"]["prompts"]
    prompts.append(dict(prompts[1]))
    with pytest.raises(config.ConfigError, match=r"sets\.smoke: .*duplicate prompt ids \['two-plus-two'\]"):
        config.load_prompts(_write(tmp_path, "prompts.json", data))


def test_prompt_set_by_name_or_file(tmp_path):
    name, smoke = config.resolve_prompt_set("smoke")
    assert name == "smoke" and smoke.prompts[0].id == "hello"
    own = _write(tmp_path, "mine.json", {"description": "d", "prompts": [{"id": "a", "text": "hi"}]})
    name, mine = config.resolve_prompt_set(str(own))
    assert name == "mine" and mine.fingerprint() != smoke.fingerprint()
    with pytest.raises(config.ConfigError, match="no prompt set 'nope'"):
        config.resolve_prompt_set("nope")


def test_prompts_file_that_does_not_exist_is_named_as_a_file(tmp_path):
    """`--prompts missing.json` is a file the user meant, not a set name: say the file is missing, where."""
    for given, says in ((tmp_path / "missing.json", "no such file"), (tmp_path / "sub" / "x.JSON", "no such file"),
                        (tmp_path, "a folder, not a file")):
        with pytest.raises(config.ConfigError) as caught:
            config.resolve_prompt_set(str(given))
        message = str(caught.value)
        assert message.startswith(f"prompts file {given}: {says} ({given.resolve()})")
        assert "'smoke'" in message and "no prompt set" not in message


def test_prompts_file_in_prompts_json_format_uses_its_default_set(tmp_path):
    """A copy of prompts.json (BOM included, as Windows editors save it) given to --prompts: its default set."""
    whole = json.loads(config.PROMPTS_FILE.read_text(encoding="utf-8"))
    whole["default_set"] = "smoke"
    copy = tmp_path / "my-prompts.json"
    copy.write_text(json.dumps(whole), encoding="utf-8-sig")
    name, chosen = config.resolve_prompt_set(str(copy))
    assert name == "smoke" and chosen.fingerprint() == config.resolve_prompt_set("smoke")[1].fingerprint()
    whole["sets"]["smoke"]["prompts"] = []
    copy.write_text(json.dumps(whole), encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"(?s)my-prompts.json: 1 problem.*sets\.smoke\.prompts"):
        config.resolve_prompt_set(str(copy))


@pytest.mark.parametrize(
    ("requested", "gpu_eps", "variants", "device", "says"),
    [
        ("cpu", ["CUDAExecutionProvider"], [("gpu", "m-gpu"), ("cpu", "m-cpu")], "cpu", ""),
        ("auto", ["CUDAExecutionProvider"], [("gpu", "m-gpu"), ("cpu", "m-cpu")], "gpu", ""),
        ("auto", [], [("gpu", "m-gpu"), ("cpu", "m-cpu")], "cpu", ""),
        ("gpu", [], [("gpu", "m-gpu"), ("cpu", "m-cpu")], "cpu", "no GPU execution provider is available"),
        ("gpu", ["CUDAExecutionProvider"], [("cpu", "m-cpu")], "cpu", "no GPU variant"),
        ("gpu", ["CUDAExecutionProvider"], [("gpu", "m-gpu"), ("cpu", "m-cpu")], "gpu", ""),
    ],
)
def test_device_selection(requested, gpu_eps, variants, device, says):
    choice = choose_device(requested, gpu_eps, variants)
    assert choice.device == device
    assert choice.variant_id == f"m-{device}"
    assert (says in choice.message) if says else choice.message == ""


def test_gpu_for_bundled_model_with_gpu_provider_points_to_conversion():
    choice = choose_device("gpu", ["CUDAExecutionProvider"], [("cpu", "m:1")], bundled=True)
    assert choice.device == "cpu" and "byom --ep cuda" in choice.message


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device must be one of"):
        choose_device("tpu", [], [("cpu", "m")])
