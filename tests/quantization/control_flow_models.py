"""Float models with control flow (WHILE, IF, CALL_ONCE) for the quantizer's tests.

Built with ModelBuilder (no TensorFlow), weights from a fixed seed. Each builder returns
``(model_bytes, samples)``: the calibration/evaluation samples fit the model's inputs.
"""

from __future__ import annotations

import numpy as np

from edgelite.schema import ActivationFunctionType as Act
from edgelite.schema import BuiltinOperator as B
from edgelite.schema import TensorType
from edgelite.schema import options as o
from edgelite.schema.builder import ModelBuilder

WIDTH = 8
STEPS = 4


def _w(*shape: int, seed: int, scale: float = 0.4) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _samples(count: int, seed: int = 0, flags: bool = False) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = []
    for k in range(count):
        x = (rng.standard_normal((1, WIDTH)) * 1.5).astype(np.float32)
        samples.append([x, np.array([k % 2 == 0])] if flags else [x])
    return samples


def _fc(
    mb: ModelBuilder,
    name: str,
    x: int,
    seed: int,
    act: Act = Act.NONE,
    scale: float = 0.4,
    bias: float = 0.1,
) -> int:
    w = mb.const(f"{name}/w", _w(WIDTH, WIDTH, seed=seed, scale=scale))
    b = mb.const(f"{name}/b", _w(WIDTH, seed=seed + 100, scale=bias))
    y = mb.tensor(name, [1, WIDTH])
    mb.op(B.FULLY_CONNECTED, [x, w, b], [y], o.FullyConnectedOptions(fused_activation_function=act))
    return y


def _cond(mb: ModelBuilder, name: str, float_values: int) -> int:
    """cond(i, *floats): i < STEPS."""
    index = mb.new_subgraph(name)
    i = mb.input("i", [], np.int32)
    for k in range(float_values):
        mb.input(f"v{k}", [1, WIDTH])
    keep_going = mb.tensor("keep_going", [], np.bool_)
    mb.op(B.LESS, [i, mb.const("steps", np.int32(STEPS))], [keep_going])
    mb.output(keep_going)
    return index


def _next_i(mb: ModelBuilder, i: int) -> int:
    nxt = mb.tensor("i_next", [], np.int32)
    mb.op(B.ADD, [i, mb.const("one", np.int32(1))], [nxt], o.AddOptions())
    return nxt


def rnn_loop() -> tuple[bytes, list[list[np.ndarray]]]:
    """h = FC(x); 4 times h = tanh(FC(h) + x) and c = c + h; y = FC(h) + c. Loop values:
    i, h, x (passed through unchanged; the model input, also read by the first FC) and
    c (started from a constant zero)."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    h0 = _fc(mb, "h0", x, seed=1)
    zero = mb.const("zero_state", np.zeros((1, WIDTH), np.float32))
    cond = _cond(mb, "cond", 3)
    body = mb.new_subgraph("body")
    i, h, xb, c = (mb.input("i", [], np.int32), mb.input("h", [1, WIDTH]),
                   mb.input("x", [1, WIDTH]), mb.input("c", [1, WIDTH]))  # fmt: skip
    pre = mb.tensor("pre", [1, WIDTH])
    mb.op(B.ADD, [_fc(mb, "recur", h, seed=2), xb], [pre], o.AddOptions())
    h_next = mb.tensor("h_next", [1, WIDTH])
    mb.op(B.TANH, [pre], [h_next])
    c_next = mb.tensor("c_next", [1, WIDTH])
    mb.op(B.ADD, [c, h_next], [c_next], o.AddOptions())
    mb.output(_next_i(mb, i), h_next, xb, c_next)
    mb.use_subgraph(0)
    outs = [mb.tensor("i_out", [], np.int32)] + [
        mb.tensor(name, [1, WIDTH]) for name in ("h_out", "x_out", "c_out")
    ]
    start = mb.const("start", np.int32(0))
    mb.op(B.WHILE, [start, h0, x, zero], outs, o.WhileOptions(cond, body))
    y = mb.tensor("y", [1, WIDTH])
    mb.op(B.ADD, [_fc(mb, "head", outs[1], seed=3), outs[3]], [y], o.AddOptions())
    mb.output(y)
    return mb.to_bytes(), _samples(16)


def float_body_loop() -> tuple[bytes, list[list[np.ndarray]]]:
    """A loop whose only float op (SIN) has no integer kernel: h = sin(h) 4 times, then
    an integer FC. The loop value stays float (converting it on every iteration would
    only add error); the FC after it is integer."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    cond = _cond(mb, "cond", 1)
    body = mb.new_subgraph("body")
    i, h = mb.input("i", [], np.int32), mb.input("h", [1, WIDTH])
    h_next = mb.tensor("h_next", [1, WIDTH])
    mb.op(B.SIN, [h], [h_next])
    mb.output(_next_i(mb, i), h_next)
    mb.use_subgraph(0)
    outs = [mb.tensor("i_out", [], np.int32), mb.tensor("h_out", [1, WIDTH])]
    mb.op(B.WHILE, [mb.const("start", np.int32(0)), x], outs, o.WhileOptions(cond, body))
    mb.output(_fc(mb, "head", outs[1], seed=4))
    return mb.to_bytes(), _samples(12)


