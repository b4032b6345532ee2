"""The kit against the Foundry Local app's service, emulated on loopback (tests/app_service_emulator.py)."""
from __future__ import annotations

import json
import urllib.request

import pytest

from helpers.serve import app_service

SMOL = "smollm2-135m-instruct-int4"


def _requests(url: str) -> list[dict]:
    """Every request the emulator received, oldest first."""
    with urllib.request.urlopen(f"{url}/emulator/requests", timeout=10) as reply:
        return json.load(reply)


def _loads(url: str) -> list[dict]:
    """The load requests the emulator received, oldest first."""
    return [r for r in _requests(url) if r["path"].startswith("/openai/load/")]


def test_recognises_the_app_service_and_not_the_built_in_web_service(app_service_url, served_smol):
    assert app_service.is_app_service(app_service_url)
    assert not app_service.is_app_service(served_smol[0])


def test_catalog_lists_every_variant_with_the_columns_of_the_in_process_catalog(app_service_url):
    table = app_service.catalog_table(app_service_url)
    smol = table[table.alias == SMOL]
    assert set(smol.device) == {"cpu", "gpu"}
    assert set(smol.execution_provider) == {"CPUExecutionProvider", "CUDAExecutionProvider"}
    phi = table[table.alias == "phi-4-mini"].iloc[0]
    assert (phi.id, phi.license, phi.size_mb, phi.source) == ("Phi-4-mini-instruct-generic-cpu:1", "MIT", 4915, "service")
    assert list(table.columns)[:3] == ["alias", "id", "device"]


def test_download_shows_a_bar_to_100_percent_and_caches(app_service_url, capsys):
    model = app_service.download(app_service_url, "phi-4-mini")
    assert model.id == "Phi-4-mini-instruct-generic-cpu:1"
    bar = capsys.readouterr().err
    assert "download Phi-4-mini-instruct-generic-cpu:1" in bar and "100/100%" in bar
    assert next(m for m in app_service.models(app_service_url) if m.alias == "phi-4-mini").cached
    app_service.download(app_service_url, "phi-4-mini")
    assert "already in the service's cache" in capsys.readouterr().out


def test_unknown_model_names_the_service_and_its_aliases(app_service_url):
    with pytest.raises(app_service.ServiceError, match=r"'no-such-model' is not in the catalog .* lists: phi-4-mini, smollm2"):
        app_service.download(app_service_url, "no-such-model")


def test_load_and_unload_are_timed_and_the_device_maps_to_ep(app_service_url):
    model, seconds, choice = app_service.load(app_service_url, SMOL, "cpu")
    assert (model.id, choice.device, choice.message) == (f"{SMOL}-generic-cpu:1", "cpu", "")
    assert seconds > 0 and model.id in app_service.loaded(app_service_url)
    assert _loads(app_service_url)[-1]["query"]["ep"] == "cpu"
    assert app_service.unload(app_service_url, model.id) > 0
    assert model.id not in app_service.loaded(app_service_url)

    model, _, choice = app_service.load(app_service_url, SMOL, "gpu")
    gpu_try, cpu_load = _loads(app_service_url)[-2:]
    assert gpu_try["path"].endswith(f"{SMOL}-cuda-gpu:1") and gpu_try["query"]["ep"] == "cuda"
    assert cpu_load["query"]["ep"] == "cpu" and model.device == "cpu"
    assert "GPU requested but the service could not load" in choice.message and "Continuing on the CPU" in choice.message
    app_service.unload(app_service_url, model.id)


def test_token_count(app_service_url):
    assert app_service.count_tokens(app_service_url, SMOL, [{"role": "user", "content": "one two three"}]) > 3


@pytest.mark.parametrize("line, percent", [('("model.onnx.data", 0.5)', 50.0), ('("", 1)', 100.0),
                                           ("Total 45.23% Downloading model.onnx", 45.23), ("starting", None)])
def test_download_progress_lines(line, percent):
    assert app_service._progress_percent(line) == percent


def test_preflight_looks_the_model_up_at_the_service_and_maps_the_device(app_service_url, monkeypatch):
    from helpers.serve import endpoints
    from helpers.workshop import preflight

    monkeypatch.setenv(endpoints.ENDPOINT_ENV, app_service_url + "/v1")
    app_service.download(app_service_url, "phi-4-mini", progress=False)
    checks = preflight.run(["phi-4-mini"], device="gpu")
    failed = [c for c in checks if not c.ok]
    assert not failed, failed
    by_check = {c.check: c for c in checks if c.target == "phi-4-mini"}
    assert "at the service" in by_check["model found"].detail
    assert "GPU requested but the service could not load" in by_check["load at the service"].detail
    assert [load["query"]["ep"] for load in _loads(app_service_url)[-2:]] == ["cuda", "cpu"]
    assert by_check["answers over HTTP"].ok and "answers in-process" not in by_check


def test_preflight_says_to_download_a_model_the_service_has_not_cached(app_service_url, monkeypatch):
    from helpers.serve import endpoints
    from helpers.workshop import preflight

    monkeypatch.setenv(endpoints.ENDPOINT_ENV, app_service_url)
    missing = next(m for m in app_service.models(app_service_url) if not m.cached)
    checks = preflight.run([missing.id], http=False)
    downloaded = next(c for c in checks if c.check == "downloaded")
    assert not downloaded.ok and f"foundry-lab model download {missing.id}" in downloaded.fix


def test_every_request_to_the_service_carries_the_api_key_when_one_is_set(app_service_url, monkeypatch):
    monkeypatch.setenv("FOUNDRY_LOCAL_API_KEY", "secret-for-the-test")
    before = len(_requests(app_service_url))
    app_service.catalog_table(app_service_url)
    app_service.count_tokens(app_service_url, SMOL, [{"role": "user", "content": "hi"}])
    sent = _requests(app_service_url)[before:-1]  # the last one is this test's own look at the log
    assert sent and all(request["authorized"] for request in sent)
