"""CONCATENATION of uint8 inputs with differing quantization (TFLite's rescale), bit-exact.

int8 / int16 inputs must share the output's parameters, as in TFLite.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import ConcatenationOptions
from tests.kernels._quant_helpers import Quantized, full_range, oracle_and_ours_refuse, qcheck

pytestmark = pytest.mark.oracle

PARAMS = [
    [(0.5, 128), (0.25, 100), (0.1, 3)],
    [(0.1, 3), (0.1, 3), (0.05, 200)],
    [(0.037, 17), (0.011, 250), (0.02, 128)],
    [(0.02, 128), (0.02, 128), (0.02, 128)],
    [(0.02, 128), (0.5, 0), (0.02, 128)],
]


@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize(
    ("axis", "shapes"),
    [(1, [(2, 3, 4), (2, 5, 4)]), (0, [(3,), (7,)]), (-1, [(2, 2, 9), (2, 2, 1)])],
    ids=str,
)
def test_uint8_concat_rescales(params, axis, shapes):
    rng = np.random.default_rng(len(shapes[0]) * 7 + axis)
    operands = [
        Quantized(full_range(rng, shape, np.uint8), quant(*params[i]))
        for i, shape in enumerate(shapes)
    ]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    options = ConcatenationOptions(axis=axis)
    qcheck(Op.CONCATENATION, operands, np.uint8, quant(*params[2]), options, out_shape)


def test_int8_needs_equal_parameters():
    x = np.zeros((2, 3), np.int8)
    operands = [Quantized(x, quant(0.5, 3)), Quantized(x, quant(0.25, 3))]
    official, ours = oracle_and_ours_refuse(
        Op.CONCATENATION, operands, np.int8, quant(0.5, 3), ConcatenationOptions(axis=0)
    )
    assert "scale" in official and "equal scale" in str(ours)
