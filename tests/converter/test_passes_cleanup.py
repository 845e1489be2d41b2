"""Clean-up passes on small hand-built graphs: each changes what it should, keeps what it
must, and leaves the model's outputs as they were (checked in the official runtime)."""

from __future__ import annotations

import numpy as np

from edgelite.converter.passes.constant_folding import fold_constants
from edgelite.converter.passes.cse import eliminate_common_subexpressions
from edgelite.converter.passes.dead_code import eliminate_dead_code
from edgelite.converter.passes.fc_reshape import fold_fc_reshapes
from edgelite.converter.passes.identity_removal import remove_identities
from edgelite.converter.passes.pipeline import run_passes
from edgelite.converter.passes.reshape_chains import simplify_chains
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import AddOptions, FullyConnectedOptions, MulOptions
from tests.converter.ir_helpers import check_pass, op_codes, rand


def _reshape(mb: ModelBuilder, x: int, shape: list[int], name: str) -> int:
    y = mb.tensor(name, shape)
    mb.op(B.RESHAPE, [x, mb.const(f"{name}/shape", np.asarray(shape, np.int32))], [y])
    return y


def _transpose(mb: ModelBuilder, x: int, perm: list[int], name: str) -> int:
    shape = mb.sg.tensors[x].shape
    y = mb.tensor(name, [shape[p] for p in perm])
    mb.op(B.TRANSPOSE, [x, mb.const(f"{name}/perm", np.asarray(perm, np.int32))], [y])
    return y


def test_constant_folding_evaluates_constant_subgraphs():
    mb = ModelBuilder()
    x = mb.input("x", [2, 3])
    w = mb.const("w", np.arange(6, dtype=np.float32).reshape(3, 2))
    wt = _transpose(mb, w, [1, 0], "wt")  # constant: folds
    y = mb.tensor("y", [2, 3])
    mb.op(B.ADD, [x, wt], [y], AddOptions())
    mb.output(y)
    model = check_pass(mb.build(), fold_constants, [rand(2, 3)])
    assert op_codes(model) == ["ADD"]
    folded = model.constant(model.main.tensors[model.main.operators[0].inputs[1]])
    np.testing.assert_array_equal(folded, np.arange(6, dtype=np.float32).reshape(3, 2).T)


def test_identity_removal_drops_no_ops_and_keeps_broadcasts():
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    same = _reshape(mb, x, [1, 4], "same")
    kept = _transpose(mb, same, [0, 1], "identity_perm")
    plus_zero = mb.tensor("plus_zero", [1, 4])
    mb.op(B.ADD, [kept, mb.const("zeros", np.zeros(4, np.float32))], [plus_zero], AddOptions())
    times_one = mb.tensor("times_one", [1, 4])
    mb.op(B.MUL, [mb.const("ones", np.ones(1, np.float32)), plus_zero], [times_one], MulOptions())
    widened = mb.tensor("widened", [3, 4])  # adding zeros of shape [3, 4] broadcasts: kept
    mb.op(B.ADD, [times_one, mb.const("wide_zeros", np.zeros((3, 4), np.float32))], [widened])
    mb.output(widened)
    model = check_pass(mb.build(), remove_identities, [rand(1, 4)])
    assert op_codes(model) == ["ADD"]
    assert model.main.operators[0].inputs[0] == model.main.inputs[0]


def test_identity_removal_keeps_an_output_that_would_become_the_input():
    mb = ModelBuilder()
    x = mb.input("x", [2, 2])
    y = _reshape(mb, x, [2, 2], "y")
    mb.output(y)
    check_pass(mb.build(), remove_identities, [rand(2, 2)], expect_changes=False)


def test_dead_code_removes_unused_operators_and_tensors():
    mb = ModelBuilder()
    x = mb.input("x", [2, 2])
    y = mb.tensor("y", [2, 2])
    mb.op(B.RELU, [x], [y])
    unused = mb.tensor("unused", [2, 2])
    mb.op(B.TANH, [x], [unused])
    mb.output(y)
    model = check_pass(mb.build(), eliminate_dead_code, [rand(2, 2)])
    assert op_codes(model) == ["RELU"]
    assert [t.name for t in model.main.tensors] == ["x", "y"]


