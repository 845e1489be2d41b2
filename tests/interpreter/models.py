"""Small models for the interpreter-core tests (built with ModelBuilder, no TensorFlow)."""

from __future__ import annotations

import numpy as np

from edgelite.interpreter.kernels.base import Node, Prepared
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.enums import TensorType

# -- custom ops used to test the core without depending on builtin kernels -----------


def same_shape_prepare(node: Node) -> Prepared:
    """Custom-op prepare: every output takes the first input's shape."""
    return Prepared([node.inputs[0].shape] * len(node.outputs))


def plus_one(data, inputs, outputs) -> None:
    np.add(inputs[0], 1, out=outputs[0])


def nop(data, inputs, outputs) -> None:
    pass


def chain_model(ops: int = 3, shape=(2, 3), op_name: str = "PlusOne") -> bytes:
    """x -> op -> op -> ... -> y, a custom op per step (tensors t0..t{n-1})."""
    mb = ModelBuilder()
    prev = mb.input("x", list(shape), np.float32, shape_signature=[-1, *shape[1:]])
    for i in range(ops):
        out = mb.tensor(f"t{i}", list(shape), np.float32)
        mb.op(op_name, [prev], [out])
        prev = out
    mb.output(prev)
    mb.signature("run", {"x": 0}, {"y": prev})
    return mb.to_bytes()


# -- control flow --------------------------------------------------------------------


def if_model() -> bytes:
    """out = IF(cond, x, y): the then-branch returns x, the else-branch y (pure copies)."""
    mb = ModelBuilder()
    c = mb.input("cond", [], np.bool_)
    x = mb.input("x", [2, 3], np.float32, shape_signature=[-1, 3])
    y = mb.input("y", [2, 3], np.float32, quantization=quant(0.5, 3))
    out = mb.tensor("out", [2, 3], np.float32)
    then = mb.new_subgraph("then")
    tx = mb.input("tx", [2, 3])
    mb.input("ty", [2, 3])
    mb.output(tx)
    other = mb.new_subgraph("else")
    mb.input("ex", [2, 3])
    ey = mb.input("ey", [2, 3])
    mb.output(ey)
    mb.use_subgraph(0)
    mb.op(B.IF, [c, x, y], [out], opt.IfOptions(then, other))
    mb.output(out)
    mb.signature("serving_default", {"zz_cond": c, "b_x": x, "a_y": y}, {"out": out})
    return mb.to_bytes()


def while_model() -> bytes:
    """(i, x) -> while i < 3: (i + 1, x * 2)."""
    mb = ModelBuilder()
    i = mb.input("i", [], np.int32)
    x = mb.input("x", [2], np.float32, shape_signature=[-1])
    io = mb.tensor("i_out", [], np.int32)
    xo = mb.tensor("x_out", [2], np.float32)
    cond = mb.new_subgraph("cond")
    ci = mb.input("ci", [], np.int32)
    mb.input("cx", [2], np.float32)
    limit = mb.const("limit", np.array(3, np.int32))
    less = mb.tensor("less", [], np.bool_)
    mb.op(B.LESS, [ci, limit], [less])
    mb.output(less)
    body = mb.new_subgraph("body")
    bi = mb.input("bi", [], np.int32)
    bx = mb.input("bx", [2], np.float32)
    one = mb.const("one", np.array(1, np.int32))
    two = mb.const("two", np.array(2.0, np.float32))
    bi2 = mb.tensor("bi2", [], np.int32)
    bx2 = mb.tensor("bx2", [2], np.float32)
    mb.op(B.ADD, [bi, one], [bi2], opt.AddOptions())
    mb.op(B.MUL, [bx, two], [bx2], opt.MulOptions())
    mb.output(bi2, bx2)
    mb.use_subgraph(0)
    mb.op(B.WHILE, [i, x], [io, xo], opt.WhileOptions(cond, body))
    mb.output(io, xo)
    return mb.to_bytes()


def accumulator_model() -> bytes:
    """acc (a resource variable, zeroed by CALL_ONCE) += x; returns the new acc."""
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    h1 = mb.tensor("h1", [], TensorType.RESOURCE)
    old = mb.tensor("old", [2], np.float32)
    new = mb.tensor("new", [2], np.float32)
    h2 = mb.tensor("h2", [], TensorType.RESOURCE)
    init = 1  # the init subgraph is built below
    mb.op(B.CALL_ONCE, [], [], opt.CallOnceOptions(init))
    mb.op(B.VAR_HANDLE, [], [h1], opt.VarHandleOptions("", "acc"))
    mb.op(B.READ_VARIABLE, [h1], [old], opt.ReadVariableOptions())
    mb.op(B.ADD, [old, x], [new], opt.AddOptions())
    mb.op(B.VAR_HANDLE, [], [h2], opt.VarHandleOptions("", "acc"))
    mb.op(B.ASSIGN_VARIABLE, [h2, new], [], opt.AssignVariableOptions())
    mb.output(new)
    mb.signature("accumulate", {"x": x}, {"acc": new})
    assert mb.new_subgraph("init") == init
    hi = mb.tensor("hi", [], TensorType.RESOURCE)
    zeros = mb.const("zeros", np.zeros(2, np.float32))
    mb.op(B.VAR_HANDLE, [], [hi], opt.VarHandleOptions("", "acc"))
    mb.op(B.ASSIGN_VARIABLE, [hi, zeros], [], opt.AssignVariableOptions())
    return mb.to_bytes()


# -- dynamic shapes ------------------------------------------------------------------


def shape_reshape_model() -> bytes:
    """y = RESHAPE(ADD(flat(x), flat(x)), SHAPE(x)); z = MUL(y, y): works after resize."""
    mb = ModelBuilder()
    x = mb.input("x", [2, 4], np.float32, shape_signature=[-1, 4])
    flat_shape = mb.const("flat_shape", np.array([-1], np.int32))
    flat = mb.tensor("flat", [8], np.float32)
    mb.op(B.RESHAPE, [x, flat_shape], [flat], opt.ReshapeOptions([-1]))
    doubled = mb.tensor("doubled", [8], np.float32)
    mb.op(B.ADD, [flat, flat], [doubled], opt.AddOptions())
    shape = mb.tensor("shape", [2], np.int32)
    mb.op(B.SHAPE, [x], [shape], opt.ShapeOptions(TensorType.INT32))
    y = mb.tensor("y", [2, 4], np.float32)
    mb.op(B.RESHAPE, [doubled, shape], [y], opt.ReshapeOptions([]))
    z = mb.tensor("z", [2, 4], np.float32)
    mb.op(B.MUL, [y, y], [z], opt.MulOptions())
    mb.output(y, z)
    return mb.to_bytes()


def where_model() -> bytes:
    """Data-dependent output shape: WHERE(x > 0) and a MUL of x."""
    mb = ModelBuilder()
    x = mb.input("x", [3, 2], np.float32)
    zero = mb.const("zero", np.array(0.0, np.float32))
    mask = mb.tensor("mask", [3, 2], np.bool_)
    mb.op(B.GREATER, [x, zero], [mask])
    where = mb.tensor("where", [0, 2], np.int64, shape_signature=[-1, 2])
    mb.op(B.WHERE, [mask], [where])
    sq = mb.tensor("sq", [3, 2], np.float32)
    mb.op(B.MUL, [x, x], [sq], opt.MulOptions())
    mb.output(where, sq)
    return mb.to_bytes()
