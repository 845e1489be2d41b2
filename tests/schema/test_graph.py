"""Graph helpers on the IR: producers, consumers, order, removal with index fix-up, dedup."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import ModelError, read_model
from edgelite.schema import Operator
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import AddOptions
from tests.oracle import run_litert
from tests.sample_models import conv_model


def _chain() -> ModelBuilder:
    """x -> ADD(x, one) -> a -> ADD(a, one) -> b -> ADD(a, b) -> c."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    one = mb.const("one", np.ones((1, 4), np.float32))
    a, b, c = (mb.tensor(n, [1, 4]) for n in "abc")
    mb.op(BuiltinOperator.ADD, [x, one], [a], AddOptions())
    mb.op(BuiltinOperator.ADD, [a, one], [b], AddOptions())
    mb.op(BuiltinOperator.ADD, [a, b], [c], AddOptions())
    mb.output(c)
    return mb


def test_producer_consumers_and_order():
    sg = _chain().model.main
    assert sg.producer(2) == 0 and sg.producer(0) is None
    assert sg.consumers(2) == [1, 2] and sg.consumers(1) == [0, 1]
    sg.operators.reverse()  # now out of order
    order = sg.topological_order()
    assert [sg.operators[i].outputs[0] for i in order] == [2, 3, 4]


def test_cycle_is_a_model_error():
    sg = _chain().model.main
    sg.operators[0].inputs = [4, 1]  # a depends on c, which depends on a
    with pytest.raises(ModelError, match="cycle"):
        sg.topological_order()


def test_remove_operator_and_renumber_tensors():
    mb = _chain()
    sg = mb.model.main
    # Drop the middle ADD and make the last one read `a` twice: c = a + a.
    sg.replace_tensor_uses(3, 2)
    sg.remove_operators([1])
    removed = sg.remove_unused_tensors()
    assert removed == [3]
    assert [t.name for t in sg.tensors] == ["x", "one", "a", "c"]
    assert sg.operators[1].inputs == [2, 2] and sg.outputs == [3]
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    (out,) = run_litert(mb.to_bytes(), [x])
    np.testing.assert_array_equal(out, 2 * (x + 1))


def test_removing_a_used_tensor_is_refused():
    sg = _chain().model.main
    with pytest.raises(ModelError, match="still referenced"):
        sg.remove_tensors([2])


def test_deduplicate_buffers():
    mb = conv_model()
    model = mb.model
    twin = model.main.tensors[1]
    copy_index = mb.const("conv/weights_copy", model.constant(twin).copy())
    mb.op(BuiltinOperator.ADD, [copy_index, 1], [mb.tensor("sum", twin.shape)], AddOptions())
    before = len(model.buffers)
    assert model.deduplicate_buffers() == 1
    assert len(model.buffers) == before - 1
    assert model.main.tensors[copy_index].buffer == twin.buffer
    reread = read_model(mb.to_bytes())  # still a valid model with the shared buffer
    assert reread.main.tensors[copy_index].buffer == reread.main.tensors[1].buffer


def test_opcode_index_reuses_codes():
    model = _chain().model
    assert len(model.operator_codes) == 1
    index = model.opcode_index(BuiltinOperator.MUL)
    assert index == 1 and model.opcode_index(BuiltinOperator.MUL) == 1
    assert isinstance(model.main.operators[0], Operator)
