"""QUANTIZE, DEQUANTIZE and DENSIFY against the official runtime.

QUANTIZE is held to the official *reference* kernels (round half away from zero);
the official optimized kernel rounds exact halves to even in its vector loop, so it
is compared only on data without exact halves. DENSIFY is checked on hand-encoded
sparse constants (CSR levels, blocks, permuted traversal orders) and on a model the
official converter wrote with ``Optimize.EXPERIMENTAL_SPARSITY``.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter.kernels import quantize
from edgelite.interpreter.kernels.base import Node, PrepareError, TensorInfo
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import DimensionType
from edgelite.schema.model import DimensionMetadata, Sparsity
from tests.kernels._elementwise_helpers import (
    Const,
    Quantized,
    check,
    kernel_error,
    oracle_error,
    rand,
)
from tests.oracle import assert_matches, litert_interpreter, run_litert

pytestmark = pytest.mark.oracle

REPO = Path(__file__).resolve().parents[2]

# -- QUANTIZE -----------------------------------------------------------------------

TARGETS = [
    (np.int8, 0),
    (np.int8, -7),
    (np.int8, 100),
    (np.uint8, 128),
    (np.uint8, 3),
    (np.int16, 0),
]


def _ids(value):
    return np.dtype(value).name if isinstance(value, type) else None


@pytest.mark.parametrize("scale", [0.5, 0.1, 1 / 3, 0.07, 2.0, 1e-3])
@pytest.mark.parametrize(("dtype", "zero_point"), TARGETS, ids=_ids)
def test_quantize_matches_optimized_kernels(dtype, zero_point, scale):
    rng = np.random.default_rng(0)
    # Exact halves of the scale (the rounding ties), random values, extremes.
    ties = ((np.arange(-300, 300) + 0.5) * np.float32(scale)).astype(np.float32)
    x = np.concatenate(
        [
            ties,
            rand(rng, (200,), scale=100 * scale),
            np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 3e9, 0.0, -0.0], np.float32),
        ]
    )
    out = quant(scale, zero_point)
    # Per tensor, the target is the official optimized kernel (blocks of 8, then a tail).
    check(Op.QUANTIZE, [x], out_dtype=dtype, out_quant=out, version=2)
    check(Op.QUANTIZE, [x[:-3]], out_dtype=dtype, out_quant=out, version=2)


@pytest.mark.parametrize(("dtype", "zero_point"), TARGETS, ids=_ids)
def test_quantize_matches_optimized_kernels_off_ties(dtype, zero_point):
    x = rand(np.random.default_rng(1), (4, 33), scale=20.0)
    check(Op.QUANTIZE, [x], out_dtype=dtype, out_quant=quant(0.13, zero_point), version=2)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16], ids=_ids)
def test_quantize_per_channel(dtype, axis):
    rng = np.random.default_rng(2)
    x = rand(rng, (3, 4, 5), scale=3.0)
    channels = x.shape[axis]
    zero_points = rng.integers(-5, 5, channels) + (128 if dtype == np.uint8 else 0)
    if dtype == np.int16:
        zero_points[:] = 0
    out = quant(np.linspace(0.01, 0.05, channels), zero_points, axis=axis)
    check(Op.QUANTIZE, [x], out_dtype=dtype, out_quant=out, version=3, reference_kernels=True)


def test_quantize_rejections():
    x = np.zeros((2, 3), np.float32)
    error = kernel_error(Op.QUANTIZE, [x], out_dtype=np.int8)
    assert isinstance(error, PrepareError) and "no quantization parameters" in str(error)
    q = quant(0.1, 0)
    error = kernel_error(
        Op.QUANTIZE, [Quantized(x.astype(np.int8), q)], out_dtype=np.int32, out_quant=q
    )
    assert isinstance(error, PrepareError) and "cannot requantize int8 to int32" in str(error)


# -- DEQUANTIZE ---------------------------------------------------------------------


@pytest.mark.parametrize("constant", [False, True], ids=["input", "constant"])
@pytest.mark.parametrize(
    ("dtype", "zero_point", "version"),
    [(np.int8, -3, 2), (np.int8, 0, 2), (np.uint8, 128, 1), (np.int16, 0, 3)],
    ids=_ids,
)
def test_dequantize(dtype, zero_point, version, constant):
    info = np.iinfo(dtype)
    q = np.random.default_rng(3).integers(info.min, info.max + 1, (3, 4, 5)).astype(dtype)
    q.reshape(-1)[:2] = [info.min, info.max]
    params = quant(0.0371, zero_point)
    operand = Const(q, params) if constant else Quantized(q, params)
    check(Op.DEQUANTIZE, [operand], out_dtype=np.float32, version=version)


@pytest.mark.parametrize("axis", [0, 1, 3])
def test_dequantize_per_channel(axis):
    rng = np.random.default_rng(4)
    q = rng.integers(-127, 128, (4, 2, 3, 5)).astype(np.int8)
    params = quant(rng.uniform(0.001, 0.1, q.shape[axis]), 0, axis=axis)
    check(Op.DEQUANTIZE, [Const(q, params)], out_dtype=np.float32, version=5)


def test_dequantize_float16():
    x = np.array([0, 1.5, -65504, 65504, np.inf, -np.inf, np.nan, 6e-8], np.float16)
    check(Op.DEQUANTIZE, [Const(x)], out_dtype=np.float32, version=3)
    check(Op.DEQUANTIZE, [x], out_dtype=np.float32, version=3)


def test_dequantize_values_for_load_time_folding():
    q = np.array([[-128, 0, 127], [5, -5, 1]], np.int8)
    params = quant([0.5, 0.25], [1, -1], axis=0)
    got = quantize.dequantize_values(q, params, 9)  # TensorType.INT8
    want = (q.astype(np.float64) - [[1], [-1]]) * [[0.5], [0.25]]
    np.testing.assert_array_equal(got, want.astype(np.float32))
    half = np.array([1.5, -2], np.float16)
    np.testing.assert_array_equal(quantize.dequantize_values(half, None, 1), [1.5, -2])


def test_dequantize_rejections():
    q = Quantized(np.zeros(3, np.int16), quant(0.1, 5))
    assert "zero_point" in oracle_error(Op.DEQUANTIZE, [q], out_dtype=np.float32, version=3)
    error = kernel_error(Op.DEQUANTIZE, [q], out_dtype=np.float32, version=3)
    assert isinstance(error, PrepareError) and "zero point 0" in str(error)
    error = kernel_error(Op.DEQUANTIZE, [np.zeros(3, np.int8)], out_dtype=np.float32)
    assert isinstance(error, PrepareError) and "no quantization parameters" in str(error)
    error = kernel_error(Op.DEQUANTIZE, [np.zeros(3, np.int32)], out_dtype=np.float32)
    assert isinstance(error, PrepareError) and "int32" in str(error)


# -- DENSIFY ------------------------------------------------------------------------


def encode(dense, order, block_map=(), block_sizes=(), formats=None):
    """TACO-encode ``dense`` (test helper): returns (stored values, Sparsity)."""
    rank = dense.ndim
    expanded_shape = list(dense.shape) + list(block_sizes)
    for b, dim in enumerate(block_map):
        expanded_shape[dim] //= block_sizes[b]
    index = np.indices(expanded_shape)
    original = [index[d] for d in range(rank)]
    for b, dim in enumerate(block_map):
        original[dim] = original[dim] * block_sizes[b] + index[rank + b]
    traversed = dense[tuple(original)].transpose(order)
    formats = formats or [DimensionType.DENSE] * len(order)
    paths, levels = [()], []
    for level, fmt in enumerate(formats):
        size = traversed.shape[level]
        if fmt == DimensionType.DENSE:
            levels.append(DimensionMetadata(DimensionType.DENSE, size))
            paths = [(*p, i) for p in paths for i in range(size)]
            continue
        segments, indices, kept = [0], [], []
        for p in paths:
            for i in range(size):
                if np.any(traversed[(*p, i)] != 0):
                    indices.append(i)
                    kept.append((*p, i))
            segments.append(len(indices))
        kind = np.uint8 if max(segments) < 256 and size < 256 else np.int32
        levels.append(
            DimensionMetadata(
                DimensionType.SPARSE_CSR, 0, np.array(segments, kind), np.array(indices, kind)
            )
        )
        paths = kept
    values = np.array([traversed[p] for p in paths], dense.dtype)
    return values, Sparsity(list(order), list(block_map), levels)


def densify_model(values, sparsity, shape):
    mb = ModelBuilder()
    w = mb.const("w", values)
    mb.sg.tensors[w].shape = list(shape)
    mb.sg.tensors[w].sparsity = sparsity
    y = mb.tensor("y", shape, values.dtype)
    mb.op(Op.DENSIFY, [w], [y])
    mb.output(y)
    return mb.to_bytes()


def run_densify(model_bytes, tensor_index=None):
    """Our DENSIFY on the model's first DENSIFY op (reference and optimized)."""
    model = read_model(model_bytes)
    sg = model.main
    op = next(o for o in sg.operators if model.op_name(o) == "DENSIFY")
    t = sg.tensors[op.inputs[0]]
    info = TensorInfo(
        op.inputs[0],
        t.name,
        tuple(t.shape),  # the dense shape
        t.dtype,
        t.type,
        t.quantization,
        data=model.constant(t),  # the stored values, as raw bytes
        sparsity=t.sparsity,
    )
    out_tensor = sg.tensors[op.outputs[0]]
    out = TensorInfo(op.outputs[0], out_tensor.name, tuple(out_tensor.shape), t.dtype, t.type)
    node = Node(0, "DENSIFY", 1, [info], [out])
    spec = quantize.KERNELS[Op.DENSIFY]
    prepared = spec.prepare(node)
    result = np.empty(prepared.output_shapes[0], t.dtype)
    spec.invoke(prepared.data, [info.data], [result])
    return result, op.outputs[0]


