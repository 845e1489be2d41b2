"""``edgelite inspect``: everything a user deploying a model needs to know about it.

``inspect_model`` returns a plain dict (what ``--json`` prints); ``format_report``
renders it as readable text. Only the schema layer is used: no interpreter, no
TensorFlow.
"""

from __future__ import annotations

import enum
from collections import Counter
from typing import Any

import numpy as np

from .errors import ModelError
from .schema.dtypes import type_name
from .schema.flatdict import decode
from .schema.generated import conversion_layout
from .schema.generated.enums import BuiltinOperator, TensorType
from .schema.model import Model, Operator, Subgraph, Tensor
from .schema.options_base import option_fields

_INT_ACTIVATIONS = (TensorType.INT8, TensorType.UINT8, TensorType.INT16)


def inspect_model(model: Model, file_size: int | None = None) -> dict[str, Any]:
    """Summarize ``model`` as a JSON-ready dict."""
    return {
        "source": model.source,
        "file_bytes": file_size,
        "schema_version": model.version,
        "description": model.description,
        "subgraphs": [_subgraph(model, i, sg) for i, sg in enumerate(model.subgraphs)],
        "op_histogram": dict(_histogram(model, model.main)),
        "op_histogram_all_subgraphs": dict(
            sum((_histogram(model, sg) for sg in model.subgraphs), Counter())
        ),
        "signatures": [_signature(model, sig) for sig in model.signature_defs],
        "metadata": [_metadata(model, m.name, m.buffer) for m in model.metadata],
        "size": _sizes(model),
        "quantization": _quantization_summary(model),
        "sparse_tensors": _named(model, lambda t: t.sparsity is not None),
        "custom_ops": sorted(
            {
                c.custom_code or ""
                for c in model.operator_codes
                if c.builtin_code == BuiltinOperator.CUSTOM
            }
        ),
        "variables": _named(model, lambda t: t.is_variable),
        "resource_variable_ops": sum(
            _histogram(model, sg).get("VAR_HANDLE", 0) for sg in model.subgraphs
        ),
    }


def _histogram(model: Model, sg: Subgraph) -> Counter:
    return Counter(model.op_name(op) for op in sg.operators)


def tensor_summary(model: Model, sg: Subgraph, index: int) -> dict[str, Any]:
    t = sg.tensors[index]
    return {
        "index": index,
        "name": t.name,
        "shape": list(t.shape),
        "shape_signature": list(t.shape_signature)
        if t.shape_signature is not None
        else list(t.shape),
        "dtype": type_name(t.type),
        "quantization": _quant(t),
        "constant": t.buffer != 0 and model.buffers[t.buffer].nbytes > 0,
    }


def _quant(t: Tensor) -> dict[str, Any] | None:
    q = t.quantization
    if q is None or not len(q.scale):
        return None
    scales = q.scale.astype(float)
    if len(scales) == 1:
        return {
            "scale": float(scales[0]),
            "zero_point": int(q.zero_point[0]) if len(q.zero_point) else 0,
        }
    return {
        "per_channel": len(scales),
        "axis": q.quantized_dimension,
        "scale_range": [float(scales.min()), float(scales.max())],
    }


def _subgraph(model: Model, index: int, sg: Subgraph) -> dict[str, Any]:
    return {
        "index": index,
        "name": sg.name,
        "tensors": len(sg.tensors),
        "inputs": [tensor_summary(model, sg, i) for i in sg.inputs],
        "outputs": [tensor_summary(model, sg, i) for i in sg.outputs],
        "operators": [_operator(model, sg, i, op) for i, op in enumerate(sg.operators)],
    }


def _operator(model: Model, sg: Subgraph, index: int, op: Operator) -> dict[str, Any]:
    code = model.operator_codes[op.opcode_index]
    return {
        "index": index,
        "op": code.name,
        "version": code.version,
        "custom": code.builtin_code == BuiltinOperator.CUSTOM,
        "inputs": [[i, sg.tensors[i].name if i >= 0 else None] for i in op.inputs],
        "outputs": [[i, sg.tensors[i].name] for i in op.outputs if i >= 0],
        "options": describe_options(op.builtin_options) + describe_options(op.builtin_options_2),
    }


def describe_options(options: Any) -> str:
    """Compact, readable options: ``stride 2x2 SAME RELU6 dilation 2x2 keep_dims``."""
    if options is None:
        return ""
    defaults = option_fields(options)
    values = {name: getattr(options, name) for name in defaults}
    parts = []
    if "stride_w" in values:
        parts.append(f"stride {values.pop('stride_h')}x{values.pop('stride_w')}")
    if "filter_width" in values:
        parts.append(f"filter {values.pop('filter_height')}x{values.pop('filter_width')}")
    if "dilation_w_factor" in values:
        dh, dw = values.pop("dilation_h_factor"), values.pop("dilation_w_factor")
        if (dh, dw) != (1, 1):
            parts.append(f"dilation {dh}x{dw}")
    if "padding" in values:
        parts.append(values.pop("padding").name)
    act = values.pop("fused_activation_function", None)
    if act is not None and int(act) != 0:
        parts.append(act.name if isinstance(act, enum.Enum) else f"act{act}")
    for name, value in values.items():
        if name in defaults and value == defaults[name]:
            continue
        if isinstance(value, list) and not value:
            continue
        if value is True:
            parts.append(name)
        else:
            shown = value.name if isinstance(value, enum.Enum) else value
            parts.append(f"{name}={shown}")
    return " ".join(parts)


