"""Load-time fusion of float convolution chains into single steps of the execution plan.

MobileNet-style networks are chains of CONV_2D (expand) -> DEPTHWISE_CONV_2D ->
CONV_2D 1x1 (project) -> ADD (residual). Op by op, every intermediate tensor makes
a round trip through memory; fused (``kernels/_fused_block.pyx``) the chain runs a
band of output rows at a time with the intermediates in an L2-sized buffer, and its
GEMMs use weights packed once here. Like the official runtime's default delegate,
this applies only to the optimized kernels (``OpResolverType.AUTO`` / ``BUILTIN``):
never under ``BUILTIN_REF`` or ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``, nor with
``experimental_preserve_all_tensors``.

A chain is consecutive units of the plan, each one prepared (static shapes) float32
node with constant weights, where every tensor passed along the chain has exactly one
reader, is not a subgraph output or variable and has no tap on it. Accepted chains:
conv -> depthwise (-> 1x1 conv (-> add)), depthwise -> 1x1 conv (-> add), and
conv (-> add) alone (its GEMM on packed weights). The depthwise has depth multiplier
1; a conv is not grouped; a fused TANH is never fused; an ADD is fused only when the
conv before it has no activation and both operands have one shape (its other operand
is then read as the residual, which an earlier unit has produced).

The tensors inside a chain get no storage (``get_tensor`` says "Tensor data is
null", as the official runtime does for tensors inside its XNNPACK delegate); a tap
added on one later splits the chain back into its nodes (``apply_chains``), with
buffers of their own for those tensors (``graph_plan.make_steps``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .kernels.base import activation_range
from .prepare import STATIC

if TYPE_CHECKING:
    from .graph_plan import Unit
    from .subgraph import SubgraphRuntime

# Fuse only where the kernels have their AVX2 + FMA build (x86-64); their baseline
# build (ARM ...) has not been measured against OpenBLAS's tuned kernels.
BASELINE_OK = False
# Bytes of band buffers per thread: a quarter of a 1 MiB L2 (measured best of 128-512 KiB).
BAND_BYTES = 256 * 1024
# Fewest GEMM rows (band rows x output width) per band: each band streams the chain's
# weights through the cache again, so narrow images get taller bands than BAND_BYTES.
MIN_GEMM_ROWS = 96
# Longest inner product (kh * kw * input channels) a fused convolution may have: the
# packed GEMM has no k-blocking, so beyond this its row blocks get too short and the
# weights stream through the cache too often; OpenBLAS (the unfused kernel) does better.
MAX_GEMM_K = 1280
# Bytes of im2col patches per chunk of a non-1x1 head convolution.
IM2COL_BYTES = 64 * 1024


class Chain:
    """One fused chain: its nodes, the tensors it reads and writes, its kernel."""

    # __slots__ classes, not dataclasses: free to define at import (every interpreter).
    __slots__ = ("block", "inputs", "internal", "nodes", "ops", "output", "residual", "run", "x")

    def __init__(
        self,
        nodes: tuple[int, ...],
        ops: tuple[str, ...],
        inputs: tuple[int, ...],  # every tensor the nodes read from outside the chain
        x: int,  # the chain's input activation
        residual: int,  # the ADD's other operand, or -1
        output: int,
        internal: tuple[int, ...],  # tensors passed along the chain
        block: Any,  # a _fused_block.FusedBlock
    ) -> None:
        self.nodes, self.ops, self.inputs, self.x = nodes, ops, inputs, x
        self.residual, self.output, self.internal, self.block = residual, output, internal, block
        self.run = _extension().run_block  # the invoke-loop step function

    @property
    def op_name(self) -> str:
        return "+".join(self.ops)

    def label(self, rt: SubgraphRuntime) -> str:
        where = f"subgraph {rt.index} " if rt.index else ""
        nodes = ", ".join(map(str, self.nodes))
        return f"{where}nodes {nodes} {self.op_name} (fused)"


class _Stage:
    """One node of a candidate chain."""

    __slots__ = ("bias", "data", "node", "op", "out", "weights", "x")

    def __init__(self, node: int, op: str, x: int, out: int, data: Any, weights: Any, bias: Any):
        self.node, self.op, self.x, self.out = node, op, x, out
        self.data = data  # the kernel's op data (an ADD: its clamp bounds)
        self.weights, self.bias = weights, bias  # constant filter and bias (None: absent)


@cache
def _extension() -> Any:
    """kernels._fused_block, imported on first use; None when extensions are not built."""
    try:
        return importlib.import_module(".kernels._fused_block", __package__)
    except ImportError:
        return None


def fusion_enabled(rt: SubgraphRuntime) -> bool:
    """Whether this subgraph's plan may fuse chains (optimized kernels, no preserve-all)."""
    core = rt.core
    # ``graph_fusion``: the official runtime's "default delegate" switch (off for
    # BUILTIN_WITHOUT_DEFAULT_DELEGATES); until the core sets it, BUILTIN_REF turns it off.
    wanted = core.graph_fusion and not core.reference
    if not wanted or core.reference or core.preserve_all_tensors:
        return False
    extension = _extension()
    return extension is not None and (BASELINE_OK or extension.have_avx2())


