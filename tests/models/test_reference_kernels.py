"""edgelite's reference kernels (OpResolverType.BUILTIN_REF, the numpy spec) and its optimized
kernels give identical integers on every full-integer and 16x8 model of the corpus.

Every tensor is compared (``experimental_preserve_all_tensors=True``), not only the outputs,
so an intermediate difference that a later op happens to hide still fails; integer tensors
must be bit-identical, float tensors (float I/O models) follow the float rule. Both
interpreters use the same rounding mode: the default, "reference" and the forced ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter, OpResolverType
from tests.models.test_quantized_models import _input_stream
from tests.oracle import assert_matches, litert_interpreter

pytestmark = pytest.mark.oracle


def _interpreter(content: bytes, reference: bool, rounding: str) -> Interpreter:
    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interp = Interpreter(
        model_content=content,
        experimental_op_resolver_type=resolver,
        experimental_preserve_all_tensors=True,
        rounding=rounding,
    )
    interp.allocate_tensors()
    return interp


def _all_tensors(interp: Interpreter, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    tensors = {}
    for detail in interp.get_tensor_details():
        try:
            tensors[detail["index"]] = interp.get_tensor(detail["index"])
        except ValueError:  # a tensor with no data (an omitted optional or a resource)
            continue
    return tensors


@pytest.mark.parametrize("rounding", ["tflite", "reference", "double", "single"])
def test_reference_equals_optimized(quantized_model, rounding):
    content = quantized_model.read_bytes()
    details = litert_interpreter(content).get_input_details()
    stream = _input_stream(quantized_model, details)[:3]
    reference = _interpreter(content, True, rounding)
    optimized = _interpreter(content, False, rounding)
    names = {d["index"]: d["name"] for d in optimized.get_tensor_details()}
    for step, inputs in enumerate(stream):
        want, got = _all_tensors(reference, inputs), _all_tensors(optimized, inputs)
        assert want.keys() == got.keys()
        for index, value in want.items():
            assert_matches(got[index], value, f"invoke {step} tensor {index} {names[index]!r}")
