"""Functional control flow (tf.while_loop, tf.cond) and SavedModel signatures."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from edgelite.schema import read_model
from tests.converter.helpers import check_runs, convert_to_bytes, op_names
from tests.oracle import assert_matches, litert_interpreter


def test_while_loop_with_runtime_trip_count():
    import tensorflow as tf

    @tf.function(
        input_signature=[
            tf.TensorSpec([3], tf.float32, name="x"),
            tf.TensorSpec([], tf.int32, name="n"),
        ]
    )
    def loop(x, n):
        def body(i, acc):
            return i + 1, acc * 1.5 + tf.sin(acc)

        return tf.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x])[1]

    data, _ = convert_to_bytes(loop)
    x = np.asarray([0.1, -0.2, 0.3], np.float32)
    for n in (0, 1, 4):
        check_runs(data, [x, np.int32(n)], [np.asarray(loop(x, np.int32(n)))])
    model = read_model(data)
    assert "WHILE" in op_names(data) and len(model.subgraphs) == 3


def test_cond_takes_either_branch():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32, name="x")])
    def branch(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: tf.nn.relu(x) - 1.0)

    data, _ = convert_to_bytes(branch)
    for sign in (1.0, -1.0):
        x = np.full((2, 3), sign, np.float32)
        check_runs(data, [x], [np.asarray(branch(x))])
    assert "IF" in op_names(data)


@pytest.fixture(scope="module")
def two_signature_model(tmp_path_factory):
    """A SavedModel whose two signatures share one variable."""
    import tensorflow as tf

    class Codec(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 10)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
        def encode(self, features):
            return {"code": tf.nn.relu(features @ self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="code")])
        def decode(self, code):
            return {
                "recon": tf.matmul(code, self.w, transpose_b=True),
                "norm": tf.reduce_sum(code * code, 1),
            }

    module = Codec()
    path = tmp_path_factory.mktemp("savedmodel") / "codec"
    tf.saved_model.save(
        module, str(path), signatures={"encode": module.encode, "decode": module.decode}
    )
    return path, module


def test_saved_model_signatures_become_signature_defs(two_signature_model):
    path, module = two_signature_model
    data, report = convert_to_bytes(path)
    assert report.signatures == ["decode", "encode"]
    model = read_model(data)
    assert {s.key: (list(s.inputs), sorted(s.outputs)) for s in model.signature_defs} == {
        "decode": (["code"], ["norm", "recon"]),
        "encode": (["features"], ["code"]),
    }
    code = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    features = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    for key, inputs in (("decode", {"code": code}), ("encode", {"features": features})):
        expected = {k: v.numpy() for k, v in getattr(module, key)(**inputs).items()}
        theirs = litert_interpreter(data).get_signature_runner(key)(**inputs)
        ours = Interpreter(model_content=data).get_signature_runner(key)(**inputs)
        for name, value in expected.items():
            assert_matches(ours[name], theirs[name], f"{key}/{name}")
            np.testing.assert_allclose(theirs[name], value, rtol=1e-5, atol=1e-5)


def test_one_signature_can_be_picked(two_signature_model):
    path, _ = two_signature_model
    data, report = convert_to_bytes(path, signature_keys=["encode"])
    assert report.signatures == ["encode"]
    assert len(read_model(data).subgraphs) == 1
