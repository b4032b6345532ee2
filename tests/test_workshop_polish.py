"""What an attendee sees, item by item (issue 11's polish list): each test asserts the value the issue gives."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from helpers.bench.session import run_benchmark
from helpers.core import paths
from helpers.core.config import load_models
from helpers.evaluate import compare
from helpers.present import tables
from helpers.serve import runtime
from helpers.serve.errors import ModelNotFoundError

SMOL = "smollm2-135m-instruct-int4"


@pytest.fixture
def converted_copy(lab):
    """The bundled SmolLM2 int4 files (linked) registered like a model converted by `byom --license mit`."""
    source = lab.bundled[SMOL].path
    copy = paths.user_models_dir() / "smollm2-licensed-copy"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "kit_model.json":
            (copy / item.name).symlink_to(item)
    meta = json.loads((source / "kit_model.json").read_text()) | {"name": copy.name, "license": "mit",
                                                                   "display_name": "SmolLM2 copy (converted)"}
    (copy / "kit_model.json").write_text(json.dumps(meta))
    runtime.register(copy, lab)
    yield copy.name
    runtime.unregister(copy.name, lab)
    shutil.rmtree(copy)


def test_a_converted_model_shows_the_license_byom_was_given(lab, converted_copy):
    catalog = tables.list_catalog(lab)
    row = catalog[catalog["alias"] == converted_copy]
    assert row["license"].tolist() == ["mit"] and row["source"].tolist() == ["converted"]
    summary = pd.DataFrame({column: [None] for column in compare.COMPARISON_COLUMNS}).assign(model=[converted_copy])
    assert compare.comparison_table(summary, None, load_models()).loc[0, "license"] == "mit"


def test_the_error_for_an_unknown_model_names_converted_models_as_converted(lab, converted_copy):
    with pytest.raises(ModelNotFoundError) as error:
        runtime.get_model("no-such-model", runtime=lab)
    message = str(error.value)
    assert "converted: " in message and converted_copy in message.split("converted: ")[1] and "bundled: " in message
    assert "Bundled models:" not in message


def test_gpu_asked_on_a_machine_without_one_is_said_in_the_run(lab, tmp_path, capsys):
    run_benchmark(models=[SMOL], device="gpu", prompts="smoke", rounds=1, warmup=0, max_tokens=4,
                  out_dir=tmp_path / "run", progress=False)
    printed = capsys.readouterr().out
    assert f"{SMOL}: GPU requested but" in printed and "Continuing on the CPU" in printed