def plan_chains(rt: SubgraphRuntime, units: list[Unit], previous: tuple = ()) -> list[Chain]:
    """The chains to fuse among ``units`` (empty when fusion is off).

    ``previous``: the chains of the plan being replaced, whose packed weights are
    reused when a chain comes back unchanged (re-allocation after a resize).
    """
    convs = ("CONV_2D", "DEPTHWISE_CONV_2D")  # without any, the extension is not imported
    if not any(rt.ops[u.nodes[0]].name in convs for u in units if u.prep is not None):
        return []
    if not fusion_enabled(rt):
        return []
    readers: dict[int, int] = {}
    for unit in units:
        for t in set(unit.inputs):
            readers[t] = readers.get(t, 0) + 1
    produced_at = {t: p for p, unit in enumerate(units) for t in unit.outputs}
    matches: list[list[_Stage]] = []
    p = 0
    while p < len(units):
        stages = _match(rt, units, p, readers, produced_at)
        if stages is None:
            p += 1
            continue
        matches.append(stages)
        p += len(stages)
    # After a resize most chains come back unchanged and keep their packed weights.
    pool = None if previous else _weight_pool(matches)
    chains = [_build(rt, stages, previous, pool) for stages in matches]
    if chains:  # one scratch for every chain: they run one at a time, it stays in cache
        scratch = np.empty(max(chain.block.scratch_floats for chain in chains), np.float32)
        for chain in chains:
            chain.block.use_scratch(scratch)
    return chains


def apply_chains(rt: SubgraphRuntime, units: list[Unit], chains: list[Chain]) -> list[Unit]:
    """``units`` with each chain's run of units replaced by one fused unit.

    A chain with a tap on one of its inner tensors now stays unfused (the caller gives
    those tensors storage); units already fused are kept as they are.
    """
    if not chains:
        return units
    from .graph_plan import Unit

    by_first = {chain.nodes[0]: chain for chain in chains}
    out: list[Unit] = []
    p = 0
    while p < len(units):
        unit = units[p]
        chain = by_first.get(unit.nodes[0]) if unit.prep is not None else None
        count = len(chain.nodes) if chain is not None else 0
        members = units[p : p + count]
        if (
            chain is None
            or [u.nodes for u in members] != [(n,) for n in chain.nodes]
            or is_tapped(rt, chain)
        ):
            out.append(unit)
            p += 1
            continue
        out.append(Unit(chain.nodes, chain.inputs, (chain.output,), fused=chain))
        p += count
    return out


def is_tapped(rt: SubgraphRuntime, chain: Chain) -> bool:
    """Whether a tap now reads one of the tensors inside ``chain``."""
    taps = rt.core.taps.get(rt.index, {})
    return any(taps.get(t) for t in chain.internal)


# -- matching ----------------------------------------------------------------------------


def _match(
    rt: SubgraphRuntime, units: list[Unit], p: int, readers: dict, produced_at: dict
) -> list[_Stage] | None:
    """The longest acceptable chain starting at unit ``p``, or None."""
    first = _stage(rt, units[p])
    if first is None or first.op not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return None
    stages = [first]
    if first.op == "DEPTHWISE_CONV_2D":
        wanted: tuple[str, ...] = ("CONV_2D",)
    else:
        wanted = ("DEPTHWISE_CONV_2D", "ADD") if _unclamped(first) else ("DEPTHWISE_CONV_2D",)
    for q in range(p + 1, len(units)):
        stage = _stage(rt, units[q])
        if stage is None or stage.op not in wanted or not _passes(rt, stages[-1], stage, readers):
            break
        if stage.op == "CONV_2D" and not stage.data.pointwise:
            break
        if stage.op == "ADD" and not _residual_ok(rt, stages, stage, produced_at, p):
            break
        stages.append(stage)
        if stage.op == "DEPTHWISE_CONV_2D":
            wanted = ("CONV_2D",)
        elif stage.op == "CONV_2D" and _unclamped(stage):
            wanted = ("ADD",)
        else:
            wanted = ()
    return stages if len(stages) > 1 or first.op == "CONV_2D" else None


