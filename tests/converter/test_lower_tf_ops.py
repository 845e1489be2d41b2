"""tf.* ops through tf.function sources: every lowering family, both runtimes, compared
with TensorFlow's own result."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check_runs, convert_to_bytes, op_names

RNG = np.random.default_rng(11)
F4 = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
F2 = RNG.standard_normal((3, 4)).astype(np.float32)
I2 = RNG.integers(-5, 6, (3, 4)).astype(np.int32)


def _cases(tf):
    """name -> (function, inputs); shapes of the inputs make the input signature."""
    pos = np.abs(F2) + 0.5
    return {
        "strided_slice_masks": (lambda x: x[:, 1:, ::2, ...][..., None, 1:], [F4]),
        "strided_slice_shrink_reverse": (lambda x: x[:, -1, ::-1], [F4]),
        "slice_and_split": (
            lambda x: tf.concat(tf.split(x[:, 1:3], 2, axis=1)[::-1], axis=-1),
            [F4],
        ),
        "split_v_unstack_stack": (
            lambda x: tf.stack(tf.unstack(tf.split(x, [1, 3], axis=1)[1], axis=1), axis=0),
            [F2],
        ),
        "gather_axis1": (lambda x: tf.gather(x, [2, 0, 2], axis=1), [F4]),
        "gather_nd": (lambda x: tf.gather_nd(x, [[0, 1], [2, 3]]), [F2]),
        "pads": (
            lambda x: tf.pad(
                tf.pad(x, [[0, 0], [1, 2]], constant_values=3.0), [[1, 1], [2, 0]], mode="REFLECT"
            ),
            [F2],
        ),
        "mirror_symmetric": (lambda x: tf.pad(x, [[1, 0], [0, 2]], mode="SYMMETRIC"), [F2]),
        "tile_broadcast": (lambda x: tf.tile(x, [2, 1]) + tf.broadcast_to(x[:1], [6, 4]), [F2]),
        "resize_modes": (
            lambda x: (
                tf.compat.v1.image.resize_bilinear(x, [6, 8], align_corners=True)
                + tf.image.resize(x, [6, 8], method="nearest")
            ),
            [F4[:, :, :, :3]],
        ),
        "casts_and_select": (
            lambda x, i: tf.where(
                x > 0, tf.cast(i, tf.float32), tf.cast(tf.cast(x * 3, tf.int32), tf.float32)
            ),
            [F2, I2],
        ),
        "comparisons_logic": (
            lambda x, i: tf.cast(
                tf.logical_or(tf.logical_and(x >= 0, i < 2), tf.logical_not(tf.equal(i, 0))),
                tf.int32,
            ),
            [F2, I2],
        ),
        "reductions": (
            lambda x: (
                tf.reduce_sum(x, [1, 2], keepdims=True)[..., 0]
                + tf.reduce_max(x, 1)[:, :1, 0] * tf.reduce_min(x, -1)[:, 0, :1]
                + tf.reduce_mean(x, [1, 2, 3])[:, None, None]
            ),
            [F4],
        ),
        "reduce_prod_any": (
            lambda x: tf.reduce_prod(x, 0) + tf.cast(tf.reduce_any(x > 1, 0), tf.float32),
            [F2],
        ),
        "argmax_argmin": (
            lambda x: (
                tf.argmax(x, axis=1, output_type=tf.int32)
                - tf.argmin(x, axis=0, output_type=tf.int32)[:3]
            ),
            [F2],
        ),
        "unary_math": (
            lambda x: (
                tf.exp(x)
                + tf.math.log(x)
                + tf.sqrt(x)
                + tf.math.rsqrt(x)
                + tf.square(x)
                + tf.sin(x)
                - tf.cos(x)
                + tf.floor(x)
                + tf.math.ceil(x)
                + tf.round(x)
                + tf.sign(x - 1.0)
                + tf.abs(-x)
                + tf.math.reciprocal(x)
            ),
            [pos],
        ),
        "binary_math": (
            lambda x, y: (
                tf.maximum(x, y)
                - tf.minimum(x, y)
                + tf.math.squared_difference(x, y)
                + tf.pow(tf.abs(x), 1.5)
                + x / (tf.abs(y) + 1.0)
            ),
            [F2, F2[::-1].copy()],
        ),
        "floor_div_mod": (lambda i: tf.math.floordiv(i, 3) + tf.math.floormod(i, 4), [I2]),
        "clip_relu6_and_general": (
            lambda x: tf.clip_by_value(x, 0.0, 6.0) + tf.clip_by_value(x, -0.5, 0.25),
            [F2 * 4],
        ),
        "batch_matmul_and_adjoint": (
            lambda a, b: tf.matmul(a, b, transpose_b=True),
            [F4[0], F4[1]],
        ),
        "einsum_attention": (
            lambda q, k: tf.einsum("bqhd,bkhd->bhqk", q, k),
            [F4, F4[:, ::-1].copy()],
        ),
        "einsum_dense": (
            lambda x: tf.einsum(
                "abc,cd->abd", x, tf.constant(RNG.standard_normal((5, 3)).astype(np.float32))
            ),
            [F4[0]],
        ),
        "space_depth": (
            lambda x: tf.nn.depth_to_space(tf.nn.space_to_depth(x, 2), 2),
            [RNG.standard_normal((1, 4, 6, 3)).astype(np.float32)],
        ),
        "reverse_range": (lambda x: tf.reverse(x, [1]) + tf.range(4, dtype=tf.float32), [F2]),
    }


def _run_case(name):
    import tensorflow as tf

    fn, inputs = _cases(tf)[name]
    specs = [
        tf.TensorSpec(x.shape, tf.as_dtype(x.dtype), name=f"in{i}") for i, x in enumerate(inputs)
    ]
    function = tf.function(fn, input_signature=specs)
    expected = [np.asarray(function(*inputs))]
    data, _ = convert_to_bytes(function)
    check_runs(data, inputs, expected)
    return data


@pytest.mark.parametrize(
    "name",
    [
        "strided_slice_masks",
        "strided_slice_shrink_reverse",
        "slice_and_split",
        "split_v_unstack_stack",
        "gather_axis1",
        "gather_nd",
        "pads",
        "mirror_symmetric",
        "tile_broadcast",
        "resize_modes",
        "casts_and_select",
        "comparisons_logic",
        "reductions",
        "reduce_prod_any",
        "argmax_argmin",
        "unary_math",
        "binary_math",
        "floor_div_mod",
        "clip_relu6_and_general",
        "batch_matmul_and_adjoint",
        "einsum_attention",
        "einsum_dense",
        "space_depth",
        "reverse_range",
    ],
)
def test_tf_op_family(name):
    _run_case(name)


def test_einsum_with_constant_weights_is_one_fully_connected():
    assert op_names(_run_case("einsum_dense")) == ["FULLY_CONNECTED"]


def test_shape_arithmetic_on_dynamic_batch():
    """Reshape to [tf.shape(x)[0], -1] keeps the batch dynamic and drops the shape ops."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 4], tf.float32, name="x")])
    def flatten(x):
        return tf.reshape(x, [tf.shape(x)[0], -1]) * 2.0

    data, _ = convert_to_bytes(flatten)
    for batch in (1, 5):
        x = RNG.standard_normal((batch, 3, 4)).astype(np.float32)
        check_runs(data, [x], [np.asarray(flatten(x))])
    assert "SHAPE" not in op_names(data)
