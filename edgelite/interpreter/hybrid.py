"""Hybrid (dynamic-range) models, fast mode: dequantize int8 weights once at load.

A dynamic-range model keeps float activations and stores the weights of FULLY_CONNECTED,
CONV_2D, DEPTHWISE_CONV_2D, BATCH_MATMUL, the sequence ops, SVDF and EMBEDDING_LOOKUP as
int8 (or uint8) with a scale per tensor or per channel. The official runtime then
quantizes activations on the fly for every invoke, which is slower than its float path
and loses precision. The fast mode instead computes ``scale * (q - zero_point)`` once,
when the model is loaded, and hands the float kernels float32 weights: the model runs
at float speed and its outputs are at least as close to the original float model as the
official hybrid arithmetic (the only rounding is the weights' own quantization).

A weight is dequantized when it is an int8/uint8 constant with quantization parameters
and every operator reading it has float32 outputs (a true full-integer op never does).
``Interpreter(hybrid="exact")`` skips this step: the kernels then see the int8 weights
and reproduce the official hybrid arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..schema.generated.enums import TensorType
from .planner import ALIGNMENT, align

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime

_WEIGHT_TYPES = (TensorType.INT8, TensorType.UINT8)


def dequantize(
    values: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray,
    axis: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``scale * (q - zero_point)`` in float32, per tensor or along ``axis``.

    Written by the ufuncs themselves (int8 -> float32 is exact, so converting inside the
    ufunc rounds like converting first), into ``out`` when given (float32, the shape of
    ``values``, or (1,) for a scalar): no temporaries.
    """
    if values.ndim == 0:
        values = values.reshape(1)  # what broadcasting against the (1,) scale gives
    if len(scale) > 1:
        shape = [1] * values.ndim
        shape[axis] = len(scale)
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    scale = scale.astype(np.float32)
    if len(zero_point) and np.any(zero_point):  # (q - 0 is q: symmetric weights skip it)
        q = np.subtract(values, zero_point.astype(np.float32), out=out, dtype=np.float32)
        return np.multiply(q, scale, out=q)
    return np.multiply(values, scale, out=out, dtype=np.float32)


def dequantize_hybrid_weights(rt: SubgraphRuntime, skip: set[int]) -> set[int]:
    """Replace hybrid ops' int8 weights in ``rt.constants`` by float32; returns their indices.

    ``skip`` holds folded nodes (they no longer read their inputs at run time). The
    float weights share one block of memory: megabytes of fresh memory fault in page by
    page, ~0.6 ms per MiB here, while one block of 4 MiB or more gets huge pages from
    numpy (a dynamic-range MobileNetV2 loads ~10 ms faster).
    """
    sg = rt.sg
    readers: dict[int, list[int]] = {}
    for node_index, op in enumerate(sg.operators):
        if node_index in skip:
            continue
        for t in set(op.inputs):
            if t in rt.constants:
                readers.setdefault(t, []).append(node_index)
    chosen = []
    for t, nodes in readers.items():
        tensor = sg.tensors[t]
        q = tensor.quantization
        if tensor.type not in _WEIGHT_TYPES or q is None or not len(q.scale):
            continue
        if all(_float_outputs(rt, n) for n in nodes):
            chosen.append(t)
    block = _float_block([rt.constants[t].size for t in chosen])
    for t, out in zip(chosen, block):
        q = sg.tensors[t].quantization
        assert q is not None
        values = rt.constants[t]
        out = out.reshape(values.shape if values.ndim else (1,))
        value = dequantize(values, q.scale, q.zero_point, q.quantized_dimension, out=out)
        value.flags.writeable = False
        rt.constants[t] = value
    return set(chosen)


def _float_block(sizes: list[int]) -> list[np.ndarray]:
    """Flat float32 arrays of ``sizes`` elements, 64-byte aligned views of one block."""
    spans = [align(4 * size) for size in sizes]
    block = np.empty(sum(spans) + ALIGNMENT, np.uint8)
    offset = -block.ctypes.data % ALIGNMENT
    arrays = []
    for size, span in zip(sizes, spans):
        arrays.append(block[offset : offset + 4 * size].view(np.float32))
        offset += span
    return arrays


def _float_outputs(rt: SubgraphRuntime, node_index: int) -> bool:
    outputs = [t for t in rt.sg.operators[node_index].outputs if t >= 0]
    return bool(outputs) and all(rt.sg.tensors[t].type == TensorType.FLOAT32 for t in outputs)
