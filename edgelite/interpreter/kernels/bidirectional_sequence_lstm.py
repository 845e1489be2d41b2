"""BIDIRECTIONAL_SEQUENCE_LSTM in float32: a forward and a backward LSTM over one sequence.

Outputs are the two output sequences, or one with both concatenated on the last axis
(merge_outputs). The optional aux input follows TFLite: with aux weights it is an extra
input of both cells (stacked bidirectional RNNs with cross links); without them it is the
backward cell's input (stacking without cross links).
"""

from __future__ import annotations

from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import BidirectionalSequenceLSTMOptions
from ._lstm_eval import LstmData, invoke, invoke_opt
from ._recurrent import check_float_input
from .base import KernelSpec, Node, Prepared, PrepareError
from .lstm import batch_time, check_aux_weights, check_options, describe_cell, finish

FW_FIRST, BW_FIRST, STATES, AUX, FW_AUX, BW_AUX = 1, 18, 35, 39, 40, 44


def prepare(node: Node) -> Prepared:
    """Validate both cells, the aux input and the states; output shapes per merge_outputs."""
    opts = node.options or BidirectionalSequenceLSTMOptions()
    if len(node.inputs) != 48 or len(node.outputs) != (1 if opts.merge_outputs else 2):
        raise PrepareError("expects 48 inputs and 2 outputs (1 with merge_outputs)")
    x = check_float_input(node, "BIDIRECTIONAL_SEQUENCE_LSTM")
    act, cell_clip, proj_clip = check_options(opts, "BIDIRECTIONAL_SEQUENCE_LSTM")
    n_batch = batch_time(x, opts.time_major)[0]
    aux_info = node.optional_input(AUX)
    has_aux_weights = node.optional_input(FW_AUX + 1) is not None
    # TFLite: aux weights => aux is an extra input of both cells (stacking with cross links);
    # an aux input without weights => it is the backward cell's input (no cross links).
    bw_source = AUX if aux_info is not None and not has_aux_weights else 0
    aux = AUX if has_aux_weights else -1
    if aux_info is not None:
        check_float_input(node, "BIDIRECTIONAL_SEQUENCE_LSTM", AUX)
        if aux_info.shape[:2] != x.shape[:2] or (bw_source and aux_info.shape != x.shape):
            raise PrepareError(
                f"aux input {list(aux_info.shape)} does not match input {list(x.shape)}"
            )
        if aux >= 0 and aux_info.shape[2] != x.shape[2]:
            # TFLite steps through the aux sequence with the input's row size.
            raise PrepareError("aux input size must equal the input size")
    elif has_aux_weights:
        raise PrepareError("aux input weights given without an aux input")
    n_in = x.shape[2]
    fw = describe_cell(node, FW_FIRST, n_in, (STATES, STATES + 1), -1, FW_AUX if aux >= 0 else -1)
    bw = describe_cell(
        node, BW_FIRST, n_in, (STATES + 2, STATES + 3), -1, BW_AUX if aux >= 0 else -1
    )
    if aux >= 0:
        check_aux_weights(node, fw, n_in)
        check_aux_weights(node, bw, n_in)
    lead = x.shape[:2]
    if opts.merge_outputs:
        shapes = [(*lead, fw.n_output + bw.n_output)]
        slots = ((0, 0), (0, fw.n_output))
    else:
        shapes = [(*lead, fw.n_output), (*lead, bw.n_output)]
        slots = ((0, 0), (1, 0))
    data = LstmData(
        (fw, bw),
        (0, bw_source),
        aux,
        slots,
        (True, False),
        bool(opts.time_major),
        act,
        cell_clip,
        proj_clip,
    )
    return finish(node, data, shapes, n_batch)


KERNELS = {
    BuiltinOperator.BIDIRECTIONAL_SEQUENCE_LSTM: KernelSpec(
        prepare=prepare, invoke=invoke, versions=(1, 3), invoke_opt=invoke_opt
    ),
}