def _unclamped(conv: _Stage) -> bool:
    # A residual ADD joins the GEMM before its clamp: only after a conv without one.
    return conv.data.low == -math.inf and conv.data.high == math.inf


def _stage(rt: SubgraphRuntime, unit: Unit) -> _Stage | None:
    """The unit as a chain stage when it is a fusable float node."""
    prep = unit.prep
    if prep is None or unit.partition is not None or prep.kind != STATIC:
        return None
    index = prep.index
    op_name = rt.ops[index].name
    op = rt.sg.operators[index]
    if op_name == "ADD":
        return _add_stage(rt, index)
    if op_name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return None
    data: Any = prep.data
    if not _is_float_path(op_name, data) or data.tanh:
        return None
    if op_name == "CONV_2D" and data.groups != 1:
        return None
    if op_name == "DEPTHWISE_CONV_2D" and data.multiplier != 1:
        return None
    ins = list(op.inputs)
    weights = rt.constants.get(ins[1])
    bias_t = ins[2] if len(ins) > 2 else -1
    bias = rt.constants.get(bias_t) if bias_t >= 0 else None
    if weights is None or weights.dtype != np.float32 or rt.is_sparse(ins[1]):
        return None
    if bias_t >= 0 and bias is None:
        return None
    if op_name == "DEPTHWISE_CONV_2D" and weights.shape[1] * weights.shape[2] > 64:
        return None
    if op_name == "CONV_2D" and math.prod(weights.shape[1:]) > MAX_GEMM_K:
        return None
    if not _float4d(rt, ins[0]) or not _float4d(rt, op.outputs[0]):
        return None
    return _Stage(index, op_name, ins[0], op.outputs[0], data, weights, bias)


def _is_float_path(op_name: str, data: Any) -> bool:
    """Whether ``data`` is the op data of the float CONV_2D / DEPTHWISE_CONV_2D kernel."""
    # Imported here, and only the one in use: a model loads only its ops' modules.
    if op_name == "CONV_2D":
        from .kernels import conv_2d

        return type(data) is conv_2d.OpData
    from .kernels import depthwise_conv_2d

    return type(data) is depthwise_conv_2d.OpData


def _add_stage(rt: SubgraphRuntime, index: int) -> _Stage | None:
    """A float ADD of two same-shape 4-D tensors (no broadcast) as a chain stage."""
    op = rt.sg.operators[index]
    if len(op.inputs) != 2 or len(op.outputs) != 1 or not _float4d(rt, op.outputs[0]):
        return None
    a, b = op.inputs
    if not (_float4d(rt, a) and _float4d(rt, b)):
        return None
    if not rt.shapes[a] == rt.shapes[b] == rt.shapes[op.outputs[0]]:
        return None
    options = op.builtin_options
    act = getattr(options, "fused_activation_function", 0) if options is not None else 0
    try:
        low, high = activation_range(act)
    except Exception:
        return None
    return _Stage(index, "ADD", a, op.outputs[0], (float(low), float(high)), None, None)


def _float4d(rt: SubgraphRuntime, t: int) -> bool:
    """Tensor ``t`` is float32, 4-D, not empty, with its shape known now."""
    shape = rt.shapes.get(t) if t >= 0 else None
    if shape is None or len(shape) != 4 or math.prod(shape) == 0:
        return False
    return rt.sg.tensors[t].dtype == np.float32


def _passes(rt: SubgraphRuntime, before: _Stage, stage: _Stage, readers: dict) -> bool:
    """Whether ``before``'s output may stay inside the chain, read only by ``stage``."""
    t = before.out
    op = rt.sg.operators[stage.node]
    if stage.op == "ADD":
        if t not in op.inputs or op.inputs[0] == op.inputs[1]:
            return False
    elif stage.x != t:
        return False
    taps = rt.core.taps.get(rt.index, {})
    return (
        readers.get(t, 0) == 1
        and t not in rt.sg.outputs
        and not rt.sg.tensors[t].is_variable
        and not taps.get(t)
    )


def _residual_ok(
    rt: SubgraphRuntime, stages: list[_Stage], add: _Stage, produced_at: dict, start: int
) -> bool:
    """The ADD's other operand is ready before the chain starts."""
    a, b = rt.sg.operators[add.node].inputs
    other = b if a == stages[-1].out else a
    add.x = other
    return produced_at.get(other, -1) < start


# -- building ----------------------------------------------------------------------------