def _signature(model: Model, sig: Any) -> dict[str, Any]:
    sg = model.subgraphs[sig.subgraph_index]
    return {
        "key": sig.key,
        "subgraph": sig.subgraph_index,
        "inputs": {n: tensor_summary(model, sg, i) for n, i in sig.inputs.items()},
        "outputs": {n: tensor_summary(model, sg, i) for n, i in sig.outputs.items()},
    }


def _metadata(model: Model, name: str, buffer: int) -> dict[str, Any]:
    raw = model.metadata_bytes(name) or b""
    entry: dict[str, Any] = {"name": name, "buffer": buffer, "bytes": len(raw)}
    if name == "min_runtime_version":
        entry["value"] = raw.split(b"\0")[0].decode("ascii", "replace")
    elif name == "CONVERSION_METADATA":
        try:
            entry["value"] = decode(raw, conversion_layout, "CONVERSION_METADATA")
        except ModelError as err:
            entry["error"] = str(err)
    elif name == "TFLITE_METADATA":
        entry["value"] = _tflite_metadata_name(raw)
    return entry


def _tflite_metadata_name(raw: bytes) -> dict[str, Any]:
    """tflite-support metadata ('M001'): we show its identifier and the strings it holds."""
    ident = raw[4:8].decode("ascii", "replace") if len(raw) >= 8 else ""
    strings = [
        s.decode("utf-8", "replace")
        for s in raw.split(b"\0")
        if 4 <= len(s) <= 200 and s.isascii() and s.decode("ascii").isprintable()
    ]
    return {"identifier": ident, "strings": strings[:8]}


def _sizes(model: Model) -> dict[str, Any]:
    by_dtype: Counter = Counter()
    tensors = []
    for sg_index, sg in enumerate(model.subgraphs):
        for i, t in enumerate(sg.tensors):
            nbytes = model.buffers[t.buffer].nbytes if t.buffer < len(model.buffers) else 0
            if t.buffer and nbytes:
                by_dtype[type_name(t.type)] += nbytes
                tensors.append((nbytes, sg_index, i, t.name, type_name(t.type), list(t.shape)))
    tensors.sort(reverse=True)
    largest = [
        {"bytes": b, "subgraph": s, "index": i, "name": n, "dtype": d, "shape": sh}
        for b, s, i, n, d, sh in tensors[:10]
    ]
    return {
        "weights_bytes": sum(by_dtype.values()),
        "weights_by_dtype": dict(by_dtype.most_common()),
        "largest_tensors": largest,
    }


def _quantization_summary(model: Model) -> dict[str, Any]:
    """Classify as float / float16 weights / dynamic-range / full integer (and how)."""
    const_types: Counter = Counter()
    act_types: Counter = Counter()
    per_channel = per_tensor = 0
    for sg in model.subgraphs:
        for t in sg.tensors:
            is_const = t.buffer != 0 and model.buffers[t.buffer].nbytes > 0
            (const_types if is_const else act_types)[type_name(t.type)] += 1
            q = t.quantization
            if q is not None and len(q.scale) and is_const and t.type in _INT_ACTIVATIONS:
                if len(q.scale) > 1:
                    per_channel += 1
                else:
                    per_tensor += 1
    int_acts = sum(act_types[type_name(k)] for k in _INT_ACTIVATIONS)
    if int_acts and act_types["int16"]:
        kind = "full integer (16x8: int16 activations, int8 weights)"
    elif int_acts:
        kind = "full integer"
    elif const_types["int8"] or const_types["uint8"]:
        kind = "dynamic-range (int8 weights, float activations)"
    elif const_types["float16"]:
        kind = "float16 weights"
    else:
        kind = "float"
    return {
        "kind": kind,
        "weights_per_channel": per_channel,
        "weights_per_tensor": per_tensor,
        "constant_dtypes": dict(const_types),
        "activation_dtypes": dict(act_types),
    }


def _named(model: Model, keep: Any) -> list[dict[str, Any]]:
    return [
        {
            "subgraph": s,
            "index": i,
            "name": t.name,
            "shape": list(t.shape),
            "dtype": type_name(t.type),
        }
        for s, sg in enumerate(model.subgraphs)
        for i, t in enumerate(sg.tensors)
        if keep(t)
    ]


def json_default(value: Any) -> Any:
    """json.dumps fallback for numpy scalars."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
