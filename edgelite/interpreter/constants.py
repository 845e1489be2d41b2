"""Constant tensors as kernels see them, and the load-time folds.

Constants stay zero-copy, read-only views of the model's buffers (of the mapped
file when the model came from a path). Two encodings are decoded once here,
so no kernel has to: TFLite strings become numpy object arrays of ``bytes``,
and INT4 (two values per byte) becomes int8.

Folds: a DEQUANTIZE whose input is a constant (float16 or int8 weights) and a
DENSIFY whose input is a sparse constant run once, at the first
``allocate_tensors``, with their own kernels; their output becomes a constant
and the node leaves the execution plan. TFLite computes these once too (into
its persistent arena); folding them keeps them out of every invoke.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

import numpy as np

from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model, Tensor

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime

FOLDABLE = (BuiltinOperator.DEQUANTIZE, BuiltinOperator.DENSIFY)
# Types whose buffers are encoded (not one fixed-size value per element).
_ENCODED = (TensorType.STRING, TensorType.INT4)


def decode_strings(raw: np.ndarray, shape: list[int]) -> np.ndarray:
    """TFLite string buffer (count, offsets[count + 1], bytes) -> object array of bytes."""
    data = raw.tobytes()
    if len(data) < 4:
        raise ValueError("string buffer shorter than its 4-byte count")
    (count,) = struct.unpack_from("<i", data, 0)
    if count < 0 or 4 * (count + 2) > len(data):
        raise ValueError(f"string buffer claims {count} strings but has {len(data)} bytes")
    offsets = struct.unpack_from(f"<{count + 1}i", data, 4)
    values = np.empty(count, dtype=object)
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if not 0 <= start <= end <= len(data):
            raise ValueError(f"string {i} spans bytes {start}..{end} of {len(data)}")
        values[i] = data[start:end]
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    return values.reshape(shape) if size == count else values


def unpack_int4(raw: np.ndarray, shape: list[int]) -> np.ndarray:
    """Packed INT4 (element 2k in the low nibble, 2k+1 in the high one) -> int8 values."""
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    packed = raw.view(np.uint8)
    low = (packed & 0x0F).astype(np.int8)
    high = (packed >> 4).astype(np.int8)
    values = np.empty(2 * packed.size, np.int8)
    values[0::2], values[1::2] = low, high
    # Sign-extend the 4-bit two's complement values.
    values = np.where(values > 7, values - 16, values).astype(np.int8)
    return values[:size].reshape(shape) if values.size >= size else values


def constant_value(model: Model, tensor: Tensor) -> np.ndarray | None:
    """The read-only value a kernel sees for a constant tensor (None: not a constant)."""
    if tensor.is_variable:
        return None  # a variable's buffer is its initial value, not a constant
    plain = tensor.sparsity is None and tensor.type not in _ENCODED
    # Plain constants (almost all of them) are typed here as Model.constant does it, with
    # math.prod instead of its np.prod (~3/4 of the time a MobileNetV2 load spent here).
    raw = _plain_constant(model, tensor) if plain else model.constant(tensor)
    if raw is None:
        return None
    if plain:
        value = raw
    elif tensor.sparsity is None and tensor.type == TensorType.STRING:
        value = decode_strings(raw, tensor.shape)
    elif tensor.sparsity is None and tensor.type == TensorType.INT4:
        value = unpack_int4(raw, tensor.shape)
    elif tensor.sparsity is not None and raw.nbytes % tensor.dtype.itemsize == 0:
        value = raw.reshape(-1).view(tensor.dtype)  # the stored (non-zero) values, typed
    else:
        value = raw.view()
    value.flags.writeable = False
    return value


def _plain_constant(model: Model, tensor: Tensor) -> np.ndarray | None:
    """``model.constant(tensor)`` for a dense tensor of a fixed-size type: a new view."""
    if tensor.buffer == 0 or tensor.buffer >= len(model.buffers):
        return None
    data = model.buffers[tensor.buffer].data
    if data is None or data.nbytes == 0:
        return None
    values = data.view(tensor.dtype)
    return values.reshape(tensor.shape) if values.size == math.prod(tensor.shape) else values


def load_constants(model: Model, sg_index: int) -> dict[int, np.ndarray]:
    """Every constant tensor of one subgraph, by tensor index."""
    out = {}
    for index, tensor in enumerate(model.subgraphs[sg_index].tensors):
        if tensor.buffer == 0:
            continue  # no data: the common case of activations, decided without a call
        value = constant_value(model, tensor)
        if value is not None:
            out[index] = value
    return out


def fold_constant_nodes(rt: SubgraphRuntime) -> set[int]:
    """Run foldable nodes whose input is constant; their outputs join ``rt.constants``.

    Returns the folded node indices (left out of every execution plan).
    """
    from .prepare import build_node, wrap_prepare_error

    folded: set[int] = set()
    sg = rt.model.subgraphs[rt.index]
    for node_index, op in enumerate(sg.operators):
        resolved = rt.ops[node_index]
        if resolved.builtin_code not in FOLDABLE or resolved.spec is None:
            continue
        if not op.inputs or op.inputs[0] not in rt.constants or len(op.outputs) != 1:
            continue
        source = sg.tensors[op.inputs[0]]
        if resolved.builtin_code == BuiltinOperator.DENSIFY and source.sparsity is None:
            continue
        shapes = {t: rt.constant_shape(t) for t in op.inputs if t in rt.constants}
        node = build_node(rt, node_index, shapes, with_values=True)
        try:
            prepared = resolved.spec.prepare(node)
            if prepared.dynamic:
                continue
            out_tensor = sg.tensors[op.outputs[0]]
            out = np.empty(prepared.output_shapes[0], out_tensor.dtype)
            # The reference kernel: folding runs once, speed does not matter.
            resolved.spec.invoke(prepared.data, [rt.constants[op.inputs[0]]], [out])
        except Exception as exc:
            raise wrap_prepare_error(rt, node_index, exc) from exc
        out.flags.writeable = False
        rt.constants[op.outputs[0]] = out
        folded.add(node_index)
    return folded
