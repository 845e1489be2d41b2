"""rounding="reference": single-op models where the official reference kernels (BUILTIN_REF)
compute other integers than its optimized builtin kernels, against BUILTIN_REF.

Each case runs edgelite's numpy and optimized kernels with ``Node.rounding="reference"``
and requires ai-edge-litert BUILTIN_REF's output exactly; ``differs`` cases also check
that the builtin (optimized) kernels' integers are different there, so the case really
tells the two apart. Whole models: tests/models/test_reference_rounding.py.

Not reproducible, hence not here: BUILTIN_REF's quantized SUM (ai-edge-litert 2.3.0 returns
values that depend on its scratch memory, e.g. -1 for the int8 sum of [5, -3, 0]) and its
int16 FULLY_CONNECTED with an int32 bias but no ``quantized_bias_type`` (it reads the bias
as int64). edgelite computes the reference formulas there.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels import fixedpoint as fp
from edgelite.interpreter.kernels._qbinary_params import mul_params
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import (
    AddOptions,
    MulOptions,
    ReducerOptions,
    ResizeBilinearOptions,
    SoftmaxOptions,
)
from tests.kernels._qconv_helpers import Spec, build, q, run_with_rounding
from tests.kernels.test_fully_connected_quant import CASES as FC_CASES
from tests.kernels.test_fully_connected_quant import _model as fc_model
from tests.oracle import assert_matches, run_litert

pytestmark = pytest.mark.oracle


def _check(model: bytes, feed: list[np.ndarray], differs: bool = True) -> None:
    want = run_litert(model, feed, reference_kernels=True)[0]
    for optimized in (False, True):
        got = run_with_rounding(model, feed, "reference", optimized)
        assert_matches(got, want, "optimized" if optimized else "reference kernel")
    if differs:
        builtin = run_litert(model, feed)[0]
        assert not np.array_equal(builtin, want), "BUILTIN and BUILTIN_REF agree here"


FC_REFERENCE_CASES = [
    "int8",
    "int8_one_row",  # the optimized int8 matrix-vector path
    "int8_per_channel",
    "int8_weight_zero_point",
    "uint8",
    "int16_int64_bias",  # the builtin kernel is the reference one here
    "int16_int32_bias_option",
    "int16_per_channel_int32",
]


@pytest.mark.parametrize("case", FC_REFERENCE_CASES)
def test_fully_connected_rescales_by_the_real_multiplier(case):
    dtype = np.int16 if case.startswith("int16") else np.uint8 if case == "uint8" else np.int8
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    model, feed = fc_model(rng, dtype, **FC_CASES[case])
    _check(model, feed, differs=case not in ("int16_int64_bias", "int8_one_row"))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_quantize_divides_in_float32_everywhere(dtype):
    # Exact halves of the scale: the optimized blocks of 8 round them to even.
    scale = 0.25
    x = ((np.arange(-60, 61) + 0.5) * scale).astype(np.float32)
    zero = 0 if dtype == np.int16 else 3 + (128 if dtype == np.uint8 else 0)
    model, feed = build(Op.QUANTIZE, [Spec(x)], x.shape, dtype, q(scale, zero), None, 1)
    _check(model, feed)


SOFTMAX_OUTPUTS = [
    (np.int8, 11, np.int8, 1 / 256, -128),
    (np.int8, -40, np.int16, 1 / 65536, -32768),
    (np.uint8, 140, np.uint8, 1 / 256, 0),
    (np.uint8, 100, np.int16, 1 / 32768, 0),  # the reference kernel adds -32768 anyway
]


@pytest.mark.parametrize("types", SOFTMAX_OUTPUTS, ids=lambda t: f"{t[0].__name__}-{t[2].__name__}")
@pytest.mark.parametrize("beta", [1.0, 0.37])
def test_softmax_8bit_is_fixed_point(types, beta):
    in_type, zero, out_type, out_scale, out_zero = types
    rng = np.random.default_rng(int(beta * 100))
    info = np.iinfo(in_type)
    x = rng.integers(info.min, info.max, (24, 33), endpoint=True).astype(in_type)
    x[0, :3] = info.max  # a repeated row maximum
    options = SoftmaxOptions(beta=beta)
    model, feed = build(Op.SOFTMAX, [Spec(x, q(0.1, zero))], x.shape, out_type,
                        q(out_scale, out_zero), options, 2)  # fmt: skip
    # int8 -> int8 and uint8 -> uint8 agree with the table kernel on these rows.
    _check(model, feed, differs=out_type == np.int16)


def _reduce(op, x, axes, q_in, q_out, keep=False):
    operands = [Spec(x, q_in), Spec(np.array(axes, np.int32), const=True)]
    return build(op, operands, _reduced_shape(x.shape, axes, keep), x.dtype, q_out,
                 ReducerOptions(keep_dims=keep), 2)  # fmt: skip


def _reduced_shape(shape, axes, keep):
    axes = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_mean_never_takes_the_mean4d_kernel(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (1, 7, 7, 40), endpoint=True).astype(dtype)
    zero = -128 if dtype == np.int8 else 0
    model, feed = _reduce(Op.MEAN, x, [1, 2], quant(0.0235, zero), quant(0.0117, zero), True)
    _check(model, feed)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("axes", [[], [2, 0], [0, 2]])
def test_reduce_prod_in_row_major_order(dtype, axes):
    rng = np.random.default_rng(len(axes))
    x = rng.integers(-40, 40, (3, 4, 2), endpoint=True).astype(dtype)
    zeros = (0, 0) if dtype == np.int16 else (3, -2)
    model, feed = _reduce(Op.REDUCE_PROD, x, axes, quant(0.17, zeros[0]), quant(0.3, zeros[1]))
    _check(model, feed, differs=not axes)


@pytest.mark.parametrize(("op", "scale"), [(Op.LOGISTIC, 2**-12), (Op.TANH, 2**-12),
                                           (Op.TANH, 2**-11)])  # fmt: skip
def test_int16_logistic_tanh_use_the_table_at_power_of_two_scales(op, scale):
    x = np.arange(-32768, 32768, 7).astype(np.int16)
    model, feed = build(op, [Spec(x, q(scale, 0))], x.shape, np.int16, q(2**-15, 0), None, 3)
    _check(model, feed)


def test_resize_bilinear_uint8_is_the_float_formula():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (2, 5, 7, 3)).astype(np.uint8)
    for size, align, half in [((9, 13), False, False), ((11, 6), False, True),
                              ((8, 8), True, False)]:  # fmt: skip
        operands = [Spec(x, q(0.1, 7)), Spec(np.array(size, np.int32), const=True)]
        options = ResizeBilinearOptions(align_corners=align, half_pixel_centers=half)
        model, feed = build(Op.RESIZE_BILINEAR, operands, (2, *size, 3), np.uint8,
                            q(0.1, 7), options, 2)  # fmt: skip
        _check(model, feed, differs=False)


def test_add_int8_uses_double_rounding():
    # The builtin kernel rescales its inputs with the AVX2 "floor_up" form, the reference
    # kernel with "double": all 65536 input pairs at tie-heavy scales tell them apart.
    grid = np.stack(np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)), -1).reshape(-1, 2)
    a, b = grid[:, 0].astype(np.int8), grid[:, 1].astype(np.int8)
    operands = [Spec(a, q(0.037, 3)), Spec(b, q(0.041, -2))]
    model, feed = build(Op.ADD, operands, a.shape, np.int8, q(0.3, 1), AddOptions(), 2)
    _check(model, feed)


@pytest.mark.parametrize("broadcast", [False, True])
def test_mul_int16_multiplier_is_a_float32_quotient(broadcast):
    # mul.cc's Prepare divides s1 * s2 by so in float32; a double quotient moves the
    # multiplier by 43 units, which changes 12 of these 39204 full-range int16 products.
    # BUILTIN shares that Prepare and kernel: edgelite's default must match it too.
    scales = (0.00031, 0.00027, 0.0027)
    s1, s2, so = (np.float32(s) for s in scales)
    double_quotient = fp.quantize_multiplier(float(s1 * s2) / float(so), "double")
    assert mul_params(scales, "double") != double_quotient
    values = np.arange(-32768, 32768, 331).astype(np.int16)
    a, b = values[:, None], values[None, :]
    if not broadcast:
        a, b = np.broadcast_arrays(a, b)
        a, b = a.ravel().copy(), b.ravel().copy()
    operands = [Spec(a, q(scales[0], 0)), Spec(b, q(scales[1], 0))]
    shape = np.broadcast_shapes(a.shape, b.shape)
    model, feed = build(Op.MUL, operands, shape, np.int16, q(scales[2], 0), MulOptions(), 1)
    _check(model, feed, differs=False)
    builtin = run_litert(model, feed)[0]
    for optimized in (False, True):
        assert_matches(run_with_rounding(model, feed, "tflite", optimized), builtin, "default")