def _weight_pool(matches: list[list[_Stage]]) -> Callable[[int], np.ndarray]:
    """``take(floats)`` handing out consecutive parts of one array for packed weights.

    One allocation for every chain's packed GEMM weights rather than one per GEMM: the
    packing is mostly first-touch page faults of new memory, and one large block
    (MobileNetV2: ~9 MB) is faulted in far fewer, larger pages (numpy asks for huge
    pages from 4 MB on Linux).
    """
    extension = _extension()
    sizes = [
        extension.packed_floats(s.weights.shape[0], math.prod(s.weights.shape[1:]))
        for stages in matches
        for s in stages
        if s.op == "CONV_2D"
    ]
    block = np.empty(sum(sizes) + 16 * len(sizes), np.float32)
    offset = 0

    def take(floats: int) -> np.ndarray:
        nonlocal offset
        # 64-byte aligned parts (16 floats) for the GEMM's vector loads.
        start = offset + (-(block[offset:].ctypes.data // 4)) % 16
        if start + floats > len(block):
            return np.empty(floats, np.float32)  # not planned for: its own array
        offset = start + floats
        return block[start:offset]

    return take


def _build(rt: SubgraphRuntime, stages: list[_Stage], previous: tuple, pool: Any) -> Chain:
    nodes = tuple(s.node for s in stages)
    internal = tuple(s.out for s in stages[:-1])
    x, out = stages[0].x, stages[-1].out
    residual = stages[-1].x if stages[-1].op == "ADD" else -1
    inputs: list[int] = []
    for s in stages:
        for t in rt.sg.operators[s.node].inputs:
            if t >= 0 and t not in internal and t not in inputs:
                inputs.append(t)
    for old in previous:
        same_shapes = (old.block.in_shape, old.block.out_shape) == (rt.shapes[x], rt.shapes[out])
        if old.nodes == nodes and same_shapes:
            return Chain(nodes, old.ops, tuple(inputs), x, residual, out, internal, old.block)
    block = _make_block(rt, stages, pool)
    ops = tuple(s.op for s in stages)
    return Chain(nodes, ops, tuple(inputs), x, residual, out, internal, block)


def _make_block(rt: SubgraphRuntime, stages: list[_Stage], pool: Any) -> Any:
    """The FusedBlock of a matched chain: weights packed, band sizes chosen."""
    stages_in, stages = stages, list(stages)
    add = stages.pop() if stages[-1].op == "ADD" else None
    head = stages.pop(0) if stages[0].op == "CONV_2D" else None
    dw = stages.pop(0) if stages else None
    tail = stages.pop(0) if stages else None
    first, last = stages_in[0], stages_in[-1]
    in_shape, out_shape = rt.shapes[first.x], rt.shapes[last.out]
    head_args = dw_args = tail_args = None
    mid_shape = in_shape
    if head is not None:
        mid_shape = rt.shapes[head.out]
        d = head.data
        low, high = add.data if add is not None and dw is None else (d.low, d.high)
        head_args = (head.weights, head.bias, low, high, tuple(d.window), mid_shape[1:3])
    band = 1
    if dw is not None:
        d = dw.data
        steps = (*d.stride, *d.dilation, *d.pad)
        dw_args = (dw.weights[0], dw.bias, d.low, d.high, steps)
        band = _band_rows(mid_shape, dw.weights.shape, d, out_shape, head is not None, tail)
    if tail is not None:
        low, high = add.data if add is not None else (tail.data.low, tail.data.high)
        tail_args = (tail.weights.reshape(tail.weights.shape[0], -1), tail.bias, low, high)
    cols_rows = 1
    if head is not None and not head.data.pointwise:
        k = math.prod(head.weights.shape[1:])
        cols_rows = max(1, IM2COL_BYTES // (4 * mid_shape[2] * k))
    return _extension().FusedBlock(in_shape, out_shape, head_args, dw_args, tail_args, band,
                                   cols_rows, rt.core.num_threads, pool)  # fmt: skip


def _band_rows(
    mid_shape: tuple, dw_filter: tuple, d: Any, out_shape: tuple, has_head: bool, tail: Any
) -> int:
    """Output rows per band: as many as keep the band buffers within BAND_BYTES."""
    _, eh, ew, ce = mid_shape
    kh = dw_filter[1]
    sh, dh = d.stride[0], d.dilation[0]
    oh, ow = out_shape[1], out_shape[2]
    least = min(oh, -(-MIN_GEMM_ROWS // ow))
    for band in range(oh, least, -1):
        rows = min(eh, (band - 1) * sh + (kh - 1) * dh + 1) if has_head else 0
        size = 4 * (rows * ew * ce + (band * ow * ce if tail is not None else 0))
        if size <= BAND_BYTES:
            return band
    return max(1, least)
