"""Lowerings the official converter lacks or does differently: transposed convolutions
with EXPLICIT padding or dilation, 3-D transposed convolution, 3-D pooling, einsum with
'...' and repeated letters.

Each case is converted by edgelite, run in ai-edge-litert and edgelite, and compared with
TensorFlow (1e-4 rule) and between the runtimes (1e-5 rule). Where the official
converter converts the same function, edgelite's op count is no larger; where it
rejects it (a TF Select op), that is asserted too, so the finding stays pinned.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import (
    check_keras,
    check_runs,
    convert_to_bytes,
    keras_outputs,
    official_bytes,
    op_count,
    op_names,
)
from tests.oracle import run_litert

RNG = np.random.default_rng(5)


def _array(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _official_function(function) -> bytes:
    import tensorflow as tf

    concrete = function.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], function).convert()


def _convert_function(fn, inputs: list[np.ndarray]):
    """(tf.function, edgelite bytes) for ``fn`` over inputs shaped like ``inputs``."""
    import tensorflow as tf

    specs = [tf.TensorSpec(x.shape, tf.float32, name=f"in{i}") for i, x in enumerate(inputs)]
    function = tf.function(fn, input_signature=specs)
    data, _ = convert_to_bytes(function)
    return function, data


def _check_function(fn, inputs: list[np.ndarray], official: str) -> bytes:
    """Convert, run both runtimes against TF; compare op counts with the official
    converter (``official``: 'converts' or 'rejects')."""
    function, data = _convert_function(fn, inputs)
    check_runs(data, inputs, [np.asarray(function(*inputs))])
    if official == "converts":
        assert op_count(data) <= op_count(_official_function(function))
    else:
        from tensorflow.lite.python.convert_phase import ConverterError

        with pytest.raises(ConverterError):
            _official_function(function)
    return data


# -- einsum ----------------------------------------------------------------------------

EINSUM = {
    # name: (equation, operand shapes, constant right operand?, official, our ops)
    "ellipsis_dense": ("...ij,jk->...ik", [(2, 3, 4, 5), (5, 6)], True, "converts", None),
    "ellipsis_batch": ("...ij,...jk->...ik", [(2, 4, 4), (2, 4, 3)], False, "converts", None),
    "ellipsis_ranks": ("...ij,...jk->...ik", [(2, 3, 4, 5), (3, 5, 2)], False, "converts", None),
    "ellipsis_broadcast": (
        "...ij,...jk->...ik",
        [(2, 1, 4, 5), (1, 3, 5, 2)],
        False,
        "converts",
        None,
    ),
    "diagonal": ("bii->bi", [(2, 4, 4)], False, "rejects", ["RESHAPE", "GATHER"]),
    "trace": ("bii->b", [(2, 4, 4)], False, "rejects", ["RESHAPE", "GATHER", "SUM"]),
    "matrix_trace": ("ii->", [(5, 5)], False, "rejects", None),
    "apart": ("iji->ji", [(3, 2, 3)], False, "rejects", None),
    "triple": ("iii->i", [(3, 3, 3)], False, "rejects", None),
    "ellipsis_diagonal": ("...ii->...i", [(2, 3, 4, 4)], False, "rejects", None),
    "diagonal_operand": ("bij,bjj->bi", [(2, 3, 4), (2, 4, 4)], False, "rejects", None),
    "sum_free_letter": ("bij,bjk->bk", [(2, 3, 4), (2, 4, 5)], False, "rejects", None),
    "full_contraction": ("ij,ij->", [(3, 4), (3, 4)], False, "rejects", None),
    "transpose_only": ("abc->cab", [(2, 3, 4)], False, "converts", ["TRANSPOSE"]),
    "implicit_output": ("ij,jk", [(3, 4), (4, 2)], False, "converts", None),
}


@pytest.mark.parametrize("name", sorted(EINSUM))
def test_einsum(name):
    import tensorflow as tf

    equation, shapes, constant_rhs, official, ops = EINSUM[name]
    arrays = [_array(*s) for s in shapes]
    if constant_rhs:
        weights = tf.constant(arrays.pop())
        data = _check_function(lambda x: tf.einsum(equation, x, weights), arrays, official)
    else:
        data = _check_function(lambda *xs: tf.einsum(equation, *xs), arrays, official)
    if ops is not None:
        assert op_names(data) == ops


def test_einsum_ellipsis_with_constant_weights_is_one_fully_connected():
    import tensorflow as tf

    weights = tf.constant(_array(5, 6))
    _, data = _convert_function(lambda x: tf.einsum("...ij,jk->...ik", x, weights),
                                [_array(2, 3, 4, 5)])  # fmt: skip
    assert op_names(data) == ["FULLY_CONNECTED"]


def test_einsum_with_an_unknown_batch_size():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 5]), tf.TensorSpec([None, 5, 3])])
    def product(x, y):
        return tf.einsum("...ij,...jk->...ik", x, y)

    data, _ = convert_to_bytes(product)
    for batch in (1, 3):
        x, y = _array(batch, 4, 5), _array(batch, 5, 3)
        check_runs(data, [x, y], [np.asarray(product(x, y))])


def test_einsum_diagonal_of_unknown_size_is_reported():
    import tensorflow as tf

    from edgelite.converter.errors import UnsupportedOpsError

    diagonal = tf.function(
        lambda x: tf.einsum("bii->bi", x), input_signature=[tf.TensorSpec([2, None, None])]
    )
    with pytest.raises(UnsupportedOpsError, match="diagonal over letter 'i' of unknown size"):
        convert_to_bytes(diagonal)


# -- transposed convolutions -------------------------------------------------------------


@pytest.mark.parametrize(
    "pads, size, ops",
    [
        ([[0, 0], [1, 0], [0, 1], [0, 0]], 10, ["TRANSPOSE_CONV", "SLICE"]),
        ([[0, 0], [0, 1], [0, 2], [0, 0]], 10, ["TRANSPOSE_CONV"]),  # leading pads 0: VALID
        ([[0, 0], [1, 1], [1, 1], [0, 0]], 9, ["TRANSPOSE_CONV"]),  # SAME's split
        ([[0, 0], [2, 1], [1, 2], [0, 0]], 8, ["TRANSPOSE_CONV", "SLICE"]),
        ([[0, 0], [2, 0], [0, 1], [0, 0]], 10, ["TRANSPOSE_CONV", "SLICE"]),  # rows past full
    ],
)
def test_conv2d_transpose_explicit_padding(pads, size, ops):
    import tensorflow as tf

    w = tf.constant(_array(3, 3, 4, 3))

    def conv(x):
        return tf.nn.conv2d_transpose(x, w, [1, size, size, 4], strides=2, padding=pads)

    assert op_names(_check_function(conv, [_array(1, 5, 5, 3)], "rejects")) == ops


def _by_definition(x, kernel, strides, dilations, out_size, pads_before):
    """The transposed convolution by its definition: each input pixel scatters
    kernel[a, b] @ x over a dilated window of the full output; the pads are cut off."""
    kh, kw = kernel.shape[:2]
    n, height, width, _ = x.shape
    rows = max((height - 1) * strides + (kh - 1) * dilations + 1, pads_before[0] + out_size[0])
    cols = max((width - 1) * strides + (kw - 1) * dilations + 1, pads_before[1] + out_size[1])
    full = np.zeros((n, rows, cols, kernel.shape[2]))
    for i, j, a, b in np.ndindex(height, width, kh, kw):
        row, col = i * strides + a * dilations, j * strides + b * dilations
        full[:, row, col] += x[:, i, j].astype(np.float64) @ kernel[a, b].T
    top, left = pads_before
    return full[:, top : top + out_size[0], left : left + out_size[1]].astype(np.float32)


@pytest.mark.parametrize(
    "strides, padding, size",
    [(1, "SAME", 5), (1, "VALID", 9), (2, "SAME", 10), (2, "VALID", 13), (2, "EXPLICIT", 10)],
)
def test_dilated_conv2d_transpose(strides, padding, size):
    """TensorFlow's CPU kernel cannot run a dilated transposed convolution, so the
    reference is the definition; the official converter rejects the op."""
    import tensorflow as tf

    kernel = _array(3, 3, 4, 3)
    explicit = [0, 0, 2, 1, 1, 2, 0, 0] if padding == "EXPLICIT" else []

    def conv(x):
        return tf.raw_ops.Conv2DBackpropInput(
            input_sizes=[1, size, size, 4], filter=kernel, out_backprop=x,
            strides=[1, strides, strides, 1], padding=padding, explicit_paddings=explicit,
            dilations=[1, 2, 2, 1],
        )  # fmt: skip

    x = _array(1, 5, 5, 3)
    _, data = _convert_function(conv, [x])
    excess = max(4 * strides + 5 - size, 0)
    before = {"SAME": (excess // 2,) * 2, "VALID": (0, 0), "EXPLICIT": (2, 1)}[padding]
    expected = _by_definition(x, kernel, strides, 2, (size, size), before)
    check_runs(data, [x], [expected])
    assert op_names(data) == ["TRANSPOSE_CONV"] + (["SLICE"] if padding == "EXPLICIT" else [])


def test_keras_dilated_conv2d_transpose():
    import keras

    keras.utils.set_random_seed(2)
    layer = keras.layers.Conv2DTranspose(4, 3, dilation_rate=2, padding="same")
    model = keras.Sequential([keras.Input((5, 5, 3), batch_size=1), layer])
    x = _array(1, 5, 5, 3)
    data, _ = convert_to_bytes(model)
    expected = _by_definition(x, layer.kernel.numpy(), 1, 2, (5, 5), (2, 2))
    check_runs(data, [x], [expected + layer.bias.numpy()])


def test_conv2d_transpose_output_padding():
    import keras

    keras.utils.set_random_seed(2)
    layer = keras.layers.Conv2DTranspose(4, 3, strides=2, output_padding=1, padding="same")
    model = keras.Sequential([keras.Input((5, 5, 3), batch_size=1), layer])
    data = check_keras(model, [_array(1, 5, 5, 3)])
    assert op_count(data) <= op_count(official_bytes(model))


# -- 3-D transposed convolution and pooling ----------------------------------------------


def _keras_5d(layer, batch: int | None = 1):
    import keras

    keras.utils.set_random_seed(4)
    return keras.Sequential([keras.Input((4, 6, 5, 2), batch_size=batch), layer])


CONV3D_TRANSPOSE = {
    "same_strided": dict(filters=3, kernel_size=(3, 2, 3), strides=(2, 1, 2), padding="same"),
    "valid": dict(filters=3, kernel_size=2, padding="valid", activation="relu"),
}


@pytest.mark.parametrize("name", sorted(CONV3D_TRANSPOSE))
def test_conv3d_transpose_runs_in_litert(name):
    """One CONV_3D_TRANSPOSE, as the official converter emits; ai-edge-litert matches Keras."""
    import keras

    from tests.converter.helpers import assert_close_to_source

    model = _keras_5d(keras.layers.Conv3DTranspose(**CONV3D_TRANSPOSE[name]))
    x = _array(1, 4, 6, 5, 2)
    data, _ = convert_to_bytes(model)
    assert "CONV_3D_TRANSPOSE" in op_names(data)
    assert op_count(data) <= op_count(official_bytes(model))
    expected = keras_outputs(model, [x])[0]
    assert_close_to_source(run_litert(data, [x])[0], expected, "litert vs keras")


def test_conv3d_transpose_runs_in_edgelite():
    import keras

    model = _keras_5d(keras.layers.Conv3DTranspose(**CONV3D_TRANSPOSE["same_strided"]))
    check_keras(model, [_array(1, 4, 6, 5, 2)])


POOL3D = {
    "max_2": ("MaxPooling3D", dict(pool_size=2)),
    "max_same_strided": (
        "MaxPooling3D",
        dict(pool_size=(3, 2, 3), strides=(2, 3, 1), padding="same"),
    ),
    "avg_valid": ("AveragePooling3D", dict(pool_size=(2, 3, 2), strides=(1, 2, 2))),
    "avg_same": ("AveragePooling3D", dict(pool_size=3, strides=2, padding="same")),
    "depth_only": ("MaxPooling3D", dict(pool_size=(2, 1, 1))),
    "frames_only": ("AveragePooling3D", dict(pool_size=(1, 2, 2), padding="same")),
}


@pytest.mark.parametrize("name", sorted(POOL3D))
def test_pooling3d(name):
    """Two 2-D pools (reshapes around them); the official converter rejects 3-D pooling."""
    import keras
    from tensorflow.lite.python.convert_phase import ConverterError

    kind, options = POOL3D[name]
    model = _keras_5d(getattr(keras.layers, kind)(**options))
    data = check_keras(model, [_array(1, 4, 6, 5, 2)])
    pools = [n for n in op_names(data) if n.endswith("POOL_2D")]
    assert len(pools) == (1 if name.endswith("only") else 2)
    with pytest.raises(ConverterError):
        official_bytes(model)


def test_pooling3d_dynamic_batch():
    import keras

    model = _keras_5d(keras.layers.AveragePooling3D(2, padding="same"), batch=None)
    data, _ = convert_to_bytes(model)
    for batch in (1, 3):
        x = _array(batch, 4, 6, 5, 2)
        check_runs(data, [x], keras_outputs(model, [x]))
