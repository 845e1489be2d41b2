"""The fused float ADD/SUB/MUL/DIV path (_fbinary) equals the numpy reference and the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import ActivationFunctionType, BuiltinOperator
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert

OPS = {
    BuiltinOperator.ADD: opt.AddOptions,
    BuiltinOperator.SUB: opt.SubOptions,
    BuiltinOperator.MUL: opt.MulOptions,
    BuiltinOperator.DIV: opt.DivOptions,
}
SHAPES = [  # (a, b): equal, scalar either side, a row either side
    ((2, 3, 5), (2, 3, 5)),
    ((4, 6), (1,)),
    ((), (3, 7)),
    ((2, 4, 8), (8,)),
    ((1, 1, 8), (3, 5, 8)),
]


def _model(op, a_shape, b_shape, act):
    mb = ModelBuilder()
    a = mb.input("a", a_shape)
    b = mb.input("b", b_shape)
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    y = mb.tensor("y", out_shape)
    mb.op(op, [a, b], [y], OPS[op](fused_activation_function=act))
    mb.output(y)
    return mb.to_bytes()


@pytest.mark.parametrize("op", list(OPS), ids=lambda o: o.name)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("act", [ActivationFunctionType.NONE, ActivationFunctionType.RELU6])
def test_fused_float_binary(op, shapes, act):
    rng = np.random.default_rng(hash((op, shapes, act)) % 2**32)
    a = (rng.standard_normal(shapes[0]) * 4).astype(np.float32)
    b = (rng.standard_normal(shapes[1]) * 4).astype(np.float32)
    # IEEE edge values: overflow to +-inf clamps to FLT_MAX, NaN passes through.
    if a.size > 2:
        a.reshape(-1)[:3] = [3e38, np.nan, -3e38]
    model = _model(op, shapes[0], shapes[1], act)
    want = run_litert(model, [a, b])[0]
    for optimized in (False, True):
        got = run_kernels(model, [a, b], optimized=optimized)[0]
        assert_matches(got, want, f"optimized={optimized}")
