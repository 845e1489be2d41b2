"""Exact hybrid mode, op by op: fed the official runtime's own inputs, every hybrid op of
the corpus's dynamic-range models gives the official output (float rule), reference and
optimized kernels alike.

Whole dynamic-range models cannot be held to the float rule in exact mode: the official
hybrid kernels quantize each activation row on the fly, so a 1e-6 difference in an
upstream float op (summation order) can move a value across a rounding boundary and
change the op's output by a quantization step. Feeding each hybrid op the oracle's own
input tensors removes that amplification and checks the hybrid arithmetic itself --
including the row quantizer's float32 details (_onthefly.py: the NEON vector loop's
+-0.5f rounding, the float32 ``rmax - rmin`` of the asymmetric scale), which decide
values within an ulp of a rounding half (MobileNetV2 node 50 and the unrolled LSTM's
node 23 have such values). tests/kernels/test_hybrid_rounding.py pins them down on
single-op models.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from edgelite.interpreter.op_table import builtin_table
from edgelite.schema import read_model
from edgelite.schema.generated.enums import TensorType
from tests.kernel_runner import _info
from tests.kernels_node import make_node
from tests.oracle import assert_matches, litert_interpreter

pytestmark = pytest.mark.oracle

HYBRID_OPS = {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "BATCH_MATMUL"}


def _dynamic_models():
    from tests.zoo import ensure_zoo

    for entry in ensure_zoo():
        if entry.flavour == "dynamic":
            marks = [pytest.mark.slow] if entry.slow else []
            yield pytest.param(entry, id=entry.id, marks=marks)


def _is_hybrid(model, sg, op) -> bool:
    if model.op_name(op) not in HYBRID_OPS:
        return False
    weights = [sg.tensors[i] for i in op.inputs[1:2] if i >= 0]
    return (
        bool(weights)
        and weights[0].type == TensorType.INT8
        and model.constant(weights[0]) is not None
    )


@pytest.mark.parametrize("entry", list(_dynamic_models()))
@pytest.mark.parametrize("optimized", [False, True], ids=["reference", "optimized"])
def test_each_hybrid_op_matches_oracle(entry, optimized):
    content = entry.path.read_bytes()
    model = read_model(content)
    sg = model.main
    oracle = litert_interpreter(content, experimental_preserve_all_tensors=True)
    oracle.allocate_tensors()
    sample = entry.load_samples()[0]
    detail = oracle.get_input_details()[0]
    oracle.set_tensor(detail["index"], sample.reshape(detail["shape"]).astype(detail["dtype"]))
    oracle.invoke()
    checked = 0
    for index, op in enumerate(sg.operators):
        if not _is_hybrid(model, sg, op):
            continue
        values = {
            i: oracle.get_tensor(i)
            for i in op.inputs
            if i >= 0 and model.constant(sg.tensors[i]) is None
        }
        node = make_node(model, sg, index, op, partial(_info, model, sg, values=values))
        spec = builtin_table()[int(model.operator_codes[op.opcode_index].builtin_code)]
        prepared = spec.prepare(node)
        ins = [None if i < 0 else values.get(i, model.constant(sg.tensors[i])) for i in op.inputs]
        out = np.empty(prepared.output_shapes[0], np.float32)
        (spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke)(
            prepared.data, ins, [out]
        )
        assert_matches(out, oracle.get_tensor(op.outputs[0]), f"node {index} {model.op_name(op)}")
        checked += 1
    if entry.model != "lstm_text":  # its hybrid ops live inside the WHILE body
        assert checked, "no hybrid op found"
