"""Device selection (`cpu`, `gpu`, `auto`) and the message that explains it when a GPU is not usable."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GPU_EXECUTION_PROVIDERS = (
    "CUDAExecutionProvider",
    "NvTensorRTRTXExecutionProvider",
    "TensorrtExecutionProvider",
    "DmlExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "WebGpuExecutionProvider",
    "CoreMLExecutionProvider",
)
DEVICES = ("cpu", "gpu", "auto")


@dataclass(frozen=True)
class DeviceChoice:
    """The variant picked for a request, the device it runs on, and why (empty when as asked)."""

    variant_id: str
    device: str
    requested: str
    message: str = ""


def gpu_providers(manager: Any | None = None) -> list[str]:
    """GPU execution providers usable now: ONNX Runtime's own plus those Foundry Local has registered."""
    import onnxruntime

    found = set(onnxruntime.get_available_providers())
    if manager is not None:
        found |= {ep.name for ep in manager.discover_eps() if ep.is_registered}
    return sorted(p for p in found if p in GPU_EXECUTION_PROVIDERS)


def choose_device(
    requested: str, gpu_eps: list[str], variants: list[tuple[str, str]], *, bundled: bool = False
) -> DeviceChoice:
    """Pick a variant among `(device, variant_id)` pairs.

    `gpu` needs a GPU variant and a GPU execution provider; without them the CPU variant is used and the
    message says what is missing. `auto` prefers a GPU when both exist, silently.
    """
    requested = requested.lower()
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, not '{requested}'")
    by_device: dict[str, str] = {}
    for device, variant_id in variants:
        by_device.setdefault(device.lower(), variant_id)
    cpu = by_device.get("cpu") or variants[0][1]
    gpu = by_device.get("gpu")
    if requested == "cpu":
        return DeviceChoice(cpu, "cpu", requested)
    if gpu and gpu_eps:
        return DeviceChoice(gpu, "gpu", requested)
    if requested == "auto":
        return DeviceChoice(cpu, "cpu", requested)
    if not gpu_eps:
        why = (
            "no GPU execution provider is available (ONNX Runtime and Foundry Local list none). "
            "Foundry Local downloads GPU providers at run time (`download_and_register_eps()`): that needs "
            "internet and a supported GPU (NVIDIA for CUDA on Linux, DirectML on Windows)"
        )
    elif bundled:
        why = (
            f"bundled models are built for the CPU; convert one for your GPU ({', '.join(gpu_eps)}) "
            "with `python -m helpers byom --ep cuda`"
        )
    else:
        why = f"this model has no GPU variant in the catalog (variants: {', '.join(sorted(by_device))})"
    return DeviceChoice(cpu, "cpu", requested, f"GPU requested but {why}. Continuing on the CPU.")
