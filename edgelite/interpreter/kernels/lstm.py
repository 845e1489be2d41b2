"""UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM (full kernel, one time step): float32, hybrid
(int8/uint8 weights with float activations, ``_lstm_hybrid``) and integer (int8 input,
TFLite's 8x8->16 kernel, ``_lstm_integer``).

Prepare validates the 20 or 24 inputs as TFLite's CheckInputTensorDimensions does and
records where each tensor is; the computation lives in ``_lstm_eval`` (shared with
BIDIRECTIONAL_SEQUENCE_LSTM).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...schema.generated.enums import ActivationFunctionType as Act
from ...schema.generated.enums import BuiltinOperator, LSTMKernelType
from ...schema.generated.options import LSTMOptions, UnidirectionalSequenceLSTMOptions
from . import _lstm_integer
from ._lstm_eval import Cell, LstmData, Packed, invoke, invoke_opt, pack, weight_positions
from ._lstm_hybrid import hybrid_params
from ._recurrent import check_float_input, check_state
from .base import KernelSpec, Node, Prepared, PrepareError, TensorInfo

# Node input positions of one direction, relative to its first weight (gate order i, f, c, o).
_W_RECURRENT, _BIAS, _PROJ, _PROJ_BIAS = 4, 11, 15, 16
UNI_FIRST, UNI_H, UNI_C, UNI_LAYER_NORM = 1, 18, 19, 20
_ACTIVATIONS = (Act.RELU, Act.RELU_N1_TO_1, Act.RELU6, Act.TANH, Act.SIGN_BIT)


def _shape_of(node: Node, pos: int) -> tuple[int, ...] | None:
    info = node.optional_input(pos)
    return None if info is None else info.shape


# Tensor types per kind of LSTM tensor (weight, vector = peephole, bias, norm = layer norm)
# in a float32 LSTM, a hybrid one, and an integer (8x8->16) one.
_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "float": {k: (np.float32,) for k in ("weight", "vector", "bias", "norm")},
    "hybrid": {
        "weight": (np.int8, np.uint8),
        "vector": (np.int8, np.uint8),
        "bias": (np.float32,),
        "norm": (np.float32,),
    },
    "integer": {
        "weight": (np.int8,),
        "vector": (np.int16,),
        "bias": (np.int32,),
        "norm": (np.int16,),
    },
}


def lstm_mode(node: Node) -> str:
    """ "integer" (int8 input), "hybrid" (float input, int8 weights) or "float"."""
    if node.input(0).dtype == np.int8:
        return "integer"
    return "hybrid" if _is_hybrid(node) else "float"


def _expect(node: Node, pos: int, shape: tuple[int, ...], what: str, kind: str = "bias") -> None:
    """Shape and type of one tensor; ``kind``: weight, vector (peephole), bias or norm."""
    info = node.input(pos)
    if info.shape != shape:
        raise PrepareError(
            f"{what} {info.name!r} has shape {list(info.shape)}; expected {list(shape)}"
        )
    mode = lstm_mode(node)
    allowed = [np.dtype(t) for t in _TYPES[mode][kind]]
    if info.dtype not in allowed:
        names = "/".join(t.name for t in allowed)
        raise PrepareError(
            f"{what} {info.name!r} is {info.dtype.name}; a {mode} LSTM needs {names}"
        )


def _is_hybrid(node: Node) -> bool:
    """TFLite's IsHybridOp: float input, int8/uint8 input_to_output weights."""
    weights = node.optional_input(UNI_FIRST + 3)
    return weights is not None and weights.dtype in (np.int8, np.uint8)


