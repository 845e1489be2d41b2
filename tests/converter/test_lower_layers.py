"""Keras layers, one small model per op family: converted by edgelite, run in both
runtimes, compared with Keras, and (op count) with the official converter."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import (
    check_runs,
    convert_to_bytes,
    keras_outputs,
    official_bytes,
    op_count,
    op_names,
)


def _layers():
    import keras

    return keras, keras.layers


def _sequential(input_shape, *layers, batch_size=None, dtype="float32"):
    keras, _ = _layers()
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input(input_shape, batch_size=batch_size, dtype=dtype), *layers])


# name -> (model factory, input shape incl. batch, ops that must appear)
CASES = {
    "conv_valid_strided": (
        lambda L: _sequential((9, 9, 3), L.Conv2D(4, 3, strides=2)),
        (1, 9, 9, 3),
        ["CONV_2D"],
    ),
    "conv_dilated": (
        lambda L: _sequential((12, 12, 3), L.Conv2D(4, 3, dilation_rate=2, padding="same")),
        (1, 12, 12, 3),
        [],
    ),
    "conv_grouped": (
        lambda L: _sequential((8, 8, 4), L.Conv2D(6, 3, groups=2)),
        (1, 8, 8, 4),
        ["CONV_2D"],
    ),
    "conv1d": (
        lambda L: _sequential(
            (16, 4),
            L.Conv1D(6, 3, padding="same", activation="relu"),
            L.Conv1D(5, 3, strides=2),
            L.GlobalAveragePooling1D(),
        ),
        (2, 16, 4),
        ["CONV_2D"],
    ),
    "conv3d": (
        lambda L: _sequential((6, 6, 6, 2), L.Conv3D(3, 3, padding="same")),
        (1, 6, 6, 6, 2),
        ["CONV_3D"],
    ),
    "depthwise_multiplier": (
        lambda L: _sequential(
            (8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")
        ),
        (1, 8, 8, 3),
        ["DEPTHWISE_CONV_2D"],
    ),
    "separable": (
        lambda L: _sequential(
            (8, 8, 3), L.SeparableConv2D(5, 3, padding="same", activation="relu6")
        ),
        (1, 8, 8, 3),
        ["DEPTHWISE_CONV_2D", "CONV_2D"],
    ),
    "conv_transpose": (
        lambda L: _sequential(
            (5, 5, 3), L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")
        ),
        (1, 5, 5, 3),
        ["TRANSPOSE_CONV"],
    ),
    "pooling": (
        lambda L: _sequential(
            (9, 9, 3),
            L.MaxPooling2D(3, 2, padding="same"),
            L.AveragePooling2D(2, padding="same"),
            L.GlobalMaxPooling2D(),
        ),
        (1, 9, 9, 3),
        ["MAX_POOL_2D", "AVERAGE_POOL_2D"],
    ),
    "batchnorm_dense": (
        lambda L: _sequential((6,), L.Dense(5), L.BatchNormalization(), L.ReLU(max_value=6.0)),
        (2, 6),
        ["FULLY_CONNECTED"],
    ),
    "dense_3d": (
        lambda L: _sequential((4, 6), L.Dense(5, activation="relu")),
        (1, 4, 6),
        ["FULLY_CONNECTED"],
    ),
    "activations": (
        lambda L: _sequential(
            (10,),
            L.Dense(8, activation="elu"),
            L.Dense(8, activation="sigmoid"),
            L.Dense(8, activation="tanh"),
            L.LeakyReLU(0.1),
            L.Dense(4, activation="swish"),
        ),
        (3, 10),
        ["ELU", "LEAKY_RELU"],
    ),
    "gelu_exact": (lambda L: _sequential((10,), L.Dense(6, activation="gelu")), (2, 10), ["GELU"]),
    "hard_swish": (
        lambda L: _sequential((10,), L.Activation("hard_swish")),
        (3, 10),
        ["HARD_SWISH"],
    ),
    "softmax_log_softmax": (
        lambda L: _sequential((6,), L.Softmax(), L.Activation("log_softmax")),
        (2, 6),
        ["SOFTMAX", "LOG_SOFTMAX"],
    ),
    "layer_norm": (
        lambda L: _sequential((5, 8), L.LayerNormalization()),
        (1, 5, 8),
        ["MEAN", "RSQRT"],
    ),
    "flatten_dynamic_batch": (
        lambda L: _sequential((4, 4, 2), L.Flatten(), L.Dense(3)),
        (2, 4, 4, 2),
        ["RESHAPE"],
    ),
    "zero_padding": (
        lambda L: _sequential((6, 6, 2), L.ZeroPadding2D(((1, 2), (0, 1))), L.Conv2D(3, 3)),
        (1, 6, 6, 2),
        ["PAD"],
    ),
    "cropping": (
        lambda L: _sequential((6, 6, 2), L.Cropping2D(((1, 2), (0, 1)))),
        (1, 6, 6, 2),
        [],
    ),
    "permute_reshape": (
        lambda L: _sequential((3, 4, 5), L.Permute((2, 1, 3)), L.Reshape((12, 5))),
        (1, 3, 4, 5),
        ["TRANSPOSE"],
    ),
    "upsampling": (
        lambda L: _sequential(
            (4, 4, 3), L.UpSampling2D(2), L.UpSampling2D(2, interpolation="bilinear")
        ),
        (1, 4, 4, 3),
        ["RESIZE_BILINEAR"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_family(name):
    _, layers = _layers()
    factory, shape, expected_ops = CASES[name]
    model = factory(layers)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    data, _ = convert_to_bytes(model)
    check_runs(data, [x], keras_outputs(model, [x]))
    assert set(expected_ops) <= set(op_names(data))
    assert op_count(data) <= op_count(official_bytes(model))


def test_softplus_is_exact_where_exp_would_overflow():
    _, layers = _layers()
    model = _sequential((4,), layers.Activation("softplus"))
    x = np.asarray([[-120.0, -3.0, 0.5, 150.0]], np.float32)
    data, _ = convert_to_bytes(model)
    check_runs(data, [x], keras_outputs(model, [x]))


def test_embedding_and_gru_loop():
    _, layers = _layers()
    model = _sequential((6,), layers.Embedding(20, 4), layers.GRU(5), batch_size=1, dtype="int32")
    tokens = np.random.default_rng(1).integers(0, 20, (1, 6)).astype(np.int32)
    data, _ = convert_to_bytes(model)
    check_runs(data, [tokens], keras_outputs(model, [tokens]))
    assert "WHILE" in op_names(data)
    assert op_count(data) <= op_count(official_bytes(model))
