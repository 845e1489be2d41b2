"""Keras LSTM loops fused into UNIDIRECTIONAL_SEQUENCE_LSTM, and the loops that are not.

Keras 3 and Keras 2 (tf_keras) LSTMs both become WHILE loops when frozen; the fusion
recognises the recurrence and emits one UNIDIRECTIONAL_SEQUENCE_LSTM that is stateless
like Keras: several invokes of one interpreter each match Keras, in both runtimes (the
official converter's fused LSTM carries its state over from one invoke to the next).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import Interpreter
from tests.converter.helpers import convert_to_bytes, op_count, op_names
from tests.oracle import assert_matches, litert_interpreter

SOURCE_TOLERANCE = 1e-4


def _interpreters(data: bytes) -> dict[str, object]:
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    return {
        "edgelite": Interpreter(model_content=data),
        "litert": litert_interpreter(data),
        "litert+xnnpack": LiteRT(model_content=data),
    }


def _check_invokes(data: bytes, model, samples: list[np.ndarray]) -> None:
    """Every runtime, one interpreter each, all samples in turn: each output is Keras's."""
    expected = [np.asarray(model(x, training=False)) for x in samples]
    outputs: dict[str, list[np.ndarray]] = {}
    for name, interp in _interpreters(data).items():
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        outputs[name] = []
        for x in samples:
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            outputs[name].append(interp.get_tensor(out["index"]).copy())
    for step, reference in enumerate(expected):
        for name, results in outputs.items():
            worst = float(np.max(np.abs(results[step] - reference)))
            bound = SOURCE_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))
            assert worst <= bound, f"{name} invoke {step}: {worst} vs Keras"
        assert_matches(outputs["edgelite"][step], outputs["litert"][step], f"invoke {step}")


def _samples(batch: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    # Saturating gates: a state left over from the previous invoke would show.
    return [(rng.standard_normal((batch, 7, 3)) * 4).astype(np.float32) for _ in range(3)]


def _lstm_model(keras, batch: int, **layer_options):
    keras.utils.set_random_seed(11)
    inputs = keras.Input((7, 3), batch_size=batch, name="sequence")
    layer = keras.layers.LSTM(5, **layer_options)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("sequences", [True, False])
def test_keras3_lstm_is_fused_and_stateless(batch, sequences):
    import keras

    model = _lstm_model(keras, batch, return_sequences=sequences, unit_forget_bias=False)
    data, report = convert_to_bytes(model)
    expected = ["SPLIT", "UNIDIRECTIONAL_SEQUENCE_LSTM"] + ([] if sequences else ["STRIDED_SLICE"])
    assert op_names(data) == expected
    assert report.pass_changes["LSTM loop fusion"] == 1
    _check_invokes(data, model, _samples(batch))


def test_keras3_lstm_has_fewer_ops_than_the_official_while_loop():
    import keras
    import tensorflow as tf

    model = _lstm_model(keras, 2, return_sequences=True)
    data, _ = convert_to_bytes(model)
    official = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert "WHILE" in op_names(official)
    assert op_count(data) < op_count(official)


@pytest.mark.parametrize("sequences", [True, False])
def test_tf_keras_lstm_is_fused_and_stateless(sequences):
    import tf_keras

    model = _lstm_model(tf_keras, 2, return_sequences=sequences)
    data, _ = convert_to_bytes(model)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_names(data)
    _check_invokes(data, model, _samples(2, seed=1))


@pytest.mark.parametrize("sequences", [True, False])
def test_op_count_vs_the_official_fused_lstm(sequences):
    """The official converter fuses tf_keras LSTMs too, with a state that persists across
    invokes; edgelite spends exactly one op (the state reset) on being stateless."""
    from edgelite.schema import read_model
    from tests.kernels.keras_rnn import keras_lstm_model

    official = keras_lstm_model(sequences)  # tf_keras LSTM(4) over [2, 5, 3]
    import tf_keras

    tf_keras.utils.set_random_seed(1234)
    inputs = tf_keras.Input((5, 3), batch_size=2)
    model = tf_keras.Model(inputs, tf_keras.layers.LSTM(4, return_sequences=sequences)(inputs))
    data, _ = convert_to_bytes(model)
    assert op_count(data) == op_count(official) + 1
    fused = [op for op in read_model(data).main.operators if op.builtin_options is not None]
    options = [op.builtin_options for op in fused if hasattr(op.builtin_options, "cell_clip")]
    assert options[0].cell_clip == 0.0  # Keras does not clip; the official op clips at 10


@pytest.mark.parametrize(
    "options",
    [
        {"recurrent_activation": "hard_sigmoid"},  # another gate function
        {"activation": "relu"},  # another cell activation
        {"return_state": True},  # the final cell state is used
    ],
    ids=["hard_sigmoid", "relu", "return_state"],
)
def test_other_recurrences_stay_while_loops(options):
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((7, 3), batch_size=2, name="sequence")
    result = keras.layers.LSTM(5, **options)(inputs)
    outputs = (
        keras.layers.Concatenate()(list(result)) if isinstance(result, (list, tuple)) else result
    )
    model = keras.Model(inputs, outputs)
    data, report = convert_to_bytes(model)
    assert "WHILE" in op_names(data) and report.pass_changes["LSTM loop fusion"] == 0
    _check_invokes(data, model, _samples(2)[:2])
