"""Models that keep state: tf.Variables assigned inside the function become TFLite resource
variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE, initialised by CALL_ONCE), checked
over several consecutive invokes in both runtimes against TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from tests.converter.helpers import convert_to_bytes, op_names
from tests.oracle import assert_matches, litert_interpreter


def _counter():
    import tensorflow as tf

    class Counter(tf.Module):
        """total += x * w (w is read only: it freezes into a constant); returns 2 * total."""

        def __init__(self):
            self.total = tf.Variable([1.0, 2.0, 3.0])
            self.w = tf.Variable([0.5, 0.25, 2.0])

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="x")])
        def __call__(self, x):
            self.total.assign_add(x * self.w)
            return self.total * 2.0

    return Counter()


def _window():
    import tensorflow as tf

    class Window(tf.Module):
        """A streaming window of the last 4 values (assign) and a decaying sum (assign_sub)."""

        def __init__(self):
            self.buffer = tf.Variable(tf.zeros([4, 2]))
            self.level = tf.Variable(10.0)

        @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32, name="sample")])
        def __call__(self, sample):
            self.buffer.assign(tf.concat([self.buffer[1:], sample], axis=0))
            self.level.assign_sub(tf.reduce_sum(sample) * 0.5)
            return tf.reduce_mean(self.buffer, axis=0) + self.level

    return Window()


def _run_each(data: bytes, inputs: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Both runtimes, one interpreter each, every input in turn."""
    results = {}
    for name, interp in (
        ("edgelite", Interpreter(model_content=data)),
        ("litert", litert_interpreter(data)),
    ):
        interp.allocate_tensors()
        x, y = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
        results[name] = []
        for value in inputs:
            interp.set_tensor(x, value)
            interp.invoke()
            results[name].append(interp.get_tensor(y).copy())
    return results


@pytest.mark.parametrize(("make", "shape"), [(_counter, (3,)), (_window, (1, 2))])
def test_state_carries_over_invokes(make, shape):
    module = make()
    data, _ = convert_to_bytes(module.__call__)
    inputs = [np.random.default_rng(i).standard_normal(shape).astype(np.float32) for i in range(5)]
    expected = [module(x).numpy() for x in inputs]  # after converting: same start state
    results = _run_each(data, inputs)
    for step, reference in enumerate(expected):
        assert_matches(results["litert"][step], reference, f"litert invoke {step}")
        assert_matches(results["edgelite"][step], reference, f"edgelite invoke {step}")


def test_same_ops_as_the_official_converter():
    import tensorflow as tf

    module = _counter()
    data, _ = convert_to_bytes(module.__call__)
    concrete = module.__call__.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.experimental_enable_resource_variables = True
    assert op_names(data) == op_names(converter.convert())


def test_read_only_variables_stay_constants():
    import tensorflow as tf

    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable([2.0, 3.0])

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32, name="x")])
        def __call__(self, x):
            return x * self.w

    module = Scale()
    data, _ = convert_to_bytes(module.__call__)
    assert op_names(data) == ["MUL"]


@pytest.fixture(scope="module")
def shared_state_model(tmp_path_factory):
    """A SavedModel whose two signatures share one assigned variable."""
    import tensorflow as tf

    class Accumulator(tf.Module):
        def __init__(self):
            self.total = tf.Variable(tf.zeros([2]))

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32, name="x")])
        def add(self, x):
            self.total.assign_add(x)
            return self.total + 0.0

        @tf.function(input_signature=[tf.TensorSpec([], tf.float32, name="factor")])
        def scaled(self, factor):
            return self.total * factor

    module = Accumulator()
    path = tmp_path_factory.mktemp("state") / "accumulator"
    tf.saved_model.save(module, str(path), signatures={"add": module.add, "scaled": module.scaled})
    return path


def test_signatures_share_a_variable(shared_state_model):
    data, report = convert_to_bytes(shared_state_model)
    assert sorted(report.signatures) == ["add", "scaled"]
    assert op_names(data).count("CALL_ONCE") == 2  # both run the one init subgraph
    for interp in (Interpreter(model_content=data), litert_interpreter(data)):
        add, scaled = interp.get_signature_runner("add"), interp.get_signature_runner("scaled")
        add(x=np.array([1.0, 2.0], np.float32))
        add(x=np.array([0.5, -1.0], np.float32))
        (value,) = scaled(factor=np.array(10.0, np.float32)).values()
        np.testing.assert_allclose(value, [15.0, 10.0])
        (value,) = add(x=np.array([1.0, 1.0], np.float32)).values()
        np.testing.assert_allclose(value, [2.5, 2.0])