def _present(node: Node, positions: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(p if p >= 0 and node.optional_input(p) is not None else -1 for p in positions)


def describe_cell(
    node: Node, first: int, n_input: int, states: tuple[int, int], layer_norm: int, aux: int
) -> Cell:
    """Validate one direction's tensors (TFLite's CheckInputTensorDimensions) and locate them."""
    out_w = _shape_of(node, first + 3)
    rec_w = _shape_of(node, first + _W_RECURRENT + 3)
    if out_w is None or len(out_w) != 2 or rec_w is None:
        raise PrepareError("input_to_output_weights must be [n_cell, n_input]")
    if len(rec_w) != 2:
        raise PrepareError("recurrent weights must be 2-D; diagonal ones are integer-only")
    n_cell, n_output = out_w[0], rec_w[1]
    w_in = _present(node, tuple(range(first, first + 4)))
    w_rec = _present(node, tuple(range(first + 4, first + 8)))
    cifg = w_in[0] < 0
    if (w_rec[0] < 0) != cifg:
        raise PrepareError(
            "input_to_input and recurrent_to_input weights must both be given or neither"
        )
    for gate in range(4):
        if gate == 0 and cifg:
            continue
        _expect(node, w_in[gate], (n_cell, n_input), "input weights", "weight")
        _expect(node, w_rec[gate], (n_cell, n_output), "recurrent weights", "weight")
    w_aux = _present(node, tuple(range(aux, aux + 4))) if aux >= 0 else (-1,) * 4
    peep = _present(node, (first + 8, first + 9, -1, first + 10))
    if peep[1] >= 0 or peep[3] >= 0 or peep[0] >= 0:
        if peep[1] < 0 or peep[3] < 0 or (peep[0] < 0) != cifg:
            raise PrepareError("peephole weights must be given for every gate or for none")
        for p in peep:
            if p >= 0:
                _expect(node, p, (n_cell,), "peephole weights", "vector")
    bias = _present(node, tuple(range(first + _BIAS, first + _BIAS + 4)))
    if (bias[0] >= 0) == cifg:
        raise PrepareError("the input gate bias must be given exactly when there is an input gate")
    for p in bias:
        if p >= 0:
            _expect(node, p, (n_cell,), "gate bias")
    norm = (
        _present(node, tuple(range(layer_norm, layer_norm + 4))) if layer_norm >= 0 else (-1,) * 4
    )
    if norm[1] >= 0:
        for gate, p in enumerate(norm):
            if (gate != 0 or not cifg) and p < 0:
                raise PrepareError("layer norm coefficients must be given for every gate")
            if p >= 0:
                _expect(node, p, (n_cell,), "layer norm coefficients", "norm")
    proj, proj_bias = _present(node, (first + _PROJ, first + _PROJ_BIAS))
    if proj >= 0:
        _expect(node, proj, (n_output, n_cell), "projection weights", "weight")
    elif proj_bias >= 0:
        raise PrepareError("projection bias given without projection weights")
    elif n_output != n_cell:
        raise PrepareError(f"n_output {n_output} != n_cell {n_cell} needs projection weights")
    if proj_bias >= 0:
        _expect(node, proj_bias, (n_output,), "projection bias")
    return Cell(
        w_in,
        w_aux,
        w_rec,
        peep,
        bias,
        norm if norm[1] >= 0 else (-1,) * 4,
        proj,
        proj_bias,
        states[0],
        states[1],
        n_cell,
        n_output,
    )


def check_aux_weights(node: Node, cell: Cell, n_aux: int) -> None:
    """Every present gate of ``cell`` needs a float32 [n_cell, n_aux] aux weight."""
    for gate, p in enumerate(cell.w_aux):
        if gate == 0 and cell.cifg:
            continue
        if p < 0:
            raise PrepareError("aux input weights must be given for every gate or for none")
        _expect(node, p, (cell.n_cell, n_aux), "aux input weights", "weight")


def check_options(opts, op: str) -> tuple[int, float, float]:
    """(activation, cell_clip, proj_clip) from an LSTM options table, validated."""
    act = int(opts.fused_activation_function)
    if act not in _ACTIVATIONS:
        # TFLite's float kernel leaves its gate buffers unwritten for NONE: no defined result.
        raise PrepareError(f"{op} fused activation {Act(act).name} is not supported")
    if opts.cell_clip < 0 or opts.proj_clip < 0:
        raise PrepareError("cell_clip and proj_clip must be >= 0 (0 = no clipping)")
    return act, float(opts.cell_clip), float(opts.proj_clip)


def batch_time(x: TensorInfo, time_major: bool) -> tuple[int, int]:
    """(batch, time) of a 3-D sequence input."""
    if len(x.shape) != 3:
        raise PrepareError(f"input {x.name!r} has {len(x.shape)} dims; expected 3")
    return (x.shape[1], x.shape[0]) if time_major else (x.shape[0], x.shape[1])


def _check_int_state(node: Node, pos: int, size: int, dtype, what: str) -> None:
    info = node.input(pos)
    if not info.is_variable:
        raise PrepareError(f"{what} {info.name!r} must be a variable tensor")
    if info.dtype != dtype or int(np.prod(info.shape)) != size:
        raise PrepareError(
            f"{what} {info.name!r} must be {np.dtype(dtype).name} with {size} elements, got "
            f"{info.dtype.name} {list(info.shape)}"
        )


def _finish_integer(node: Node, data: LstmData, shapes, n_batch: int) -> Prepared:
    """The 8x8->16 integer LSTM: int8 h state, int16 cell state, int8 output."""
    cell = data.cells[0]
    if data.activation != Act.TANH:
        raise PrepareError(
            f"an integer LSTM computes tanh; fused activation {Act(data.activation).name} "
            "is not supported"
        )
    _check_int_state(node, cell.h_state, n_batch * cell.n_output, np.int8, "activation state")
    _check_int_state(node, cell.c_state, n_batch * cell.n_cell, np.int16, "cell state")
    out = node.outputs[0]
    if out.dtype != np.int8:
        raise PrepareError(f"output {out.name!r} is {out.dtype.name}; an integer LSTM gives int8")
    integer = _lstm_integer.prepare(node, cell, data.cell_clip, data.proj_clip)
    data = replace(data, integer=integer, packed=(None,), num_threads=node.num_threads)
    return Prepared(output_shapes=shapes, data=data)


def _lstm_input(node: Node, op: str) -> TensorInfo:
    """The sequence input: int8 (integer LSTM) or float32."""
    x = node.input(0)
    return x if x.dtype == np.int8 else check_float_input(node, op)


def finish(node: Node, data: LstmData, shapes: list[tuple[int, ...]], n_batch: int) -> Prepared:
    """Check the state variables, pack constant weights, return the prepared op."""
    if lstm_mode(node) == "integer":
        return _finish_integer(node, data, shapes, n_batch)
    packed: list[Packed | None] = []
    for cell in data.cells:
        check_state(node, cell.h_state, n_batch * cell.n_output, "activation state")
        check_state(node, cell.c_state, n_batch * cell.n_cell, "cell state")
    hybrid = hybrid_params(node, data.cells)
    if hybrid is not None:  # int8 weights: the hybrid step (no packing for the float kernel)
        data = replace(data, hybrid=hybrid, packed=(None,) * len(data.cells))
        return Prepared(output_shapes=shapes, data=replace(data, num_threads=node.num_threads))
    for cell in data.cells:
        # Constant weights are packed once here; runtime weights at every invoke.
        values = {p: node.input(p).data for p in weight_positions(cell)}
        if all(value is not None for value in values.values()):
            packed.append(pack(cell, values.__getitem__))  # type: ignore[arg-type]
        else:
            packed.append(None)
    data = replace(data, packed=tuple(packed), num_threads=node.num_threads)
    return Prepared(output_shapes=shapes, data=data)


def _prepare_unidirectional(node: Node) -> Prepared:
    """UNIDIRECTIONAL_SEQUENCE_LSTM: input [batch, time, n_input] (or time major)."""
    if len(node.inputs) not in (20, 24) or len(node.outputs) != 1:
        raise PrepareError("expects 20 or 24 inputs and 1 output")
    opts = node.options or UnidirectionalSequenceLSTMOptions()
    x = _lstm_input(node, "UNIDIRECTIONAL_SEQUENCE_LSTM")
    act, cell_clip, proj_clip = check_options(opts, "UNIDIRECTIONAL_SEQUENCE_LSTM")
    if opts.diagonal_recurrent_tensors:
        raise PrepareError(
            "diagonal_recurrent_tensors is integer-only; float LSTMs need 2-D weights"
        )
    n_batch = batch_time(x, opts.time_major)[0]
    norm = UNI_LAYER_NORM if len(node.inputs) == 24 else -1
    cell = describe_cell(node, UNI_FIRST, x.shape[2], (UNI_H, UNI_C), norm, -1)
    data = LstmData(
        (cell,), (0,), -1, ((0, 0),), (True,), bool(opts.time_major), act, cell_clip, proj_clip
    )
    return finish(node, data, [(*x.shape[:2], cell.n_output)], n_batch)


def _prepare_lstm(node: Node) -> Prepared:
    """LSTM (full kernel): one step, input [batch, n_input], output [batch, n_output]."""
    opts = node.options or LSTMOptions()
    if opts.kernel_type != LSTMKernelType.FULL:
        raise PrepareError(
            "LSTM with the BASIC kernel type (quantized 4-gate cell) is not supported"
        )
    if len(node.inputs) not in (20, 24) or len(node.outputs) != 1:
        raise PrepareError("the full LSTM kernel expects 20 or 24 inputs and 1 output")
    x = _lstm_input(node, "LSTM")
    act, cell_clip, proj_clip = check_options(opts, "LSTM")
    if len(x.shape) != 2:
        raise PrepareError(f"input {x.name!r} has {len(x.shape)} dims; LSTM needs [batch, n_input]")
    norm = UNI_LAYER_NORM if len(node.inputs) == 24 else -1
    cell = describe_cell(node, UNI_FIRST, x.shape[1], (UNI_H, UNI_C), norm, -1)
    data = LstmData((cell,), (0,), -1, ((0, 0),), (True,), True, act, cell_clip, proj_clip)
    return finish(node, data, [(x.shape[0], cell.n_output)], x.shape[0])


KERNELS = {
    BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM: KernelSpec(
        prepare=_prepare_unidirectional, invoke=invoke, versions=(1, 4), invoke_opt=invoke_opt
    ),
    BuiltinOperator.LSTM: KernelSpec(
        prepare=_prepare_lstm, invoke=invoke, versions=(1, 4), invoke_opt=invoke_opt
    ),
}
