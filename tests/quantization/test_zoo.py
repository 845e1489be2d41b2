"""The quantizer against the official converter, on the zoo's models.

* int8 / int8 with float I/O / int16x8: same float model, same calibration data as the
  official converter got; our model passes ``check_model``, loads in ai-edge-litert with
  and without XNNPACK, and its mean |output - float output| on the held-out samples is
  at most 1.1x the official model's.
* dynamic / float16: we emit exactly the official structure (which ops get which int8
  or float16 weights, per-channel or not, at which op version) and (nearly) the same
  outputs.
* models the official converter fails on (WHILE loops, 16x8 with NEG or int32 inputs)
  quantize, pass the check and run in ai-edge-litert close to the float model (an int8
  LSTM loop: close to the official error on its unrolled twin).
* ``check_model`` on every quantized model of the test set: the official converter's
  output passes, apart from the documented deviations below.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.quantization import QuantizeOptions, check_model, quantize
from edgelite.schema import read_model, write_model
from tests.oracle import assert_matches, litert_interpreter
from tests.quantization.helpers import run_raw, run_real
from tests.quantization.zoo_data import representative_samples

pytestmark = pytest.mark.oracle

# What the official converter emits against the spec, found by `edgelite check`:
# in 16x8 mode it scales the int64 bias of a CONV_2D that reads a CONCATENATION output
# with the scale that input had before the concat unified it (relative error 0.26-0.38).
OFFICIAL_DEVIATIONS = {
    "unet_like.int16x8": {("bias-scale", "CONV_2D")},
}
ERROR_RATIO = 1.1
FLAVOUR_OPTIONS = {
    # Per-channel FULLY_CONNECTED weights on both sides: TF 2.21's default and ours.
    "int8": dict(mode="int8", input_type="int8", output_type="int8"),
    "int8_floatio": dict(mode="int8"),
    "int16x8": dict(mode="int16x8"),
}


def _entries(flavours):
    from tests.zoo import ensure_zoo

    return ensure_zoo(flavours=["float32", *flavours])


def _pairs(flavours):
    entries = {e.id: e for e in _entries(flavours)}
    for entry in entries.values():
        reference = entries.get(f"{entry.model}.float32")
        if entry.flavour in flavours and reference is not None:
            marks = [pytest.mark.slow] if entry.slow else []
            yield pytest.param(entry, reference, id=entry.id, marks=marks)


def _mean_error(model_bytes: bytes, float_bytes: bytes, samples) -> float:
    total = 0.0
    for sample in samples:
        truth = run_real(float_bytes, [sample])[0]
        total += float(np.mean(np.abs(run_real(model_bytes, [sample])[0] - truth)))
    return total / len(samples)


@pytest.mark.parametrize("official, reference", list(_pairs(list(FLAVOUR_OPTIONS))))
def test_integer_model_error_within_ratio_of_official(official, reference):
    options = QuantizeOptions(**FLAVOUR_OPTIONS[official.flavour])
    ours = quantize(
        read_model(reference.path), options, representative_samples(official.model), log=None
    )
    assert [str(v) for v in check_model(ours)] == []
    ours_bytes, float_bytes = write_model(ours), reference.path.read_bytes()
    samples = official.load_samples()
    run_real(ours_bytes, [samples[0]], delegates=True)  # loads and runs with XNNPACK
    ours_error = _mean_error(ours_bytes, float_bytes, samples)
    official_error = _mean_error(official.path.read_bytes(), float_bytes, samples)
    assert ours_error <= ERROR_RATIO * official_error, (ours_error, official_error)


def _weights_signature(model) -> Counter:
    """(subgraph, op, version, scales per quantized/float16 input) of every such op."""
    found: Counter = Counter()
    for s, sg in enumerate(model.subgraphs):
        for op in sg.operators:
            special = [
                sg.tensors[t]
                for t in op.inputs
                if t >= 0 and sg.tensors[t].type.name in ("INT8", "FLOAT16")
            ]
            if special or model.op_name(op) == "DEQUANTIZE":
                scales = tuple(len(t.quantization.scale) if t.quantization else 0 for t in special)
                version = model.operator_codes[op.opcode_index].version
                found[(s, model.op_name(op), version, scales)] += 1
    return found


@pytest.mark.parametrize("official, reference", list(_pairs(["dynamic", "float16"])))
def test_weight_only_modes_match_the_official_converter(official, reference):
    ours = quantize(read_model(reference.path), QuantizeOptions(mode=official.flavour))
    assert _weights_signature(ours) == _weights_signature(read_model(official.path))
    assert check_model(ours) == []
    ours_bytes, float_bytes = write_model(ours), reference.path.read_bytes()
    samples = official.load_samples()[:2]
    ours_error = _mean_error(ours_bytes, float_bytes, samples)
    official_error = _mean_error(official.path.read_bytes(), float_bytes, samples)
    # The int8 weights can differ in a few elements rounded at exactly .5 (the official
    # converter's float arithmetic is not ours): MobileNetV2 has 8 of 3.4 million.
    assert ours_error <= official_error * 1.05 + 1e-9, (ours_error, official_error)


def _quantized_corpus():
    from tests.zoo.real_models import ensure_real_models

    for entry in _entries(["int8", "int8_floatio", "int16x8", "dynamic", "float16"]):
        if entry.flavour != "float32":
            marks = [pytest.mark.slow] if entry.slow else []
            yield pytest.param(entry.path, entry.id, id=entry.id, marks=marks)
    for real in ensure_real_models():
        yield pytest.param(real.path, real.path.stem, id=f"real.{real.path.stem}")


@pytest.mark.parametrize("path, key", list(_quantized_corpus()))
def test_check_passes_official_and_real_quantized_models(path, key):
    violations = check_model(read_model(path))
    allowed = OFFICIAL_DEVIATIONS.get(key, set())
    unexpected = [str(v) for v in violations if (v.rule, v.op_name) not in allowed]
    assert unexpected == []
    if allowed:
        assert {(v.rule, v.op_name) for v in violations} == allowed  # still deviating


def _official_failures():
    from tests.zoo import zoo_failures

    for key in sorted(zoo_failures()):
        model, flavour = key.split(".")
        if flavour in FLAVOUR_OPTIONS:
            yield pytest.param(model, flavour, id=key)


# A model the official converter cannot quantize because of its WHILE loop, and its twin
# with the loop unrolled, which it can. In int8 an LSTM loses much (the official twin:
# ~16% of the mean output; TANH's fixed 1/128 output step is coarse on small states),
# so our loop is held to the official error on the twin instead of to "close to float":
# within LOOP_RATIO of it, the loop having one set of parameters for all 16 steps where
# the twin has one per step (measured: 1.19x).
UNROLLED_TWIN = {"lstm_text": "lstm_unrolled"}
LOOP_RATIO = 1.25


@pytest.mark.parametrize("model, flavour", list(_official_failures()))
def test_models_the_official_converter_cannot_quantize(model, flavour):
    """WHILE loops crash its calibrator, int32 inputs and NEG stop its 16x8 mode. The loop
    bodies are quantized too (WHILE values cross with one set of parameters)."""
    entries = {e.flavour: e for e in _entries([]) if e.model == model}
    reference = entries["float32"]
    options = QuantizeOptions(**FLAVOUR_OPTIONS[flavour])
    ours = quantize(read_model(reference.path), options, representative_samples(model), log=None)
    assert [str(v) for v in check_model(ours)] == []
    ours_bytes, float_bytes = write_model(ours), reference.path.read_bytes()
    twin = UNROLLED_TWIN.get(model) if flavour != "int16x8" else None
    if twin is not None:
        official = {e.flavour: e for e in _entries([flavour]) if e.model == twin}
        samples = reference.load_samples()
        run_real(ours_bytes, [samples[0]], delegates=True)  # loads and runs with XNNPACK
        ours_error = _mean_error(ours_bytes, float_bytes, samples)
        twin_error = _mean_error(
            official[flavour].path.read_bytes(), official["float32"].path.read_bytes(), samples
        )
        assert ours_error <= LOOP_RATIO * twin_error, (ours_error, twin_error)
        return
    for sample in reference.load_samples()[:2]:
        truth = run_real(float_bytes, [sample])[0]
        for delegates in (False, True):
            error = np.mean(np.abs(run_real(ours_bytes, [sample], delegates=delegates)[0] - truth))
            assert error <= 0.02 * np.mean(np.abs(truth)), (delegates, error)


def test_loop_body_of_the_lstm_is_quantized():
    """The Keras LSTM's WHILE body computes in int8, its state crossing as int8."""
    entries = {e.flavour: e for e in _entries([]) if e.model == "lstm_text"}
    options = QuantizeOptions(**FLAVOUR_OPTIONS["int8"])
    data = representative_samples("lstm_text")
    ours = quantize(read_model(entries["float32"].path), options, data, log=None)
    main = ours.main
    loop = next(op for op in main.operators if ours.op_name(op) == "WHILE")
    body = ours.subgraphs[loop.builtin_options.body_subgraph_index]
    float_outputs = [body.tensors[t].name for op in body.operators for t in op.outputs
                     if t >= 0 and body.tensors[t].type.name == "FLOAT32"]  # fmt: skip
    assert float_outputs == []
    states = [main.tensors[t].type.name for t in loop.outputs]
    assert states.count("INT8") == 4, states  # h (twice), c and the embedded sequence


