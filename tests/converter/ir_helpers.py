"""Small IR graphs for pass tests, and a before/after equivalence check (no TensorFlow)."""

from __future__ import annotations

import copy

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import Conv2DOptions, Padding
from edgelite.schema.model import Model
from edgelite.schema.writer import write_model
from tests.oracle import assert_matches, run_litert

RNG_SEED = 7


def rand(*shape: int, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def op_codes(model: Model, subgraph: int = 0) -> list[str]:
    return [model.op_name(op) for op in model.subgraphs[subgraph].operators]


def conv(
    mb: ModelBuilder,
    x: int,
    out_ch: int,
    name: str = "conv",
    stride: int = 1,
    padding: Padding = Padding.SAME,
    kernel: int = 3,
) -> int:
    """A CONV_2D with random weights and bias; returns its output tensor."""
    shape = mb.sg.tensors[x].shape
    w = mb.const(f"{name}/w", rand(out_ch, kernel, kernel, shape[3], seed=len(mb.sg.tensors)))
    b = mb.const(f"{name}/b", rand(out_ch, seed=len(mb.sg.tensors) + 1))
    if padding == Padding.SAME:
        spatial = [-(-d // stride) for d in shape[1:3]]
    else:
        spatial = [(d - kernel) // stride + 1 for d in shape[1:3]]
    y = mb.tensor(f"{name}/out", [shape[0], *spatial, out_ch])
    mb.op(B.CONV_2D, [x, w, b], [y], Conv2DOptions(padding, stride, stride))
    return y


def check_pass(model: Model, graph_pass, inputs: list[np.ndarray], expect_changes: bool = True):
    """Run ``graph_pass`` on subgraph 0 of a copy and hold its outputs to the original's.

    Returns the changed model. Both versions run in the official runtime.
    """
    before = run_litert(write_model(model), inputs)
    changed = copy.deepcopy(model)
    count = graph_pass(changed, changed.main)
    assert (count > 0) == expect_changes, f"{graph_pass.__name__} made {count} change(s)"
    after = run_litert(write_model(changed), inputs)
    for i, (a, b) in enumerate(zip(after, before)):
        assert_matches(a, b, f"output {i} after {graph_pass.__name__}")
    return changed
