"""Interpreter(rounding=..., hybrid=...): validation, and what kernels are handed."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.kernels.base import Node, Prepared
from edgelite.schema.builder import ModelBuilder, quant


def _probe_model() -> bytes:
    """x (float32) and an int8 constant weight with a scale -> custom op Probe -> y (float32)."""
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    w = mb.const("w", np.array([-3, 5], np.int8), quantization=quant(0.5))
    y = mb.tensor("y", [2], np.float32)
    mb.op("Probe", [x, w], [y])
    mb.output(y)
    return mb.to_bytes()


def _probe(**options) -> list[Node]:
    """The Nodes the Probe kernel's prepare saw."""
    seen: list[Node] = []

    def prepare(node: Node) -> Prepared:
        seen.append(node)
        return Prepared([node.inputs[0].shape])

    def invoke(data, inputs, outputs) -> None:
        outputs[0][...] = inputs[0] + inputs[1]

    interp = Interpreter(model_content=_probe_model(), **options)
    interp.register_custom_op("Probe", prepare=prepare, invoke=invoke)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.zeros(2, np.float32))
    interp.invoke()
    return seen


def test_defaults():
    interp = Interpreter(model_content=_probe_model())
    assert (interp.rounding, interp.hybrid) == ("tflite", "fast")
    assert _probe()[0].rounding == "tflite"


@pytest.mark.parametrize("rounding", ["tflite", "reference", "double", "single"])
def test_rounding_reaches_every_node(rounding):
    interp = Interpreter(model_content=_probe_model(), rounding=rounding)
    assert interp.rounding == rounding
    assert [node.rounding for node in _probe(rounding=rounding)] == [rounding]


@pytest.mark.parametrize("name, value", [("rounding", "nearest"), ("rounding", None)])
def test_bad_rounding(name, value):
    with pytest.raises(
        ValueError, match="rounding must be one of 'tflite', 'reference', 'double', 'single'"
    ):
        Interpreter(model_content=_probe_model(), **{name: value})


@pytest.mark.parametrize("value", ["slow", "", 1])
def test_bad_hybrid(value):
    with pytest.raises(ValueError, match="hybrid must be one of 'fast', 'exact'"):
        Interpreter(model_content=_probe_model(), hybrid=value)


def test_hybrid_fast_hands_kernels_float_weights():
    weight = _probe(hybrid="fast")[0].inputs[1]
    assert weight.dtype == np.float32 and weight.quantization is None
    assert weight.data.tolist() == [-1.5, 2.5]


def test_hybrid_exact_hands_kernels_int8_weights():
    weight = _probe(hybrid="exact")[0].inputs[1]
    assert weight.dtype == np.int8 and weight.scale == 0.5
    assert weight.data.tolist() == [-3, 5]
