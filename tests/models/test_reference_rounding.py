"""Interpreter(rounding="reference") gives exactly the integers of the official *reference*
kernels (ai-edge-litert with OpResolverType.BUILTIN_REF), invoke after invoke.

Every full-integer and 16x8 model of the corpus (zoo and real models, the stateful one over
its stream of invokes) and every integer model of the quantizer's single-op set
(tests/quantization/single_ops.py, int8 and int16x8) is run in both; integer outputs must
be bit-identical, float outputs (float I/O models) within the float rule. On a mismatch the
message names the first op whose output differs.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.schema import read_model
from tests.models.test_quantized_models import _input_stream
from tests.oracle import assert_matches, float_tolerance, litert_interpreter

pytestmark = pytest.mark.oracle


def _invoke(interp, inputs: list[np.ndarray]) -> list[np.ndarray]:
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def _first_divergence(content: bytes, inputs: list[np.ndarray]) -> str:
    """The first op of subgraph 0 whose output differs from BUILTIN_REF's."""
    model = read_model(content)
    sg = model.main
    theirs = litert_interpreter(
        content, reference_kernels=True, experimental_preserve_all_tensors=True
    )
    ours = Interpreter(
        model_content=content, rounding="reference", experimental_preserve_all_tensors=True
    )
    for runner in (theirs, ours):
        runner.allocate_tensors()
        _invoke(runner, inputs)
    for node, op in enumerate(sg.operators):
        for t in op.outputs:
            try:
                want, got = theirs.get_tensor(t), ours.get_tensor(t)
            except ValueError:
                continue
            if want.dtype.kind == "f":
                worst = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0
                same = worst <= float_tolerance(want)
            else:
                same = np.array_equal(got, want)
            if not same:
                return f"node {node} {model.op_name(op)} output {t} {sg.tensors[t].name!r}"
    return "not located"


def _check_stream(content: bytes, stream: list[list[np.ndarray]]) -> None:
    theirs = litert_interpreter(content, reference_kernels=True)
    theirs.allocate_tensors()
    ours = Interpreter(model_content=content, rounding="reference")
    ours.allocate_tensors()
    for step, inputs in enumerate(stream):
        for k, (got, want) in enumerate(zip(_invoke(ours, inputs), _invoke(theirs, inputs))):
            try:
                assert_matches(got, want, f"invoke {step} output {k}")
            except AssertionError as err:
                where = _first_divergence(content, inputs) if step == 0 else "a later invoke"
                pytest.fail(f"{err}; first diverging op: {where}")


def test_corpus_model_matches_reference_kernels(quantized_model):
    content = quantized_model.read_bytes()
    details = litert_interpreter(content).get_input_details()
    _check_stream(content, _input_stream(quantized_model, details))


def _single_op_cases():
    from tests.quantization.single_ops import CASES

    return [(name, mode) for name in CASES for mode in ("int8", "int16x8")]


@pytest.mark.parametrize(("name", "mode"), _single_op_cases())
def test_quantizer_single_op_model_matches_reference_kernels(name, mode):
    from tests.quantization.helpers import encode
    from tests.quantization.test_single_ops import _quantized

    _, qbytes, _, _, samples = _quantized(name, mode)
    details = litert_interpreter(qbytes).get_input_details()
    stream = [[encode(v, d) for v, d in zip(sample, details)] for sample in samples[:3]]
    _check_stream(qbytes, stream)