CSR, DENSE = DimensionType.SPARSE_CSR, DimensionType.DENSE
LAYOUTS = [
    ("csr-rows", (4, 6), [0, 1], (), (), [DENSE, CSR]),
    ("csr-both", (4, 6), [0, 1], (), (), [CSR, CSR]),
    ("col-major", (4, 6), [1, 0], (), (), [DENSE, CSR]),
    ("all-dense", (3, 5), [0, 1], (), (), [DENSE, DENSE]),
    ("block-1x4", (4, 8), [0, 1, 2, 3], [0, 1], [1, 4], [DENSE, CSR, DENSE, DENSE]),
    ("block-cols-only", (4, 8), [0, 1, 2], [1], [4], [DENSE, CSR, DENSE]),
    ("block-2x2", (4, 6), [0, 1, 2, 3], [0, 1], [2, 2], [DENSE, CSR, DENSE, DENSE]),
    ("block-2x2-inner-swapped", (4, 6), [0, 1, 3, 2], [0, 1], [2, 2], [DENSE, CSR, DENSE, DENSE]),
    ("rank-4", (2, 3, 3, 4), [0, 1, 2, 3], (), (), [DENSE, DENSE, DENSE, CSR]),
    ("rank-3-permuted", (3, 4, 5), [2, 0, 1], (), (), [DENSE, CSR, CSR]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8], ids=_ids)
