"""CAST against the official runtime for every pair of the types it converts:
saturating float -> int (NaN -> max), wrapping int -> int, bool, float16 through
float32, complex64's real part."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._elementwise_helpers import check, kernel_error

pytestmark = pytest.mark.oracle

TYPES = [
    np.float32,
    np.float16,
    np.float64,
    np.int64,
    np.int32,
    np.uint32,
    np.int16,
    np.uint16,
    np.uint8,
    np.int8,
    np.bool_,
    np.complex64,
]
# Values that probe rounding, wrap-around and saturation for every target.
FLOATS = [
    np.nan,
    np.inf,
    -np.inf,
    0.0,
    -0.0,
    0.5,
    -0.5,
    1.9,
    -1.9,
    127.5,
    128.0,
    -128.7,
    255.9,
    256.0,
    -1.0,
    32767.8,
    -32769.0,
    65504.0,
    65519.0,
    65520.0,
    2147483520.0,
    2147483648.0,
    -2147483904.0,
    4294967040.0,
    4294967296.0,
    9.3e18,
    -9.3e18,
    1e30,
    1.00048828125,
]
INTS = [0, 1, -1, 127, 128, -129, 255, 256, 32767, 32768, -32769, 65535, 65536, 65519, 65521]
INTS += [2**31 - 1, -(2**31), 2**24 + 1, 2**53 + 1, -(2**62), 2**63 - 1]


def sample(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.array([True, False, True])
    if dtype.kind == "f":
        return np.array(FLOATS, np.float64).astype(dtype)
    if dtype.kind == "c":
        real = np.array(FLOATS, np.float64)
        return (real + 1j * real[::-1]).astype(dtype)
    info = np.iinfo(dtype)
    return np.array([v for v in INTS if info.min <= v <= info.max], dtype)


@pytest.mark.parametrize("target", TYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("source", TYPES, ids=lambda t: np.dtype(t).name)
def test_cast_pair(source, target):
    with np.errstate(all="ignore"):
        x = sample(source)
    check(
        Op.CAST, [x.reshape(-1, 1) if x.size % 2 else x.reshape(2, -1)], out_dtype=target, version=5
    )


def test_double_rounding_to_float16_goes_through_float32():
    # 65519.999 rounds to 65520 in float32 and then to inf in float16 (directly: 65504).
    x = np.array([65519.999, 1.0004882812500002, -65519.999], np.float64)
    result = check(Op.CAST, [x], out_dtype=np.float16, version=5)
    assert np.isinf(result[0])


def test_rejections_are_explicit():
    words = np.array([b"a"], dtype=object)
    error = kernel_error(Op.CAST, [words], out_dtype=np.float32)
    assert isinstance(error, PrepareError) and "string" in str(error)
    error = kernel_error(Op.CAST, [np.zeros(2, np.float32)], out_dtype=np.complex128)
    assert isinstance(error, PrepareError) and "complex128" in str(error)
