"""ARG_MAX / ARG_MIN on quantized tensors and CUMSUM on integers, against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import ArgMaxOptions, ArgMinOptions, CumsumOptions
from tests.kernels._shape_helpers import Const, Out, Var, check, prepare_blind


def _options(op, out_dtype):
    kind = TensorType.INT64 if out_dtype == np.int64 else TensorType.INT32
    return ArgMaxOptions(kind) if op == Op.ARG_MAX else ArgMinOptions(kind)


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
def test_arg_minmax_quantized(op, dtype, axis, out_dtype):
    """Selection works on raw values: any scale / zero point, ties to the first index."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(abs(axis))
    x = rng.integers(info.min, info.min + 4, [3, 5, 4]).astype(dtype)  # many ties
    x[0, 0, 0] = info.max
    operands = [Var(x, quantization=quant(0.37, 5 if dtype == np.uint8 else -3)), Const([axis])]
    check(op, operands, Out(out_dtype), _options(op, out_dtype), version=2)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum_integers_wrap(dtype, exclusive, reverse):
    """Integer running sums wrap around in the input type, like the official kernel."""
    info = np.iinfo(dtype)
    x = np.array([[info.max - 5, 3, 4, info.min + 2], [1, -2, 3, -4]], dtype)
    check(Op.CUMSUM, [Var(x), Const(np.int32(1))], Out(dtype), CumsumOptions(exclusive, reverse))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_cumsum_quantized_rejected_like_tflite(dtype):
    """The official runtime has no quantized CUMSUM: a clear PrepareError, not a guess."""
    operands = [Var(np.zeros([3], dtype), quantization=quant(0.5)), Const(np.int32(0))]
    with pytest.raises(PrepareError, match="no quantized CUMSUM"):
        prepare_blind(Op.CUMSUM, operands, Out(dtype, quant(0.5)))
