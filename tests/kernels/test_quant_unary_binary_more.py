"""Quantized ABS, NEG, EXP, LOG, DIV, FLOOR_DIV, FLOOR_MOD against the official runtime.

Every test runs the single-op model in ai-edge-litert and through our reference and
optimized kernels, bit-exact. What the runtime does (see _qunary_more / _qdivision):
ABS rescales, EXP / LOG are tables, DIV is TFLite's integer division (with its
out-of-range shifts), NEG / FLOOR_DIV / FLOOR_MOD work on the raw integers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter import Interpreter, OpResolverType
from edgelite.interpreter.kernels._qdivision import QDivData
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import DivOptions
from tests.kernel_runner import run_kernels
from tests.kernels._elementwise_helpers import Const, Quantized, check, single_op_model
from tests.kernels._quant_helpers import (
    check_forced,
    every_value,
    oracle_and_ours_refuse,
    our_error,
    qcheck,
)
from tests.oracle import assert_matches, run_litert

pytestmark = pytest.mark.oracle

REPO = Path(__file__).resolve().parents[2]
I8, U8, I16 = np.int8, np.uint8, np.int16


def _random_params(seed: int, dtype, count: int, equal_every: int = 0):
    """(s_in, z_in, s_out, z_out) tuples: log-uniform scales, random 8-bit zero points."""
    rng = np.random.default_rng(seed)
    low = -3.0 if np.dtype(dtype) == np.int8 else -5.0
    params = []
    for i in range(count):
        s_in = float(np.float32(10 ** rng.uniform(low, 0.3)))
        s_out = (
            s_in
            if equal_every and i % equal_every == 0
            else float(np.float32(10 ** rng.uniform(low, 0.3)))
        )
        zeros = rng.integers(-128, 128, 2) if np.dtype(dtype) == np.int8 else (0, 0)
        params.append((s_in, int(zeros[0]), s_out, int(zeros[1])))
    return params


# -- ABS, EXP, LOG, NEG -----------------------------------------------------------------


@pytest.mark.parametrize("op", [Op.ABS, Op.EXP, Op.LOG, Op.NEG], ids=lambda o: o.name)
@pytest.mark.parametrize("params", _random_params(11, I8, 8, equal_every=3))
def test_int8_every_value(op, params):
    s_in, z_in, s_out, z_out = params
    x = Quantized(every_value(I8), quant(s_in, z_in))
    qcheck(op, [x], I8, quant(s_out, z_out))


@pytest.mark.parametrize("op", [Op.ABS, Op.EXP, Op.LOG, Op.NEG], ids=lambda o: o.name)
@pytest.mark.parametrize("params", _random_params(12, I16, 4, equal_every=3))
def test_int16_every_value(op, params):
    s_in, _, s_out, _ = params
    qcheck(op, [Quantized(every_value(I16), quant(s_in))], I16, quant(s_out))


@pytest.mark.parametrize(
    ("dtype", "s_in", "s_out"),
    [(I8, 0.8, 0.15), (I8, 2.0, 1e-3), (I16, 0.01, 1.0), (I16, 0.003, 1e-3), (I16, 1e-4, 3e-5)],
)
def test_exp_overflow_saturates_like_the_runtime(dtype, s_in, s_out):
    # expf overflows to +inf for the larger inputs: the 8-bit table saturates to the
    # maximum; the int16 table's interpolation turns inf into NaN, as in C.
    x = Quantized(every_value(dtype), quant(s_in))
    qcheck(Op.EXP, [x], dtype, quant(s_out))


def test_log_of_values_at_or_below_zero_is_the_output_minimum():
    x = np.arange(-128, 128).astype(I8)  # the zero point 20: inputs <= 20 are <= 0
    want = qcheck(Op.LOG, [Quantized(x, quant(0.05, 20))], I8, quant(0.02, 7))
    assert np.all(want[x <= 20] == -128)


def test_abs_wraps_and_saturates():
    x = np.array([[-128, -127, -1, 0, 1, 126, 127]], I8)
    for z_in, z_out in ((-128, 127), (127, -128), (0, 0)):
        qcheck(Op.ABS, [Quantized(x, quant(0.5, z_in))], I8, quant(0.5, z_out))
        qcheck(Op.ABS, [Quantized(x, quant(0.5, z_in))], I8, quant(0.25, z_out))


def test_neg_ignores_the_quantization_parameters():
    # Raw negation, whatever the scales and zero points say (-128 wraps onto itself).
    x = every_value(I8)
    want = qcheck(Op.NEG, [Quantized(x, quant(0.3, 17))], I8, quant(0.01, -90))
    assert np.array_equal(want, -x)


@pytest.mark.parametrize("dtype", [I8, I16])
def test_neg_without_quantization(dtype):
    info = np.iinfo(dtype)
    check(Op.NEG, [np.array([info.min, -5, 0, 3, info.max], dtype)])


@pytest.mark.parametrize("shape", [(), (1,), (2, 3, 4), (1, 2, 1, 3, 2)])
def test_shapes(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.integers(-128, 128, shape).astype(I8)
    for op in (Op.ABS, Op.EXP, Op.LOG, Op.NEG):
        qcheck(op, [Quantized(x, quant(0.07, -5))], I8, quant(0.09, 3))


def test_abs_forced_rounding_agrees():
    x = Quantized(every_value(I8), quant(0.037, -20))
    check_forced(Op.ABS, [x], I8, quant(0.011, -7))


# -- DIV --------------------------------------------------------------------------------


def _divisors(rng, dtype, shape, zero_point):
    """Random raw divisors of ``dtype`` avoiding the zero point (a real 0 fails)."""
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max + 1, shape)
    clash = values == zero_point
    values[clash] = zero_point + 1 if zero_point < info.max else zero_point - 1
    return values.astype(dtype)


def _div_params(seed: int, dtype, count: int):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    params = []
    for _ in range(count):
        scales = [float(np.float32(10 ** rng.uniform(-3, 0))) for _ in range(3)]
        if np.dtype(dtype) == np.int16:
            zeros = [0, 0, 0]
        else:
            zeros = [int(z) for z in rng.integers(info.min, info.max + 1, 3)]
        params.append((scales[0], zeros[0], scales[1], zeros[1], scales[2], zeros[2]))
    return params


SHAPES = [((3, 40), (3, 40)), ((3, 40), (1,)), ((), (2, 7)), ((2, 3, 8), (8,)),
          ((2, 1, 3, 1, 4), (1, 2, 1, 5, 1)), ((1, 2, 1, 3, 1, 2), (2, 1, 3, 1, 2, 1))]  # fmt: skip


@pytest.mark.parametrize("dtype", [I8, U8, I16], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_div_random(dtype, shapes):
    seed = len(shapes[0]) * 7 + len(shapes[1]) + np.dtype(dtype).itemsize * 100
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    for s_a, z_a, s_b, z_b, s_out, z_out in _div_params(seed, dtype, 4):
        a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
        b = _divisors(rng, dtype, shapes[1], z_b)
        operands = [Quantized(a, quant(s_a, z_a)), Quantized(b, quant(s_b, z_b))]
        qcheck(Op.DIV, operands, dtype, quant(s_out, z_out), DivOptions())


@pytest.mark.parametrize("dtype", [I8, U8], ids=lambda d: np.dtype(d).name)
def test_div_every_8bit_pair(dtype):
    # All 256 x 255 (numerator, divisor) pairs, the divisor's zero point left out.
    # Includes 0 / y, whose 1 + zp (not zp) comes from the runtime's 32+ bit shifts.
    z_a, z_b, z_out = (-3, 9, -100) if dtype == I8 else (125, 9, 28)
    values = np.arange(256, dtype=np.uint8).view(dtype)
    divisors = values[values.astype(np.int64) != z_b]
    a = Quantized(values.reshape(256, 1), quant(0.0751, z_a))
    b = Quantized(divisors.reshape(1, -1), quant(0.4916, z_b))
    want = qcheck(Op.DIV, [a, b], dtype, quant(0.2124, z_out), DivOptions())
    zero_row = want[values.astype(np.int64) == z_a][0].astype(np.int64)
    assert np.count_nonzero(zero_row == z_out + 1) == 253  # all but the divisors +-1


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU6, Act.RELU_N1_TO_1])
@pytest.mark.parametrize("dtype", [I8, I16], ids=lambda d: np.dtype(d).name)
def test_div_fused_activation(act, dtype):
    rng = np.random.default_rng(int(act))
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, (4, 30)).astype(dtype)
    b = _divisors(rng, dtype, (30,), 0)
    scale = 0.05 if dtype == I8 else 1e-3
    operands = [Quantized(a, quant(scale)), Quantized(b, quant(scale / 2))]
    options = DivOptions(fused_activation_function=act)
    qcheck(Op.DIV, operands, dtype, quant(scale / 4, 0), options)


def test_div_int16_with_zero_points():
    # The official int16 DIV does not require symmetric tensors.
    rng = np.random.default_rng(5)
    a = rng.integers(-32768, 32768, (5, 50)).astype(I16)
    b = _divisors(rng, I16, (5, 50), -300)
    operands = [Quantized(a, quant(0.01, 5)), Quantized(b, quant(0.02, -300))]
    qcheck(Op.DIV, operands, I16, quant(0.03, 11), DivOptions())


@pytest.mark.parametrize(
    ("dtype", "scales"),
    [(I16, (1e-5, 1.0, 10.0)), (I16, (1e-7, 1.0, 10.0)), (I8, (1e-6, 1.0, 10.0))],
    ids=str,
)
def test_div_tiny_rescale_factors(dtype, scales):
    # Total shifts of 64 bits and more: x86 takes the mask's shift count mod 64, so
    # 0 / y is 1 for shifts 32..63 and 0 again from 64.
    rng = np.random.default_rng(4)
    info = np.iinfo(dtype)
    a = rng.integers(-300, 300, 2000).clip(info.min, info.max).astype(dtype)
    a[:40] = 0
    b = _divisors(rng, dtype, (2000,), 0)
    operands = [Quantized(a, quant(scales[0])), Quantized(b, quant(scales[1]))]
    qcheck(Op.DIV, operands, dtype, quant(scales[2]), DivOptions())


def test_div_constant_divisor():
    a = Quantized(every_value(I8), quant(0.1, 4))
    b = Const(np.array([[-3], [90]], I8), quant(0.2, 1))
    qcheck(Op.DIV, [a, b], I8, quant(0.05, -2), DivOptions())


@pytest.mark.parametrize("optimized", [False, True])
def test_div_by_the_zero_point_fails_like_the_runtime(optimized):
    a = Quantized(np.arange(-4, 4).astype(I8), quant(0.1, 3))
    b = Quantized(np.array([5, 2, 7, 2, 1, 9, 4, 3], I8), quant(0.2, 2))  # 2 is a real 0
    model, feed = single_op_model(Op.DIV, [a, b], I8, DivOptions(), 1, None, quant(0.3, 1))
    with pytest.raises(RuntimeError, match="zero_point"):
        run_litert(model, feed)
    with pytest.raises(ZeroDivisionError, match="zero point"):
        run_kernels(model, feed, optimized=optimized)


@pytest.mark.parametrize("dtype", [I8, I16], ids=lambda d: np.dtype(d).name)
def test_div_through_the_interpreter(dtype):
    # int16 is large enough for the Cython kernel to split its rows over 2 threads.
    rng = np.random.default_rng(8)
    info = np.iinfo(dtype)
    shape = (2, 3, 16) if dtype == I8 else (4, 64, 128)
    a = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    b = _divisors(rng, dtype, shape[-1:], -7)
    operands = [Quantized(a, quant(0.04, 10)), Quantized(b, quant(0.3, -7))]
    model, feed = single_op_model(Op.DIV, operands, dtype, DivOptions(), 1, None, quant(0.02, 3))
    want = run_litert(model, feed)[0]
    for resolver in (OpResolverType.BUILTIN_REF, OpResolverType.BUILTIN):
        interp = Interpreter(
            model_content=model, experimental_op_resolver_type=resolver, num_threads=2
        )
        interp.allocate_tensors()
        for detail, value in zip(interp.get_input_details(), feed):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert_matches(got, want, resolver.name)


@pytest.mark.parametrize(
    "shapes", [((64, 300), (300,)), ((3, 1, 40, 1, 30), (2, 1, 5, 30)), ((5000,), ())], ids=str
)
def test_div16_threads_equal_the_reference(shapes):
    # The Cython walk split over threads (rows decoded from their number) == numpy.
    rng = np.random.default_rng(len(shapes[0]))
    a = rng.integers(-32768, 32768, shapes[0]).astype(I16)
    b = _divisors(rng, I16, shapes[1], 0)
    data = QDivData(np.dtype(I16), (0, 0), 0, (1518500250, -5), -32768, 32767, num_threads=2)
    out_shape = np.broadcast_shapes(a.shape, b.shape)
    want, got = np.empty(out_shape, I16), np.empty(out_shape, I16)
    data.reference([a, b], [want])
    data.optimized([a, b], [got])
    assert_matches(got, want)


# -- FLOOR_DIV, FLOOR_MOD ---------------------------------------------------------------


@pytest.mark.parametrize("op", [Op.FLOOR_DIV, Op.FLOOR_MOD], ids=lambda o: o.name)
@pytest.mark.parametrize("dtype", [I8, I16], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", [((4, 25), (4, 25)), ((3, 1, 5), (4, 1)), ((6,), ())], ids=str)
def test_floor_div_mod_are_raw_integer_ops(op, dtype, shapes):
    rng = np.random.default_rng(len(shapes[0]) + np.dtype(dtype).itemsize)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
    b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype)
    b[b == 0] = 3
    a[a == info.min] = 0  # INT_MIN // -1: see the next test
    operands = [Quantized(a, quant(0.3, 5 if dtype == I8 else 0)), Quantized(b, quant(0.01))]
    want = qcheck(op, operands, dtype, quant(2.0, -9 if dtype == I8 else 0), version=2)
    wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
    raw = wide_a // wide_b if op == Op.FLOOR_DIV else wide_a % wide_b
    assert np.array_equal(want, raw)  # the scales play no part


@pytest.mark.parametrize("quantized", [True, False])
@pytest.mark.parametrize("dtype", [I8, I16], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "shapes", [((1,), (1,)), ((7,), (7,)), ((15,), (15,)), ((37,), (37,)), ((3, 5), (3, 5)),
               ((2, 9), (9,)), ((12,), ())], ids=str,
)  # fmt: skip
def test_floor_div_of_int_min_by_minus_one(quantized, dtype, shapes):
    # floor(INT_MIN / -1) leaves the type: the runtime's vectorised same-shape loop
    # saturates it (blocks of 16 and 8 elements), its scalar rest and broadcasts wrap.
    info = np.iinfo(dtype)
    a = np.full(shapes[0], info.min, dtype)
    a.reshape(-1)[1::3] = 7
    b = np.full(shapes[1], -1, dtype)
    if quantized:
        operands = [Quantized(a, quant(0.5, 3 if dtype == I8 else 0)), Quantized(b, quant(0.1))]
        qcheck(Op.FLOOR_DIV, [*operands], dtype, quant(0.2))
    else:
        check(Op.FLOOR_DIV, [a, b])


# -- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize("op", [Op.ABS, Op.LOG, Op.EXP, Op.NEG], ids=lambda o: o.name)
def test_uint8_is_refused_like_the_runtime(op):
    x = Quantized(np.arange(8, dtype=U8), quant(0.1, 128))
    official, ours = oracle_and_ours_refuse(op, [x], U8, quant(0.1, 128))
    assert "UINT8" in official or "Type 3" in official or "got 3" in official, official
    assert "int8 and int16" in str(ours)


@pytest.mark.parametrize("op", [Op.ABS, Op.LOG, Op.EXP], ids=lambda o: o.name)
@pytest.mark.parametrize(("z_in", "z_out"), [(3, 0), (0, -4)])
def test_int16_needs_zero_points_0(op, z_in, z_out):
    x = Quantized(np.arange(8, dtype=I16), quant(0.1, z_in))
    official, ours = oracle_and_ours_refuse(op, [x], I16, quant(0.1, z_out))
    assert "!= 0" in official and "zero point 0" in str(ours)


def test_div_refusals():
    a = Quantized(np.ones(4, I8), quant(0.1))
    b = Quantized(np.ones(4, I8), quant(0.1))
    # The runtime runs TANH as "no clamp" here; we refuse activations we do not clamp.
    error = our_error(Op.DIV, [a, b], I8, quant(0.1), DivOptions(fused_activation_function=4))
    assert "fused activation 4" in str(error)
    # A rescale factor past 2^22 would make TFLite's total shift a left shift (UB).
    error = our_error(Op.DIV, [Quantized(np.ones(4, I8), quant(1e3)), b], I8, quant(1e-4))
    assert isinstance(error, PrepareError) and "too large" in str(error)
    error = our_error(Op.DIV, [a, Quantized(np.ones(4, I16), quant(0.1))], I8, quant(0.1))
    assert "int8" in str(error)


# -- load time ------------------------------------------------------------------------------


def test_float_models_do_not_import_the_quantized_helpers(tmp_path):
    mb = ModelBuilder()
    x = mb.input("x", [2, 3], np.float32)
    y = mb.const("y", np.full((2, 3), 1.5, np.float32))
    previous = x
    for i, op in enumerate((Op.ABS, Op.NEG, Op.EXP, Op.LOG)):
        out = mb.tensor(f"u{i}", [2, 3], np.float32)
        mb.op(op, [previous], [out])
        previous = out
    for i, (op, options) in enumerate(((Op.DIV, DivOptions()), (Op.FLOOR_DIV, None),
                                       (Op.FLOOR_MOD, None))):  # fmt: skip
        out = mb.tensor(f"b{i}", [2, 3], np.float32)
        mb.op(op, [previous, y], [out], options)
        previous = out
    mb.output(previous)
    path = tmp_path / "float_math.tflite"
    path.write_bytes(mb.to_bytes())
    code = (
        "import json, sys; from edgelite.interpreter import Interpreter; "
        f"it = Interpreter(model_path={str(path)!r}); it.allocate_tensors(); it.invoke(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert "edgelite.interpreter.kernels.unary" in modules
    helpers = {"_qunary_more", "_qdivision", "_qactivation", "_qbinary", "fixedpoint"}
    loaded = {m for m in helpers if f"edgelite.interpreter.kernels.{m}" in modules}
    assert not loaded, sorted(loaded)
