"""Weight-only int4/int8 quantization of a float32 ONNX model a few nodes at a time: runs INSIDE the converter venv.

Imported by `_convert_worker.py`, never by the kit. The onnxruntime-genai builder quantizes by turning its whole
float32 graph into one in-memory protobuf and handing it to onnxruntime's `MatMulNBitsQuantizer`: for Qwen2.5
1.5B that is 12.9 GB resident next to the source weights. Here the builder first writes the float32 model to disk
(streamed, tensor by tensor), then the same `MatMulNBitsQuantizer`, with the same settings the builder uses
(`QUANT_DEFAULTS`, overridable by the builder's option names), quantizes `BATCH_NODES` nodes per pass; only those
nodes' weights are read from the external data file, and the model is re-parsed after each pass so protobuf
releases the float32 weights it just replaced (it frees memory only with the whole message). Measured on Qwen2.5
0.5B and 1.5B, with and without `op_types_to_quantize=MatMul/Gather`: `model.onnx.data` is byte-identical to the
builder's own int4 output, at a peak of 5.6 GB instead of 12.9 GB for the 1.5B.
"""
from __future__ import annotations

import gc
from pathlib import Path

import onnx
from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from onnxruntime.quantization.quant_utils import QuantFormat

MODEL_FILE = "model.onnx"
# The builder's defaults for the CPU execution provider (onnxruntime_genai/models/builders/base.py, quant_attrs).
QUANT_DEFAULTS = {"block_size": 32, "accuracy_level": 4, "is_symmetric": True, "op_types_to_quantize": ("MatMul",),
                  "nodes_to_exclude": ()}
OPTIONS = frozenset(QUANT_DEFAULTS)  # builder --extra_options this module honours
BATCH_NODES = 16


def quant_settings(options: dict[str, str]) -> dict:
    """QUANT_DEFAULTS updated with builder-style string options (`block_size=128`, `op_types_to_quantize=MatMul/Gather`)."""
    settings = dict(QUANT_DEFAULTS)
    for key, value in options.items():
        if key in ("block_size", "accuracy_level"):
            settings[key] = int(value)
        elif key == "is_symmetric":
            settings[key] = value.lower() in ("1", "true")
        elif key == "op_types_to_quantize":
            settings[key] = tuple(value.split("/"))
        elif key == "nodes_to_exclude":
            settings[key] = tuple(value.split(","))
    return settings


def _weight_name(node: onnx.NodeProto) -> str:
    return node.input[0] if node.op_type == "Gather" else node.input[1]


def _load_inline(tensor: onnx.TensorProto, folder: Path) -> None:
    """Read an initializer's bytes from the external data file into the message itself."""
    if uses_external_data(tensor):
        load_external_data_for_tensor(tensor, str(folder))
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def quantize_folder(source: Path, target: Path, bits: int, options: dict[str, str]) -> int:
    """Write `target/model.onnx(+.data)`: `source`'s float32 model with MatMul (and, if asked, Gather) weights in
    `bits`-bit blocks, exactly as the builder would. Returns the number of nodes quantized."""
    settings = quant_settings(options)
    model = onnx.load(str(source / MODEL_FILE), load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    targets = [node.name for node in model.graph.node
               if node.op_type in settings["op_types_to_quantize"] and node.name not in settings["nodes_to_exclude"]
               and _weight_name(node) in initializers]
    for start in range(0, len(targets), BATCH_NODES):
        batch = set(targets[start:start + BATCH_NODES])
        weights = {_weight_name(node) for node in model.graph.node if node.name in batch}
        for tensor in model.graph.initializer:
            if tensor.name in weights:
                _load_inline(tensor, source)
        quantizer = MatMulNBitsQuantizer(
            model, bits=bits, block_size=settings["block_size"], is_symmetric=settings["is_symmetric"],
            accuracy_level=settings["accuracy_level"], quant_format=QuantFormat.QOperator,
            op_types_to_quantize=settings["op_types_to_quantize"],
            nodes_to_exclude=[*settings["nodes_to_exclude"], *(name for name in targets if name not in batch)],
        )
        quantizer.process()
        model = onnx.ModelProto.FromString(quantizer.model.model.SerializeToString())
        del quantizer
        gc.collect()
    for tensor in model.graph.initializer:
        _load_inline(tensor, source)
    target.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(target / MODEL_FILE), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=MODEL_FILE + ".data", size_threshold=0)
    return len(targets)