def test_dead_code_keeps_an_op_whose_state_variable_is_read():
    """A fused LSTM writes its final h into its output-state variable: when that variable
    is what the model returns, the op is live though its sequence output is unused."""
    from edgelite.schema import read_model
    from tests.kernels.keras_rnn import keras_lstm_model

    model = read_model(keras_lstm_model(False))  # UNIDIRECTIONAL_SEQUENCE_LSTM, STRIDED_SLICE
    lstm = model.main.operators[0]
    model.main.outputs = [lstm.inputs[18]]  # the output-state variable
    assert eliminate_dead_code(model, model.main) == 1
    assert op_codes(model) == ["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    model.main.outputs = [model.main.inputs[0]]  # nothing reads the op any more
    eliminate_dead_code(model, model.main)
    assert op_codes(model) == []


def test_cse_merges_duplicate_constants_and_operators():
    mb = ModelBuilder()
    x = mb.input("x", [2, 3])
    outs = []
    for i in range(2):
        c = mb.const(f"c{i}", np.full(3, 2.0, np.float32))  # same bytes: one constant
        y = mb.tensor(f"y{i}", [2, 3])
        mb.op(B.MUL, [x, c], [y], MulOptions())
        outs.append(y)
    total = mb.tensor("total", [2, 3])
    mb.op(B.ADD, outs, [total], AddOptions())
    mb.output(total)
    model = check_pass(mb.build(), eliminate_common_subexpressions, [rand(2, 3)])
    eliminate_dead_code(model, model.main)
    assert op_codes(model) == ["MUL", "ADD"]
    add = model.main.operators[1]
    assert add.inputs[0] == add.inputs[1]


def test_reshape_and_transpose_chains_shorten():
    mb = ModelBuilder()
    x = mb.input("x", [2, 3, 4])
    r1 = _reshape(mb, x, [6, 4], "r1")
    r2 = _reshape(mb, r1, [2, 12], "r2")
    t1 = _transpose(mb, r2, [1, 0], "t1")
    t2 = _transpose(mb, t1, [1, 0], "t2")  # composes to the identity
    expanded = _reshape(mb, t2, [2, 1, 12], "expanded")
    moved = _transpose(mb, expanded, [1, 0, 2], "moved")  # only a size-1 dim moves
    mb.output(moved)
    model = mb.build()
    check_pass(model, simplify_chains, [rand(2, 3, 4)])
    passes = (("chains", simplify_chains), ("identities", remove_identities))
    changed = check_pass(model, lambda m, sg: sum(run_passes(m, passes).values()), [rand(2, 3, 4)])
    assert op_codes(changed) == ["RESHAPE"]


def test_dense_reshapes_fold_into_keep_num_dims():
    mb = ModelBuilder()
    x = mb.input("x", [2, 5, 4])
    flat = _reshape(mb, x, [10, 4], "flat")
    w = mb.const("w", rand(3, 4))
    y = mb.tensor("y", [10, 3])
    mb.op(B.FULLY_CONNECTED, [flat, w, -1], [y], FullyConnectedOptions())
    back = _reshape(mb, y, [2, 5, 3], "back")
    mb.output(back)
    model = check_pass(mb.build(), fold_fc_reshapes, [rand(2, 5, 4)])
    assert op_codes(model) == ["FULLY_CONNECTED"]
    assert model.main.operators[0].builtin_options.keep_num_dims


def test_multiplying_by_zeros_folds_to_a_constant():
    """A zero initial LSTM state times a gate is zeros; the add that follows is then a no-op."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    gate = mb.tensor("gate", [1, 4])
    mb.op(B.LOGISTIC, [x], [gate])
    zero_state = mb.tensor("zero_state", [1, 4])
    mb.op(
        B.MUL, [gate, mb.const("zeros", np.zeros((1, 4), np.float32))], [zero_state], MulOptions()
    )
    y = mb.tensor("y", [1, 4])
    mb.op(B.ADD, [zero_state, x], [y], AddOptions())
    mb.output(y)
    model = mb.build()
    check_pass(model, fold_constants, [rand(1, 4)])
    passes = (("folding", fold_constants), ("identities", remove_identities))
    changed = check_pass(model, lambda m, sg: sum(run_passes(m, passes).values()), [rand(1, 4)])
    # The ADD stays only because the output may not be the input tensor itself.
    assert op_codes(changed) == ["ADD"]
