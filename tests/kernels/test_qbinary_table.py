"""The 8-bit pair tables of quantized ADD / SUB / MUL / SQUARED_DIFFERENCE.

``_qelementwise.pair_table_row`` (C, used at prepare) must give exactly the rows of
``_qbinary.reference_pair_table`` (the numpy reference arithmetic) for every op, type,
rounding and SIMD form, including the int16 narrowing of the SIMD forms and scales
that saturate. The oracle tests of test_elementwise_binary_quant.py then hold the
tables' users against ai-edge-litert.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import _qbinary
from edgelite.interpreter.kernels._qbinary_params import (
    ADD,
    MUL,
    SQUARED_DIFFERENCE,
    SUB,
    activation_bounds,
    additive_params,
    mul_params,
)
from edgelite.interpreter.kernels._qbroadcast import make_plan
from edgelite.interpreter.kernels.base import PrepareError

pytestmark = pytest.mark.skipif(
    _qbinary._qelementwise is None, reason="Cython extensions not built"
)

# (shape a, shape b): elementwise runs of 37 (a SIMD tail) and 32 (none), scalar-operand
# runs, and a broadcast that does not fold.
SHAPES = [((37,), (37,)), ((2, 32), (2, 32)), ((2, 3, 19), (2, 3, 1)), ((4, 1, 5), (1, 3, 1))]


def _data(rng, op, dtype, rounding, shapes):
    """A QBinaryData as prepare builds it, from random scales and zero points."""
    info = np.iinfo(dtype)
    scales = tuple(float(np.float32(s)) for s in 10.0 ** rng.uniform(-3, 0, 3))
    if rng.random() < 0.3:  # a tiny output scale: SIMD forms narrow with saturation/wrap
        scales = (scales[0], scales[1], scales[2] * 1e-3)
    zeros = tuple(int(z) for z in rng.integers(info.min, info.max + 1, 3))
    act = int(rng.integers(0, 4))
    act_min, act_max = activation_bounds(act, scales[2], zeros[2], np.dtype(dtype))
    if op == MUL:
        left_shift, inputs, output = 0, ((0, 0), (0, 0)), mul_params(scales, rounding)
    else:
        try:
            left_shift, inputs, output = additive_params(op, scales, False, rounding)
        except PrepareError:  # an output factor >= 1 (TFLite aborts): draw again
            return _data(rng, op, dtype, rounding, shapes)
    size = int(np.prod(np.broadcast_shapes(*shapes)))
    plan = make_plan(shapes[0], shapes[1], size)
    forms = _qbinary.simd_forms(op, np.dtype(dtype), plan, rounding)
    return _qbinary.QBinaryData(
        op, np.dtype(dtype), (-zeros[0], -zeros[1]), zeros[2], left_shift, inputs, output,
        max(act_min, info.min), min(act_max, info.max), rounding, None, plan, forms,
        _qbinary._wrapping_forms(op, np.dtype(dtype)),
    )  # fmt: skip


def _reference_row(data, form):
    values = np.arange(256, dtype=np.uint8).view(data.dtype).astype(np.int64)
    a, b = np.repeat(values, 256), np.tile(values, 256)
    return _qbinary._compute(a, b, data, form).astype(data.dtype).view(np.uint8)


OP_TYPES = [(op, t) for op in (ADD, SUB, MUL) for t in (np.int8, np.uint8)]
OP_TYPES.append((SQUARED_DIFFERENCE, np.int8))  # int8 only, as in TFLite


@pytest.mark.parametrize("rounding", ["tflite", "double", "single"])
@pytest.mark.parametrize(("op", "dtype"), OP_TYPES, ids=lambda v: getattr(v, "__name__", v))
def test_c_rows_equal_the_reference(op, dtype, rounding):
    rng = np.random.default_rng(hash((op, np.dtype(dtype).name, rounding)) % 2**32)
    for trial in range(6):
        data = _data(rng, op, dtype, rounding, SHAPES[trial % len(SHAPES)])
        for form in (0, 1, 2):  # every form, whether or not this plan's walk uses it
            row = np.empty(65536, np.uint8)
            _qbinary._qelementwise.pair_table_row(_qbinary._pair_params(data, form), row)
            np.testing.assert_array_equal(row, _reference_row(data, form), err_msg=str(form))


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("op", [ADD, MUL])
def test_pair_table_rows_the_walk_reads(op, shapes):
    rng = np.random.default_rng(len(shapes[0]) * 10 + len(op))
    data = _data(rng, op, np.int8, "tflite", shapes)
    table, reference = _qbinary.pair_table(data), _qbinary.reference_pair_table(data)
    assert table.shape == reference.shape and not table.flags.writeable
    last = table.shape[0] - 1
    np.testing.assert_array_equal(table[last], reference[last])
    if _qbinary._reads_scalar_row(data):
        np.testing.assert_array_equal(table[0], reference[0])
    else:  # a run of 32: whole SIMD blocks only, the scalar row is never looked up
        assert shapes == ((2, 32), (2, 32)) and not table[0].any()


def test_out_of_range_shift_keeps_the_reference_error():
    data = _data(np.random.default_rng(0), MUL, np.int8, "tflite", SHAPES[0])
    data.set_fields(output_multiplier=(1 << 30, 31))  # what a huge MUL output factor gives
    with pytest.raises(ValueError, match="shift"):
        _qbinary.pair_table(data)
