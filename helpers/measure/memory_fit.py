"""Will a model fit in memory? Expected memory of a model before it is loaded, against the RAM available now.

Expected memory = weights + KV cache + runtime overhead, in MB (10^6 bytes):

- weights: the size of the ONNX model files on disk (`*.onnx`, `*.onnx.data`): ONNX Runtime keeps initializers in
  memory as stored (int4 blocks stay int4); for a catalog model not yet downloaded, the catalog's file size.
- KV cache: `layers x kv heads x head size x 2 (K and V) x bytes per value x context`, from the folder's
  `genai_config.json` (`model.decoder.num_hidden_layers`, `num_key_value_heads`, `head_size`) at its
  `search.max_length`: Foundry Local's in-process session allocates the cache for the whole configured context
  (design notes, "Inference in-process"). Bytes per value: 4 (float32 I/O, what the builder makes for the CPU)
  unless the model declares a GPU provider (2, float16).
- runtime overhead: RUNTIME_OVERHEAD_MB for ONNX Runtime's arenas, tokenizer and buffers, measured as process RSS
  minus the two terms above on the bundled models (ladder-findings.md).

Available RAM is psutil's `virtual_memory().available`: what new allocations can get without swapping.
`require_fit` raises ModelTooLargeError with both figures and the name of a smaller model that fits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RUNTIME_OVERHEAD_MB = 300.0
WEIGHT_SUFFIXES = (".onnx", ".onnx.data", ".data")
GPU_PROVIDERS = frozenset({"cuda", "dml", "webgpu", "nvtensorrtrtx", "trt-rtx", "qnn", "openvino"})


class ModelTooLargeError(MemoryError):
    """The model's expected memory exceeds the RAM available now; the message names both figures."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Expected resident memory of a loaded model, in MB (10^6 bytes); `kv_cache_mb` is None when unknown."""

    weights_mb: float
    kv_cache_mb: float | None
    context_length: int | None
    overhead_mb: float = RUNTIME_OVERHEAD_MB

    @property
    def total_mb(self) -> float:
        return self.weights_mb + (self.kv_cache_mb or 0.0) + self.overhead_mb

    def describe(self) -> str:
        kv = ("KV cache unknown" if self.kv_cache_mb is None else
              f"KV cache {self.kv_cache_mb:,.0f} MB at context {self.context_length:,}")
        return f"{self.total_mb:,.0f} MB (weights {self.weights_mb:,.0f} MB, {kv}, runtime {self.overhead_mb:,.0f} MB)"


def kv_cache_mb(genai_config: dict, context_length: int | None = None) -> float:
    """KV cache size in MB for a genai_config.json at `context_length` (default: its `search.max_length`).

    Raises KeyError naming a missing field."""
    decoder = genai_config["model"]["decoder"]
    context = context_length or genai_config["search"]["max_length"]
    providers = {name.lower() for options in decoder.get("session_options", {}).get("provider_options", [])
                 for name in options}
    bytes_per_value = 2 if providers & GPU_PROVIDERS else 4
    values = decoder["num_hidden_layers"] * decoder["num_key_value_heads"] * decoder["head_size"] * 2 * context
    return values * bytes_per_value / 1e6


def weights_mb(folder: Path) -> float:
    """Size of the ONNX model files in `folder`, MB."""
    return sum(p.stat().st_size for p in Path(folder).iterdir()
               if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)) / 1e6


def estimate_folder(folder: Path) -> MemoryEstimate:
    """Expected memory of a built ONNX Runtime GenAI folder at its configured context length."""
    folder = Path(folder)
    config = json.loads((folder / "genai_config.json").read_text(encoding="utf-8-sig"))  # BOM accepted
    try:
        kv, context = kv_cache_mb(config), config["search"]["max_length"]
    except KeyError:
        kv, context = None, None
    return MemoryEstimate(weights_mb=weights_mb(folder), kv_cache_mb=kv, context_length=context)


def estimate_download(file_size_mb: float, context_length: int | None = None) -> MemoryEstimate:
    """Expected memory of a catalog model not downloaded yet: its file size; the KV cache is unknown."""
    return MemoryEstimate(weights_mb=float(file_size_mb), kv_cache_mb=None, context_length=context_length)


def available_mb() -> float:
    """RAM available to new allocations now (psutil `virtual_memory().available`), MB."""
    import psutil

    return psutil.virtual_memory().available / 1e6


def require_fit(name: str, estimate: MemoryEstimate, *, available: float | None = None,
                smaller: str | None = None) -> None:
    """Raise ModelTooLargeError when `estimate` exceeds the available RAM (measured now unless given)."""
    free = available_mb() if available is None else available
    if estimate.total_mb <= free:
        return
    advice = (f"Try the smaller {smaller}, " if smaller else "Try a smaller model or a lower-bit variant, ")
    raise ModelTooLargeError(
        f"{name} will not fit in memory: it needs about {estimate.describe()}, and {free:,.0f} MB is available now. "
        f"{advice}close other programs (notebook kernels, browsers), or lower the context length "
        "(search.max_length in its genai_config.json).")
