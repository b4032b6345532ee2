"""Case 8 of issue #17: a model's memory measured in a fresh process, not in this one (which carries leftovers)."""
from __future__ import annotations

import pytest

from helpers.bench.memory_probe import MemoryProbeError, probe_model_memory

SMOLLM2 = "smollm2-135m-instruct-int4"


@pytest.mark.model
def test_the_probe_measures_the_model_alone() -> None:
    probe = probe_model_memory(SMOLLM2)
    assert probe.ok and probe.model == SMOLLM2
    assert 0 < probe.baseline_mb < probe.peak_mb and probe.model_mb == pytest.approx(probe.peak_mb - probe.baseline_mb)


@pytest.mark.cli
def test_a_model_the_probe_cannot_load_is_named() -> None:
    with pytest.raises(MemoryProbeError, match="memory probe of no-such-model-xyz failed"):
        probe_model_memory("no-such-model-xyz")
