"""SELECT / SELECT_V2 on quantized int8, uint8 and int16 values, bit-exact with the oracle.

Both copy raw values (TFLite does not rescale here), with SELECT_V2 broadcasting.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._quant_helpers import Quantized, full_range, q, qcheck

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize(
    ("op", "shapes"),
    [
        (Op.SELECT, ((3, 4), (3, 4), (3, 4))),
        (Op.SELECT, ((3,), (3, 4), (3, 4))),
        (Op.SELECT_V2, ((1, 4), (3, 1), (3, 4))),
        (Op.SELECT_V2, ((), (2, 3), (3,))),
    ],
    ids=str,
)
def test_select_copies_quantized_values(op, shapes, dtype):
    rng = np.random.default_rng(len(shapes[0]) + 3 * len(shapes[1]))
    params = q(dtype, 0.05, 3)
    condition = rng.random(shapes[0]) > 0.5
    x = Quantized(full_range(rng, shapes[1], dtype), params)
    y = Quantized(full_range(rng, shapes[2], dtype), params)
    out_shape = shapes[1] if op == Op.SELECT else np.broadcast_shapes(*shapes)
    qcheck(op, [condition, x, y], dtype, params, out_shape=out_shape, version=2)