_BIT_EXACT_CASES = [
    (model, flavour, kernels)
    for model in ("small_cnn", "unet_like", "transformer_block")
    for flavour in ("int8", "int16x8")
    for kernels in ("builtin", "reference")
]


@pytest.mark.parametrize("model, flavour, kernels", _BIT_EXACT_CASES)
def test_edgelite_runs_a_quantized_zoo_model_bit_exact(model, flavour, kernels):
    """Models edgelite's quantizer writes give the oracle's integers: its builtin kernels
    (edgelite's default) or its reference kernels (``rounding="reference"`` against
    ai-edge-litert with OpResolverType.BUILTIN_REF)."""
    entries = {e.flavour: e for e in _entries([]) if e.model == model}
    options = QuantizeOptions(**FLAVOUR_OPTIONS[flavour])
    data = representative_samples(model)
    qbytes = write_model(quantize(read_model(entries["float32"].path), options, data, log=None))
    reference_kernels = kernels == "reference"
    rounding = "reference" if reference_kernels else "tflite"
    ours = Interpreter(model_content=qbytes, rounding=rounding)
    ours.allocate_tensors()
    oracle = litert_interpreter(qbytes, reference_kernels=reference_kernels)
    oracle.allocate_tensors()
    for sample in entries["float32"].load_samples()[:3]:
        got, want = run_raw(qbytes, [sample], ours), run_raw(qbytes, [sample], oracle)
        for a, b in zip(got, want):
            assert_matches(a, b)
