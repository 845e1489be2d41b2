"""ARG_MAX and ARG_MIN: index of the largest/smallest value along one axis.

Ties resolve to the first index, as in TFLite. The index type is the output
tensor's (int32 or int64; output_type in the options says the same). Selection
never does arithmetic, so int8/uint8 inputs are exact too.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import all_known, check_plain, normalize_axis, scalar_index
from .base import KernelSpec, Node, OpRecord, Prepared, check_dtype, check_inputs

_VALUE_DTYPES = (np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16, np.bool_)


class ArgData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("axis", "largest")
    axis: int
    largest: bool


def _make_prepare(largest: bool):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 2)
        x, axis_info, out = node.input(0), node.input(1), node.outputs[0]
        check_plain(x)
        check_dtype(x, _VALUE_DTYPES, "input")
        check_dtype(out, (np.int32, np.int64), "output")
        if not all_known(axis_info):
            return Prepared(dynamic=True)
        axis = normalize_axis(scalar_index(axis_info, "axis"), len(x.shape))
        shape = x.shape[:axis] + x.shape[axis + 1 :]
        return Prepared([shape], data=ArgData(axis, largest))

    return prepare


def _invoke(data: ArgData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    pick = np.argmax if data.largest else np.argmin
    if out.dtype == np.intp:
        pick(x, axis=data.axis, out=out)
    else:
        np.copyto(out, pick(x, axis=data.axis), casting="unsafe")


KERNELS = {
    BuiltinOperator.ARG_MAX: KernelSpec(_make_prepare(True), _invoke, versions=(1, 3)),
    BuiltinOperator.ARG_MIN: KernelSpec(_make_prepare(False), _invoke, versions=(1, 3)),
}