@pytest.mark.parametrize(
    ("shape", "order", "block_map", "blocks", "formats"),
    [layout[1:] for layout in LAYOUTS],
    ids=[layout[0] for layout in LAYOUTS],
)
def test_densify_hand_encoded(shape, order, block_map, blocks, formats, dtype):
    rng = np.random.default_rng(5)
    dense = (rng.standard_normal(shape) * 10).astype(dtype)
    dense[rng.random(shape) < 0.6] = 0
    dense.reshape(-1)[:4] = 0  # an empty leading row/block
    values, sparsity = encode(dense, order, block_map, blocks, formats)
    model = densify_model(values, sparsity, shape)
    want = run_litert(model, [])[0]
    ours, _ = run_densify(model)
    np.testing.assert_array_equal(want, dense)
    assert_matches(ours, want, "densified")


def test_densify_rejects_malformed_sparsity():
    dense = np.arange(12, dtype=np.float32).reshape(3, 4)
    values, sparsity = encode(dense, [0, 1], formats=[DENSE, CSR])
    sparsity.dim_metadata[1].array_segments = np.array([0, 4], np.uint8)  # one row of three
    with pytest.raises(PrepareError, match="array_segments too short"):
        run_densify(densify_model(values, sparsity, (3, 4)))
    values, sparsity = encode(dense, [0, 1], formats=[DENSE, CSR])
    with pytest.raises(PrepareError, match="values but stores"):
        run_densify(densify_model(values[:5], sparsity, (3, 4)))
    values, sparsity = encode(dense, [0, 1], formats=[DENSE, CSR])
    sparsity.traversal_order = [0, 0]
    with pytest.raises(PrepareError, match="permutation"):
        run_densify(densify_model(values, sparsity, (3, 4)))


def converter_sparse_model() -> bytes:
    """A pruned Dense layer the official converter stored sparse (built once, cached)."""
    cache = Path(os.environ.get("EDGELITE_CACHE", REPO / ".cache")) / "kernels"
    version = importlib.metadata.version("tensorflow-cpu")
    path = cache / f"sparse_dense_tf-{version}.tflite"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", _CONVERT, str(path)],
            check=True,
            cwd=REPO,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
        )
    return path.read_bytes()


_CONVERT = """
import sys, numpy as np, tensorflow as tf
tf.keras.utils.set_random_seed(0)
inp = tf.keras.Input((64,), batch_size=1)
model = tf.keras.Model(inp, tf.keras.layers.Dense(32)(inp))
kernel, bias = model.get_weights()
kernel[np.random.default_rng(0).random(kernel.shape) < 0.8] = 0
model.set_weights([kernel, bias])
converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
open(sys.argv[1] + ".tmp", "wb").write(converter.convert())
import os; os.replace(sys.argv[1] + ".tmp", sys.argv[1])
"""


def test_densify_model_from_the_official_converter():
    model_bytes = converter_sparse_model()
    model = read_model(model_bytes)
    assert any(t.sparsity is not None for t in model.main.tensors)
    ours, output_index = run_densify(model_bytes)
    interp = litert_interpreter(model_bytes, experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.zeros((1, 64), np.float32))
    interp.invoke()
    assert_matches(ours, interp.get_tensor(output_index), "densified weights")
    assert np.count_nonzero(ours) < 0.3 * ours.size