def if_branches() -> tuple[bytes, list[list[np.ndarray]]]:
    """y = IF(flag, FC(x)): then relu(FC(h)), else tanh(h) * 2 - 1; then a final FC."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    flag = mb.input("flag", [1], np.bool_)
    h = _fc(mb, "h", x, seed=5)
    then = mb.new_subgraph("then")
    hin = mb.input("h", [1, WIDTH])
    mb.output(_fc(mb, "then_fc", hin, seed=6, act=Act.RELU))
    other = mb.new_subgraph("else")
    hin = mb.input("h", [1, WIDTH])
    t = mb.tensor("squashed", [1, WIDTH])
    mb.op(B.TANH, [hin], [t])
    doubled, shifted = mb.tensor("doubled", [1, WIDTH]), mb.tensor("shifted", [1, WIDTH])
    mb.op(B.MUL, [t, mb.const("two", np.float32(2.0))], [doubled], o.MulOptions())
    mb.op(B.SUB, [doubled, mb.const("one", np.float32(1.0))], [shifted], o.SubOptions())
    mb.output(shifted)
    mb.use_subgraph(0)
    chosen = mb.tensor("chosen", [1, WIDTH])
    mb.op(B.IF, [flag, h], [chosen], o.IfOptions(then, other))
    mb.output(_fc(mb, "head", chosen, seed=7))
    return mb.to_bytes(), _samples(16, flags=True)


def call_once_variable() -> tuple[bytes, list[list[np.ndarray]]]:
    """A resource variable set by a CALL_ONCE init subgraph, read and added to FC(x)."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    init = mb.new_subgraph("init")
    handle = mb.tensor("handle", [], TensorType.RESOURCE)
    mb.op(B.VAR_HANDLE, [], [handle], o.VarHandleOptions(shared_name="bias"))
    value = mb.const("initial", _w(1, WIDTH, seed=8))
    mb.op(B.ASSIGN_VARIABLE, [handle, value], [])
    mb.use_subgraph(0)
    mb.op(B.CALL_ONCE, [], [], o.CallOnceOptions(init))
    handle = mb.tensor("handle", [], TensorType.RESOURCE)
    mb.op(B.VAR_HANDLE, [], [handle], o.VarHandleOptions(shared_name="bias"))
    read = mb.tensor("read", [1, WIDTH])
    mb.op(B.READ_VARIABLE, [handle], [read])
    y = mb.tensor("y", [1, WIDTH])
    mb.op(B.ADD, [_fc(mb, "fc", x, seed=9), read], [y], o.AddOptions())
    mb.output(y)
    return mb.to_bytes(), _samples(8)


def shared_body_loops() -> tuple[bytes, list[list[np.ndarray]]]:
    """Two WHILE ops running the same cond and body (h = tanh(FC(h)) 4 times), chained."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    cond = _cond(mb, "cond", 1)
    body = mb.new_subgraph("body")
    i, h = mb.input("i", [], np.int32), mb.input("h", [1, WIDTH])
    h_next = mb.tensor("h_next", [1, WIDTH])
    mb.op(B.TANH, [_fc(mb, "recur", h, seed=10)], [h_next])
    mb.output(_next_i(mb, i), h_next)
    mb.use_subgraph(0)
    value = x
    for k in range(2):
        outs = [mb.tensor(f"i_out{k}", [], np.int32), mb.tensor(f"h_out{k}", [1, WIDTH])]
        start = mb.const(f"start{k}", np.int32(0))
        mb.op(B.WHILE, [start, value], outs, o.WhileOptions(cond, body))
        value = outs[1]
    mb.output(_fc(mb, "head", value, seed=11))
    return mb.to_bytes(), _samples(8)


def nested_loops() -> tuple[bytes, list[list[np.ndarray]]]:
    """A WHILE whose body runs another WHILE: 4 times (4 times h = tanh(FC(h))), with
    small weights (16 steps of a larger gain would amplify any rounding) and a larger
    bias (a state near 0 would be a few steps of TANH's fixed int8 output scale)."""
    mb = ModelBuilder()
    x = mb.input("x", [1, WIDTH])
    inner_cond = _cond(mb, "inner_cond", 1)
    inner_body = mb.new_subgraph("inner_body")
    i, h = mb.input("i", [], np.int32), mb.input("h", [1, WIDTH])
    h_next = mb.tensor("h_next", [1, WIDTH])
    mb.op(B.TANH, [_fc(mb, "inner_fc", h, seed=12, scale=0.2, bias=1.0)], [h_next])
    mb.output(_next_i(mb, i), h_next)
    outer_cond = _cond(mb, "outer_cond", 1)
    outer_body = mb.new_subgraph("outer_body")
    i, h = mb.input("i", [], np.int32), mb.input("h", [1, WIDTH])
    inner = [mb.tensor("inner_i", [], np.int32), mb.tensor("inner_h", [1, WIDTH])]
    start = mb.const("start", np.int32(0))
    mb.op(B.WHILE, [start, h], inner, o.WhileOptions(inner_cond, inner_body))
    mb.output(_next_i(mb, i), inner[1])
    mb.use_subgraph(0)
    outs = [mb.tensor("i_out", [], np.int32), mb.tensor("h_out", [1, WIDTH])]
    start = mb.const("start", np.int32(0))
    mb.op(B.WHILE, [start, x], outs, o.WhileOptions(outer_cond, outer_body))
    mb.output(outs[1])
    return mb.to_bytes(), _samples(10)


MODELS = {
    "rnn_loop": rnn_loop,
    "float_body_loop": float_body_loop,
    "if_branches": if_branches,
    "call_once_variable": call_once_variable,
    "shared_body_loops": shared_body_loops,
    "nested_loops": nested_loops,
}
