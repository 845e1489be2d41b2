"""PAD folding: an explicit zero PAD before a VALID conv/pool becomes SAME padding,
when SAME would pad by exactly the same amounts (Keras' ZeroPadding2D + stride-2
conv in MobileNets is the common case).

For MAX_POOL_2D this is only exact when the padded input cannot be negative (SAME
max-pooling ignores the border; zeros can only win over negative values), so it is
done only after a RELU-family activation.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, Padding
from ...schema.model import Model, Operator, Subgraph
from .common import B, View, code_of, constant, is_dynamic

NON_NEGATIVE_OPS = frozenset({B.RELU, B.RELU6, B.RELU_0_TO_1, B.LOGISTIC})
NON_NEGATIVE_ACTS = frozenset({ActivationFunctionType.RELU, ActivationFunctionType.RELU6})
TARGETS = frozenset({B.CONV_2D, B.DEPTHWISE_CONV_2D, B.MAX_POOL_2D, B.AVERAGE_POOL_2D})


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _kernel(model: Model, sg: Subgraph, op: Operator) -> tuple[int, int] | None:
    code = code_of(model, op)
    options = op.builtin_options
    if code in (B.MAX_POOL_2D, B.AVERAGE_POOL_2D):
        return options.filter_height, options.filter_width
    filters = sg.tensors[op.inputs[1]].shape
    return (filters[1], filters[2]) if len(filters) == 4 else None


def _non_negative(model: Model, sg: Subgraph, view: View, tensor: int) -> bool:
    producer = view.producer.get(tensor)
    if producer is None:
        return False
    op = sg.operators[producer]
    act = getattr(op.builtin_options, "fused_activation_function", None)
    return code_of(model, op) in NON_NEGATIVE_OPS or act in NON_NEGATIVE_ACTS


def _foldable(model: Model, sg: Subgraph, view: View, pad: Operator, target: Operator) -> bool:
    code = code_of(model, target)
    options = target.builtin_options
    if code not in TARGETS or options.padding != Padding.VALID or code == B.AVERAGE_POOL_2D:
        return False  # AVERAGE_POOL's SAME divides by the valid count, unlike zero padding
    x = sg.tensors[pad.inputs[0]]
    pads = constant(model, sg, pad.inputs[1])
    kernel = _kernel(model, sg, target)
    spatial_unknown = is_dynamic(x) and -1 in (x.shape_signature or [])[1:3]
    if pads is None or kernel is None or len(x.shape) != 4 or spatial_unknown:
        return False
    pads = pads.reshape(4, 2)
    if pads[0].any() or pads[3].any():
        return False
    dilations = (getattr(options, "dilation_h_factor", 1), getattr(options, "dilation_w_factor", 1))
    strides = (options.stride_h, options.stride_w)
    for axis in range(2):
        want = _same_padding(x.shape[1 + axis], kernel[axis], strides[axis], dilations[axis])
        if tuple(int(p) for p in pads[1 + axis]) != want:
            return False
    return code != B.MAX_POOL_2D or _non_negative(model, sg, view, pad.inputs[0])


def fold_pads(model: Model, sg: Subgraph) -> int:
    """Fold PAD into the following conv/pool padding; returns how many were folded."""
    view = View.of(sg)
    folded: list[int] = []
    for op_index, op in enumerate(sg.operators):
        if code_of(model, op) not in (B.PAD, B.PADV2) or sg.tensors[op.outputs[0]].type != 0:
            continue
        if code_of(model, op) == B.PADV2:
            fill = constant(model, sg, op.inputs[2])
            if fill is None or np.any(fill != 0):
                continue
        user = view.only_user(op.outputs[0])
        if user is None or not _foldable(model, sg, view, op, sg.operators[user]):
            continue
        target = sg.operators[user]
        target.inputs[0] = op.inputs[0]
        target.builtin_options.padding = Padding.SAME
        folded.append(op_index)
    sg.remove_operators(folded)
    return len(folded)
