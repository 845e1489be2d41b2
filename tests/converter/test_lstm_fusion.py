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


def _tf_keras_lstm(sequences: bool):
    """The same tf_keras LSTM(4) over [2, 5, 3] that tests.kernels.keras_rnn converts."""
    import tf_keras

    tf_keras.utils.set_random_seed(1234)
    inputs = tf_keras.Input((5, 3), batch_size=2)
    return tf_keras.Model(inputs, tf_keras.layers.LSTM(4, return_sequences=sequences)(inputs))


@pytest.mark.parametrize("sequences", [True, False])
def test_op_count_vs_the_official_fused_lstm(sequences):
    """The official converter fuses tf_keras LSTMs too: the bare op (plus a STRIDED_SLICE
    for the last step) on zero-initialised state variables that are never reset. edgelite
    spends exactly one op more, the reset (one SPLIT) that makes it stateless: the price
    of matching Keras from the second invoke on (see the two tests below)."""
    from edgelite.schema import read_model
    from tests.kernels.keras_rnn import keras_lstm_model

    official = keras_lstm_model(sequences)
    data, _ = convert_to_bytes(_tf_keras_lstm(sequences))
    assert op_names(data) == ["SPLIT", *op_names(official)]
    fused = [op for op in read_model(data).main.operators if op.builtin_options is not None]
    options = [op.builtin_options for op in fused if hasattr(op.builtin_options, "cell_clip")]
    assert options[0].cell_clip == 0.0  # Keras does not clip; the official op clips at 10


def _invoke_three_times(interp, x: np.ndarray) -> list[np.ndarray]:
    interp.allocate_tensors()
    results = []
    for _ in range(3):
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        results.append(interp.get_tensor(interp.get_output_details()[0]["index"]).copy())
    return results


@pytest.mark.parametrize("sequences", [True, False])
def test_the_official_fused_lstm_carries_state_across_invokes(sequences):
    """Why edgelite spends the reset: the official one-op form is not Keras's stateless
    LSTM. The same input invoked three times gives three different answers in
    ai-edge-litert, and only the first is Keras's; ours gives Keras's every time."""
    from tests.kernels.keras_rnn import keras_lstm_model

    model = _tf_keras_lstm(sequences)
    x = _samples(2, seed=4)[0][:, :5]
    expected = np.asarray(model(x, training=False))
    official = _invoke_three_times(litert_interpreter(keras_lstm_model(sequences)), x)
    assert np.max(np.abs(official[0] - expected)) <= 1e-5
    assert np.max(np.abs(official[1] - official[0])) > 1e-2
    data, _ = convert_to_bytes(model)
    for results in (_invoke_three_times(litert_interpreter(data), x),
                    _invoke_three_times(Interpreter(model_content=data), x)):  # fmt: skip
        for result in results:
            assert np.max(np.abs(result - expected)) <= SOURCE_TOLERANCE


@pytest.mark.parametrize("kind", ["not variable", "constant", "variable with data"])
def test_the_state_must_be_a_variable_without_data(kind):
    """The other ways to keep the op stateless without a reset op do not load in the
    official runtime: its kernel takes only ``is_variable`` state tensors, and the
    interpreter refuses variables that carry initial data."""
    from edgelite.schema import read_model, write_model
    from tests.kernels.keras_rnn import keras_lstm_model

    model = read_model(keras_lstm_model(True))
    lstm = model.main.operators[0]
    for index in (lstm.inputs[18], lstm.inputs[19]):  # output state, cell state
        tensor = model.main.tensors[index]
        tensor.is_variable = kind == "variable with data"
        if kind != "not variable":
            tensor.buffer = model.add_buffer(np.zeros(tensor.shape, np.float32))
    with pytest.raises((RuntimeError, ValueError)):
        litert_interpreter(write_model(model)).allocate_tensors()


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


def _check_batches(data: bytes, model, batches=(1, 3, 2)) -> None:
    """One interpreter per runtime, resized to each batch in turn, two invokes at each:
    every output is Keras's (the reset follows the batch, no state leaks)."""
    rng = np.random.default_rng(9)
    for name, interp in _interpreters(data).items():
        for batch in batches:
            index = interp.get_input_details()[0]["index"]
            interp.resize_tensor_input(index, [batch, 7, 3])
            interp.allocate_tensors()
            for _ in range(2):
                x = (rng.standard_normal((batch, 7, 3)) * 4).astype(np.float32)
                interp.set_tensor(index, x)
                interp.invoke()
                result = interp.get_tensor(interp.get_output_details()[0]["index"])
                reference = np.asarray(model(x, training=False))
                worst = float(np.max(np.abs(result - reference)))
                assert worst <= SOURCE_TOLERANCE * max(1.0, float(np.max(np.abs(reference)))), (
                    f"{name} batch {batch}: {worst} vs Keras"
                )


@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_lstm_with_a_dynamic_batch_is_fused(flavour, sequences):
    """Batch None: the state variables are [-1, units] and Keras's own zeros (FILL of
    the run-time batch) reset them each invoke; the official converter rejects these
    models (its TensorList lowering needs a static element shape)."""
    import importlib

    keras = importlib.import_module(flavour)
    model = _lstm_model(keras, None, return_sequences=sequences)
    data, _ = convert_to_bytes(model)
    assert op_names(data).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    assert "WHILE" not in op_names(data) and op_names(data).count("FILL") == 2
    _check_batches(data, model)


def test_the_official_converter_rejects_a_dynamic_batch_lstm():
    import keras
    from tensorflow.lite.python.convert_phase import ConverterError

    from tests.converter.helpers import official_bytes

    with pytest.raises(ConverterError, match="TensorListReserve"):
        official_bytes(_lstm_model(keras, None))


@pytest.mark.parametrize("sequences", [True, False])
def test_gru_with_a_dynamic_batch_is_a_while_loop(sequences):
    """No fused GRU builtin: the loop stays a WHILE whose output list grows to the
    run-time batch on its first write."""
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((7, 3), batch_size=None)
    model = keras.Model(inputs, keras.layers.GRU(5, return_sequences=sequences)(inputs))
    data, _ = convert_to_bytes(model)
    assert "WHILE" in op_names(data)
    _check_batches(data, model, batches=(1, 3))


@pytest.mark.parametrize("units", [5, 4], ids=["equal_units", "unequal_units"])
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_stacked_lstms_share_one_reset_and_run_batch_major(flavour, units):
    """Two stacked LSTMs and a Dense head: one SPLIT (SPLIT_V for unequal widths) resets
    both states, both ops run batch-major (no TRANSPOSE), and the tf_keras model has one
    op more than the official converter's (which resets nothing)."""
    import importlib

    keras = importlib.import_module(flavour)
    keras.utils.set_random_seed(8)
    inputs = keras.Input((7, 3), batch_size=2)
    x = keras.layers.LSTM(5, return_sequences=True)(inputs)
    x = keras.layers.LSTM(units)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    data, _ = convert_to_bytes(model)
    reset = "SPLIT" if units == 5 else "SPLIT_V"
    lstm = "UNIDIRECTIONAL_SEQUENCE_LSTM"
    assert op_names(data) == [reset, lstm, lstm, "STRIDED_SLICE", "FULLY_CONNECTED"]
    _check_invokes(data, model, _samples(2, seed=2))  # XNNPACK included
    if flavour == "tf_keras":
        from tests.converter.helpers import official_bytes

        assert op_names(data) == [reset, *op_names(official_bytes(model))]
