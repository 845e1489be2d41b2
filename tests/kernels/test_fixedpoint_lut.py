"""The lookup-table builders of fixedpoint_lut against hand-computed values.

Their agreement with the official runtime's tables is in test_fixedpoint_oracle.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgelite.interpreter.kernels import fixedpoint_lut as fl


def test_lut_int8_order_and_identity():
    x = np.arange(-128, 128, dtype=np.int8)
    lut = fl.lut_populate_int8(lambda v: v, 0.1, 3, 0.1, 3)
    assert lut[0] == 0 and lut[255] == -1  # TFLite's order: index = value as uint8
    assert np.array_equal(fl.lut_lookup_int8(x, lut), x)
    saturating = fl.lut_populate_int8(lambda v: v * np.float32(4), 1.0, 0, 1.0, 0)
    assert fl.lut_lookup_int8(np.int8(100), saturating) == 127
    unsigned = fl.lut_populate_int8(lambda v: v, 0.5, 128, 0.5, 128, np.uint8)
    assert np.array_equal(
        fl.lut_lookup_int8(np.arange(256, dtype=np.uint8), unsigned), np.arange(256)
    )


def test_lut_int16_interpolates():
    lut = fl.lut_populate_int16(lambda v: v, 1 / 32768, 0, 1 / 32768, 0)
    x = np.arange(-32768, 32768, 97, dtype=np.int16)
    assert np.abs(fl.lut_lookup_int16(x, lut).astype(int) - x).max() <= 1
    exp_lut, recip_lut = fl.softmax_int16_luts()
    assert exp_lut[512] == 32767 and abs(int(exp_lut[0])) <= 2  # exp(0) = 1, exp(-10) ~ 0
    assert recip_lut[0] == 32767 and abs(int(recip_lut[512]) - 16384) <= 1  # 1/(1+0), 1/(1+1)
    with pytest.raises(ValueError):
        exp_lut[0] = 1  # shared and cached: read-only


def test_softmax_float_helpers():
    table = fl.softmax_exp_table(0.1, 1.0)
    assert table.dtype == np.float32 and table[255] == 1.0
    assert table[254] == np.float32(math.exp(float(-np.float32(0.1))))
    assert np.all(fl.softmax_exp_table(0.5, 0.0) == 1.0)
    prob = np.array([0.5, 2.5, -0.5, 0.49999997], dtype=np.float32)
    assert fl.quantize_softmax_output(prob, -128, np.int8).tolist() == [-127, -125, -129, -128]
    assert fl.quantize_softmax_output(prob[:2], 0, np.uint8).tolist() == [1, 3]
