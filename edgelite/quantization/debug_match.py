"""Which tensor of a quantized model holds the value of each float activation.

Both the official converter and edgelite's quantizer keep the float model's tensor
names on the quantized tensors, so names match first. Where a name changed (the
official converter renames the model input's QUANTIZE output and the tensor before a
final DEQUANTIZE), the two op sequences are aligned by op type, ignoring the
QUANTIZE/DEQUANTIZE ops quantization inserts, and the outputs of aligned ops match by
position. A pair is kept only when both tensors have the same shape.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..schema import graph
from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model, Subgraph
from .calibrate import activation_tensors

# Ops that quantization inserts at the boundaries between integer and float tensors;
# they have no counterpart in the float model, so alignment skips them.
_BOUNDARY_OPS = (BuiltinOperator.QUANTIZE, BuiltinOperator.DEQUANTIZE)
INPUT_OP = "INPUT"


@dataclass(frozen=True)
class TensorPair:
    """One float activation and the quantized tensor that holds the same value."""

    position: int  # index of the float op producing it; -1 for a model input
    op: str  # that op's name (CONV_2D), or INPUT
    float_tensor: int
    quant_tensor: int
    name: str  # the float tensor's name
    matched_by: str  # "name" or "position"
    inputs: tuple[int, ...]  # float tensors of the producing op's activation inputs


@dataclass
class Matching:
    """The result of :func:`match_tensors`: pairs in network order, names left unmatched."""

    pairs: list[TensorPair]
    unmatched: list[str]


def match_tensors(float_model: Model, quant_model: Model) -> Matching:
    """Pair every float activation of the main subgraph with its quantized tensor."""
    fsg, qsg = float_model.main, quant_model.main
    wanted = activation_tensors(float_model)
    chosen: dict[int, tuple[int, str]] = {}
    used: set[int] = set()
    by_name = _names(quant_model)
    follow = _Follower(quant_model)
    for t in wanted:
        for candidate in by_name.get(fsg.tensors[t].name, []):
            q = follow(candidate)
            if q not in used and _same_shape(fsg, t, qsg, q):
                chosen[t] = (q, "name")
                used.add(q)
                break
    for f_op, q_op in _aligned_ops(float_model, quant_model):
        f_outs, q_outs = fsg.operators[f_op].outputs, qsg.operators[q_op].outputs
        for t, candidate in zip(f_outs, q_outs):
            if t in chosen or t not in wanted or candidate < 0:
                continue
            q = follow(candidate)
            if q not in used and _same_shape(fsg, t, qsg, q):
                chosen[t] = (q, "position")
                used.add(q)
    return _pairs(float_model, wanted, chosen)


def _pairs(model: Model, wanted: list[int], chosen: dict[int, tuple[int, str]]) -> Matching:
    sg = model.main
    activations = set(wanted)
    pairs = []
    for t in sg.inputs:
        if t in chosen:
            q, how = chosen[t]
            pairs.append(TensorPair(-1, INPUT_OP, t, q, sg.tensors[t].name, how, ()))
    for position, op in enumerate(sg.operators):
        inputs = tuple(dict.fromkeys(i for i in op.inputs if i in activations and i in chosen))
        for t in op.outputs:
            if t in chosen:
                q, how = chosen[t]
                name = model.op_name(op)
                pairs.append(TensorPair(position, name, t, q, sg.tensors[t].name, how, inputs))
    unmatched = [sg.tensors[t].name for t in wanted if t not in chosen]
    return Matching(pairs, unmatched)


def _names(model: Model) -> dict[str, list[int]]:
    """Run-time tensors of the main subgraph by name (constants never hold activations)."""
    sg = model.main
    names: dict[str, list[int]] = {}
    for i, tensor in enumerate(sg.tensors):
        if model.constant(tensor) is None and not tensor.is_variable:
            names.setdefault(tensor.name, []).append(i)
    return names


class _Follower:
    """Maps a quantized-model tensor to the integer tensor holding the same value.

    A float tensor next to a DEQUANTIZE (its output) or a lone QUANTIZE (its input)
    carries the same values as the integer tensor on the other side; the integer one
    also tells the scale, the zero point and how much of the range is used.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.producers = graph.producers(model.main)
        self.consumers = graph.consumers(model.main)

    def __call__(self, t: int) -> int:
        model, sg = self.model, self.model.main
        if sg.tensors[t].type != TensorType.FLOAT32:
            return t
        made_by = self.producers.get(t)
        if made_by is not None and _code(model, made_by) == BuiltinOperator.DEQUANTIZE:
            source = sg.operators[made_by].inputs[0]
            if source >= 0 and model.constant(sg.tensors[source]) is None:
                return source
        readers = self.consumers.get(t, [])
        if len(readers) == 1 and _code(model, readers[0]) == BuiltinOperator.QUANTIZE:
            return sg.operators[readers[0]].outputs[0]
        return t


def _code(model: Model, op_index: int) -> int:
    op = model.main.operators[op_index]
    return model.operator_codes[op.opcode_index].builtin_code


def _same_shape(fsg: Subgraph, f: int, qsg: Subgraph, q: int) -> bool:
    return list(fsg.tensors[f].shape) == list(qsg.tensors[q].shape)


def _aligned_ops(float_model: Model, quant_model: Model) -> list[tuple[int, int]]:
    """(float op, quantized op) pairs of the longest common op-type subsequences."""
    f_ops = _typed_ops(float_model)
    q_ops = _typed_ops(quant_model)
    matcher = difflib.SequenceMatcher(
        None, [name for _, name in f_ops], [name for _, name in q_ops], autojunk=False
    )
    pairs = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs.append((f_ops[block.a + k][0], q_ops[block.b + k][0]))
    return pairs


def _typed_ops(model: Model) -> list[tuple[int, str]]:
    """(op index, op name) of the main subgraph, without quantization's boundary ops."""
    return [
        (i, model.op_name(op))
        for i, op in enumerate(model.main.operators)
        if _code(model, i) not in _BOUNDARY_OPS
    ]
