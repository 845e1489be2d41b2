"""Recognise a Keras LSTM recurrence in a WHILE loop's cond/body subgraphs.

Keras 2 (tf_keras) and Keras 3 both lower ``LSTM`` to a loop whose body, once lowered
and cleaned up, is exactly::

    x_t = GATHER(xs, t)                                 xs: [T, B, I], passed through
    z   = FC(x_t, W) + FC(h, R) + bias                  (ADDs in any order)
    s0, s1, s2, s3 = SPLIT(z, axis 1)                   Keras gate order i, f, g, o
    c'  = sigmoid(s_f) * c + sigmoid(s_i) * tanh(s_g)
    h'  = sigmoid(s_o) * tanh(c')
    out = SELECT_V2(t == iota, RESHAPE(h', [1, B, U]), out)   (all T steps)
       or RESHAPE(h', [1, B, U])                              (the last step only)
    counters + 1

with a cond that runs while the counters stay below constant limits. The matcher
accepts that and nothing else: every body op must belong to the pattern, so a loop
that computes anything more (peepholes, another activation, dropout masks) is left as
a WHILE. Which chunk is which gate is read from the dataflow, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...schema.model import Model, Operator, Subgraph
from .common import ACT_NONE, B, code_of, constant, fused_activation

GATES = ("i", "f", "g", "o")  # TFLite's input / forget / cell / output order


@dataclass
class LstmBody:
    """What a matched body computes, by loop-variable position."""

    x: int  # the input sequence list [T, B, I] (passed through)
    h: int
    c: int
    out: int  # the output list: [T, B, U] ('sequence') or [1, B, U] ('last')
    time: int  # the counter GATHER reads the step with
    counters: list[int]
    kind: str  # 'sequence' or 'last'
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> [U, I]
    recurrent: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> [U, U]
    bias: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> [U]


class _Walk:
    """Producers and single consumers of a subgraph, recording every op it visits."""

    def __init__(self, model: Model, sg: Subgraph) -> None:
        self.model, self.sg = model, sg
        self.producer = {t: i for i, op in enumerate(sg.operators) for t in op.outputs}
        self.readers: dict[int, list[int]] = {}
        for i, op in enumerate(sg.operators):
            for t in set(op.inputs):
                self.readers.setdefault(t, []).append(i)
        self.used: set[int] = set()

    def made(self, tensor: int, code: int) -> Operator | None:
        """The op of type ``code`` writing ``tensor`` (no fused activation), marked used."""
        index = self.producer.get(tensor)
        if index is None:
            return None
        op = self.sg.operators[index]
        if code_of(self.model, op) != code or fused_activation(op) != ACT_NONE:
            return None
        self.used.add(index)
        return op

    def value(self, tensor: int) -> np.ndarray | None:
        return constant(self.model, self.sg, tensor)

    def single_reader(self, tensor: int) -> bool:
        return len(self.readers.get(tensor, [])) == 1


def _sum_terms(walk: _Walk, z: int) -> list[int] | None:
    """The leaves of the ADD tree computing ``z`` (each ADD read once)."""
    add = walk.made(z, B.ADD)
    if add is None:
        return [z]
    terms = []
    for t in add.inputs:
        if walk.value(t) is None and not walk.single_reader(t):
            return None
        found = _sum_terms(walk, t) if walk.value(t) is None else [t]
        if found is None:
            return None
        terms += found
    return terms


def _two_mul_inputs(walk: _Walk, tensor: int) -> tuple[int, int] | None:
    op = walk.made(tensor, B.MUL)
    return None if op is None else (op.inputs[0], op.inputs[1])


def _sigmoid_of(walk: _Walk, tensor: int) -> int | None:
    op = walk.made(tensor, B.LOGISTIC)
    return None if op is None else op.inputs[0]


def _gate_product(walk: _Walk, tensor: int, other_code: int | None) -> tuple[int, int] | None:
    """MUL(sigmoid(s), y) in either order -> (s, y); y made by ``other_code`` if given."""
    pair = _two_mul_inputs(walk, tensor)
    if pair is None:
        return None
    for a, b in (pair, pair[::-1]):
        index = walk.producer.get(a)
        if index is None or code_of(walk.model, walk.sg.operators[index]) != B.LOGISTIC:
            continue
        if other_code is not None:
            other = walk.producer.get(b)
            if other is None or code_of(walk.model, walk.sg.operators[other]) != other_code:
                continue
        chunk = _sigmoid_of(walk, a)
        if chunk is not None:
            return chunk, b
    return None


def _cell(walk: _Walk, h_new: int) -> tuple[dict[str, int], int, int] | None:
    """Gate chunks, the previous cell state and c' from h' = sigmoid(o) * tanh(c')."""
    found = _gate_product(walk, h_new, B.TANH)
    if found is None:
        return None
    chunk_o, tanh_c = found
    c_new = walk.made(tanh_c, B.TANH).inputs[0]  # type: ignore[union-attr]
    add = walk.made(c_new, B.ADD)
    if add is None:
        return None
    for first, second in (add.inputs, add.inputs[::-1]):
        forget = _gate_product(walk, first, None)
        take = _gate_product(walk, second, B.TANH) if forget else None
        if forget and take:
            chunk_g = walk.made(take[1], B.TANH).inputs[0]  # type: ignore[union-attr]
            gates = {"i": take[0], "f": forget[0], "g": chunk_g, "o": chunk_o}
            return gates, forget[1], c_new
    return None


def _projections(walk: _Walk, z: int, body: Subgraph) -> tuple[dict, int, int] | None:
    """(FC inputs -> weights and biases, h position, step tensor x_t) of z's sum."""
    terms = _sum_terms(walk, z)
    if terms is None:
        return None
    fcs: dict[int, np.ndarray] = {}
    bias, reshapes = np.zeros(1, np.float32), 0
    for t in terms:
        value = walk.value(t)
        if value is not None:
            bias = bias + value.astype(np.float32).reshape(-1)
            continue
        relabel = walk.made(t, B.RESHAPE)
        if relabel is not None and _drops_ones(walk.sg, relabel) and walk.single_reader(t):
            t, reshapes = relabel.inputs[0], reshapes + 1  # [1, 4U] -> [4U] (batch 1)
        fc = walk.made(t, B.FULLY_CONNECTED)
        w = walk.value(fc.inputs[1]) if fc is not None else None
        if fc is None or w is None or fc.builtin_options.keep_num_dims or w.ndim != 2:
            return None
        if len(fc.inputs) > 2 and fc.inputs[2] >= 0:
            fc_bias = walk.value(fc.inputs[2])
            if fc_bias is None:
                return None
            bias = bias + fc_bias.astype(np.float32)
        fcs[fc.inputs[0]] = w.astype(np.float32)
    if len(fcs) != 2:
        return None
    h_inputs = [t for t in fcs if t in body.inputs]
    if len(h_inputs) != 1:
        return None
    (x_t,) = [t for t in fcs if t not in body.inputs]
    arrays = {"W": fcs[x_t], "R": fcs[h_inputs[0]], "b": bias, "adds": len(terms) - 1 + reshapes}
    return arrays, h_inputs[0], x_t


def _drops_ones(sg: Subgraph, reshape: Operator) -> bool:
    """A RESHAPE that only adds or removes size-1 dimensions (the values keep their places)."""
    before, after = sg.tensors[reshape.inputs[0]].shape, sg.tensors[reshape.outputs[0]].shape
    return [d for d in before if d != 1] == [d for d in after if d != 1]


def _split_chunks(walk: _Walk, gates: dict[str, int]) -> tuple[int, list[int]] | None:
    """z and the gate order of the SPLIT making the four chunks."""
    index = walk.producer.get(gates["i"])
    if index is None:
        return None
    split = walk.sg.operators[index]
    if code_of(walk.model, split) != B.SPLIT or len(split.outputs) != 4:
        return None
    axis = walk.value(split.inputs[0])
    z = split.inputs[1]
    if axis is None or int(axis.reshape(())) not in (1, -1) or len(walk.sg.tensors[z].shape) != 2:
        return None
    if sorted(split.outputs) != sorted(gates.values()):
        return None
    walk.used.add(index)
    return z, [split.outputs.index(gates[g]) for g in GATES]


def match_body(model: Model, body: Subgraph) -> LstmBody | None:
    """The LSTM a WHILE body computes, or None when it is anything else."""
    walk = _Walk(model, body)
    n = len(body.inputs)
    if len(body.outputs) != n:
        return None
    outs = body.outputs
    # h' is the output whose value is sigmoid(o) * tanh(c'): try each position.
    for h in range(n):
        walk.used.clear()
        cell = _cell(walk, outs[h])
        if cell is None:
            continue
        gates, c_in, c_new = cell
        if c_in not in body.inputs or outs[body.inputs.index(c_in)] != c_new:
            continue
        split = _split_chunks(walk, gates)
        found = _projections(walk, split[0], body) if split else None
        if split is None or found is None or found[1] != body.inputs[h]:
            continue
        return _finish(walk, body, h, body.inputs.index(c_in), split[1], found)
    return None


def _finish(
    walk: _Walk, body: Subgraph, h: int, c: int, order: list[int], found
) -> LstmBody | None:
    arrays, _, x_t = found
    gather = walk.made(x_t, B.GATHER)
    if gather is None or gather.builtin_options.axis != 0 or gather.builtin_options.batch_dims:
        return None
    xs, time_tensor = gather.inputs
    if xs not in body.inputs or time_tensor not in body.inputs:
        return None
    x, time = body.inputs.index(xs), body.inputs.index(time_tensor)
    if body.outputs[x] != xs:
        return None
    counters = [k for k in range(len(body.inputs)) if _is_counter(walk, body, k)]
    rest = [k for k in range(len(body.inputs)) if k not in (x, h, c, *counters)]
    if time not in counters or len(rest) != 1:
        return None
    kind = _output_list(walk, body, rest[0], body.outputs[h], time_tensor)
    # Every op is part of the pattern, and no op was counted in twice by a failed try:
    # gather, 2 FC, the sum's ADDs, split, 3 sigmoid, 2 tanh, 3 mul, 1 add, list ops.
    expected = len(counters) + 13 + arrays["adds"] + (1 if kind == "last" else 4)
    used_all = walk.used == set(range(len(body.operators)))
    if kind is None or not used_all or len(body.operators) != expected:
        return None
    units = walk.sg.tensors[body.outputs[h]].shape[-1]
    chunks = {g: slice(k * units, (k + 1) * units) for g, k in zip(GATES, order)}
    bias = np.broadcast_to(np.asarray(arrays["b"], np.float32), (4 * units,))
    return LstmBody(
        x, h, c, rest[0], time, counters, kind,
        weights={g: arrays["W"][s] for g, s in chunks.items()},
        recurrent={g: arrays["R"][s] for g, s in chunks.items()},
        bias={g: np.ascontiguousarray(bias[s]) for g, s in chunks.items()},
    )  # fmt: skip


def _is_counter(walk: _Walk, body: Subgraph, k: int) -> bool:
    """Loop variable ``k`` is an int counter stepping by 1."""
    add = walk.made(body.outputs[k], B.ADD)
    if add is None or body.inputs[k] not in add.inputs:
        return False
    step = walk.value(add.inputs[1 - add.inputs.index(body.inputs[k])])
    return (
        step is not None
        and step.size == 1
        and step.dtype.kind == "i"
        and int(step.reshape(())) == 1
    )


def _output_list(walk: _Walk, body: Subgraph, k: int, h_new: int, time: int) -> str | None:
    """'sequence' when step t writes h' at row t of list ``k``, 'last' when the one-row
    list is h' itself; None otherwise."""
    result = body.outputs[k]
    reshape = walk.made(result, B.RESHAPE)
    if reshape is not None and reshape.inputs[0] == h_new:
        return "last" if walk.sg.tensors[result].shape[0] == 1 else None
    select = walk.made(result, B.SELECT_V2)
    if select is None or select.inputs[2] != body.inputs[k]:
        return None
    row = walk.made(select.inputs[1], B.RESHAPE)
    mask = walk.made(select.inputs[0], B.RESHAPE)
    equal = walk.made(mask.inputs[0], B.EQUAL) if mask is not None else None
    if row is None or row.inputs[0] != h_new or equal is None or time not in equal.inputs:
        return None
    iota = walk.value(equal.inputs[1 - equal.inputs.index(time)])
    length = walk.sg.tensors[result].shape[0]
    return "sequence" if iota is not None and np.array_equal(iota, np.arange(length)) else None


def trip_count(model: Model, cond: Subgraph, starts: dict[int, int]) -> int | None:
    """Iterations of a cond that is an AND of ``counter < limit`` tests, or None.

    ``starts``: initial value of each counter position (counters step by 1).
    """
    walk = _Walk(model, cond)
    limits = []
    pending = [cond.outputs[0]] if len(cond.outputs) == 1 else []
    while pending:
        tensor = pending.pop()
        both = walk.made(tensor, B.LOGICAL_AND)
        if both is not None:
            pending += both.inputs
            continue
        less = walk.made(tensor, B.LESS)
        if less is None or less.inputs[0] not in cond.inputs:
            return None
        position = cond.inputs.index(less.inputs[0])
        limit = walk.value(less.inputs[1])
        if position not in starts or limit is None or limit.size != 1:
            return None
        limits.append(int(limit.reshape(())) - starts[position])
    if not limits or walk.used != set(range(len(cond.operators))):
        return None
    return max(min(limits), 0)
