"""Fused float convolution chains (interpreter/fusion.py, kernels/_fused_block.pyx).

Every fused chain must give what its nodes give one by one: the official runtime
(float rule), edgelite's reference kernels, and the same model with fusion off.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.interpreter.delegates import ReferenceDelegate
from edgelite.interpreter.kernels import _fused_block
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import AddOptions, Conv2DOptions, DepthwiseConv2DOptions
from tests.kernels.float_oracle import rand
from tests.oracle import assert_matches, run_litert

R = tflite.OpResolverType


@pytest.fixture(autouse=True)
def fuse_on_any_cpu(monkeypatch):
    """Fusion is tested everywhere (off by default on CPUs without AVX2 + FMA)."""
    from edgelite.interpreter import fusion

    monkeypatch.setattr(fusion, "BASELINE_OK", True)


def out_size(size, k, stride, dilation, padding):
    dilated = (k - 1) * dilation + 1
    return -(-size // stride) if padding == Padding.SAME else (size - dilated) // stride + 1


class Chain:
    """Adds conv / depthwise / add ops to a ModelBuilder, tracking the current tensor."""

    def __init__(self, rng, shape, bias=True, int8_weights=False):
        self.rng, self.mb, self.bias, self.int8 = rng, ModelBuilder(), bias, int8_weights
        self.shape, self.count = tuple(shape), 0
        self.x = self.cur = self.mb.input("x", shape)

    # Weights are scaled by 1/sqrt(fan-in): activations stay near 1 through many layers,
    # so float rounding differences stay within the float rule.

    def _new(self, shape):
        self.count += 1
        return self.mb.tensor(f"t{self.count}", shape)

    def _weights(self, value, axis):
        name = f"w{self.count}"
        if not self.int8:
            return self.mb.const(name, value)
        # dynamic-range weights: symmetric int8 per output channel
        scale = np.abs(value).max(axis=tuple(a for a in range(4) if a != axis), keepdims=True)
        q = np.round(value / (scale / 127)).astype(np.int8)
        return self.mb.const(name, q, quantization=quant(scale.reshape(-1) / 127, 0, axis))

    def _bias(self, n):
        return [self.mb.const(f"b{self.count}", rand(self.rng, n))] if self.bias else []

    def conv(self, out_c, k=1, stride=1, padding=Padding.SAME, act=Act.NONE, dilation=1):
        n, h, w, c = self.shape
        oh, ow = (out_size(s, k, stride, dilation, padding) for s in (h, w))
        weights = self._weights(rand(self.rng, out_c, k, k, c, scale=(k * k * c) ** -0.5), 0)
        out = self._new((n, oh, ow, out_c))
        opts = Conv2DOptions(padding, stride, stride, act, dilation, dilation)
        self.mb.op(B.CONV_2D, [self.cur, weights, *self._bias(out_c)], [out], opts, version=2)
        self.cur, self.shape = out, (n, oh, ow, out_c)
        return out

    def dw(self, k=3, stride=1, padding=Padding.SAME, act=Act.RELU6, dilation=1, mult=1):
        n, h, w, c = self.shape
        oh, ow = (out_size(s, k, stride, dilation, padding) for s in (h, w))
        weights = self._weights(rand(self.rng, 1, k, k, c * mult, scale=1 / k), 3)
        out = self._new((n, oh, ow, c * mult))
        opts = DepthwiseConv2DOptions(padding, stride, stride, mult, act, dilation, dilation)
        ins = [self.cur, weights, *self._bias(c * mult)]
        self.mb.op(B.DEPTHWISE_CONV_2D, ins, [out], opts, version=2)
        self.cur, self.shape = out, (n, oh, ow, c * mult)
        return out

    def add(self, other, act=Act.NONE, swap=False):
        out = self._new(self.shape)
        ins = [other, self.cur] if swap else [self.cur, other]
        self.mb.op(B.ADD, ins, [out], AddOptions(act))
        self.cur = out
        return out

    def block(self, expand, out_c, stride=1, residual=True):
        start = self.cur
        self.conv(expand, act=Act.RELU6)
        self.dw(stride=stride)
        self.conv(out_c)
        if residual:
            self.add(start)

    def model(self, *outputs):
        self.mb.output(*(outputs or (self.cur,)))
        return self.mb.to_bytes()


def interpreter(model, **kwargs):
    interp = tflite.Interpreter(model_content=model, **kwargs)
    interp.allocate_tensors()
    return interp


def run(interp, x):
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def fused_nodes(interp):
    return [chain.nodes for chain in interp._core.subgraphs[0].plan.chains]


def check(model, x, expect_chains, oracle=True, **kwargs):
    """Fused == reference kernels (== the official runtime); the chains are as expected."""
    fused = interpreter(model, **kwargs)
    assert fused_nodes(fused) == expect_chains
    ours = run(fused, x)
    reference = run(interpreter(model, experimental_op_resolver_type=R.BUILTIN_REF), x)
    want = run_litert(model, [x]) if oracle else reference
    for mine, ref, oracle_out in zip(ours, reference, want):
        assert_matches(mine, ref, "fused vs reference kernels")
        assert_matches(mine, oracle_out, "fused vs official runtime")
    return fused


CHAINS = [
    # (input shape, expand channels (0: none), dw (k, stride, padding, dilation), project)
    ((1, 12, 11, 8), 24, (3, 1, Padding.SAME, 1), 8),
    ((2, 13, 10, 5), 21, (3, 2, Padding.SAME, 1), 7),
    ((1, 15, 9, 16), 40, (3, 2, Padding.VALID, 1), 12),
    ((1, 11, 12, 8), 16, (5, 1, Padding.SAME, 1), 0),
    ((1, 14, 13, 6), 32, (3, 1, Padding.SAME, 2), 9),
    ((1, 9, 16, 24), 0, (3, 1, Padding.SAME, 1), 16),
    ((1, 40, 37, 8), 48, (3, 2, Padding.SAME, 1), 16),  # several bands
    ((1, 64, 60, 16), 64, (3, 1, Padding.SAME, 1), 16),  # enough work for two threads
]


@pytest.mark.parametrize("shape, expand, dw, project", CHAINS)
@pytest.mark.parametrize("threads", [1, 2])
def test_chain_matches_oracle(shape, expand, dw, project, threads):
    rng = np.random.default_rng(len(shape) + shape[1] + threads)
    chain = Chain(rng, shape)
    if expand:
        chain.conv(expand, act=Act.RELU6)
    k, stride, padding, dilation = dw
    chain.dw(k, stride, padding, Act.RELU6, dilation)
    if project:
        chain.conv(project, act=Act.RELU)
    nodes = tuple(range(chain.count))
    check(chain.model(), rand(rng, *shape), [nodes], num_threads=threads)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("act", [Act.NONE, Act.RELU6])
def test_residual_add_is_fused(swap, act):
    rng = np.random.default_rng(7)
    chain = Chain(rng, (1, 10, 9, 16))
    chain.conv(48, act=Act.RELU6)
    chain.dw()
    chain.conv(16)
    chain.add(chain.x, act, swap)
    check(chain.model(), rand(rng, 1, 10, 9, 16), [(0, 1, 2, 3)])


def test_head_convolutions():
    # A 3x3 stride-2 head (im2col), and a lone 1x1 convolution (the packed GEMM alone).
    rng = np.random.default_rng(8)
    chain = Chain(rng, (1, 33, 30, 3))
    chain.conv(16, k=3, stride=2, act=Act.RELU6)
    chain.dw(act=Act.RELU)
    chain.conv(8)
    chain.conv(37, act=Act.RELU_N1_TO_1)
    check(chain.model(), rand(rng, 1, 33, 30, 3), [(0, 1, 2), (3,)])


@pytest.mark.parametrize("k", [1, 3])
def test_conv_with_residual_add(k):
    rng = np.random.default_rng(21)
    chain = Chain(rng, (2, 9, 10, 12))
    chain.conv(12, k=k)
    chain.add(chain.x, Act.RELU)
    check(chain.model(), rand(rng, 2, 9, 10, 12), [(0, 1)])


def test_mobilenet_like_model():
    rng = np.random.default_rng(9)
    chain = Chain(rng, (1, 32, 32, 3))
    chain.conv(16, k=3, stride=2, act=Act.RELU6)
    chain.dw()
    chain.conv(8)
    chain.block(48, 12, stride=2, residual=False)
    chain.block(72, 12)
    chain.block(72, 24, stride=2, residual=False)
    chain.block(144, 24)
    chain.conv(64, act=Act.RELU6)
    x = rand(rng, 1, 32, 32, 3)
    expect = [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (10, 11, 12), (13, 14, 15, 16), (17,)]
    check(chain.model(), x, expect)
    check(chain.model(), x, expect, num_threads=2)


@pytest.mark.parametrize("shape, expand, dw, project", CHAINS)
def test_one_row_bands(monkeypatch, shape, expand, dw, project):
    # Bands of one output row: the head-row buffer wraps around many times.
    from edgelite.interpreter import fusion

    monkeypatch.setattr(fusion, "BAND_BYTES", 1)
    monkeypatch.setattr(fusion, "MIN_GEMM_ROWS", 1)
    test_chain_matches_oracle(shape, expand, dw, project, 1)


@pytest.mark.parametrize("shape, expand, dw, project", CHAINS[:3])
def test_baseline_build(shape, expand, dw, project):
    # What CPUs without AVX2 + FMA run.
    _fused_block.use_baseline(True)
    try:
        assert not _fused_block.have_avx2()
        test_chain_matches_oracle(shape, expand, dw, project, 1)
    finally:
        _fused_block.use_baseline(False)


def test_threads_split_rows_exactly():
    # Each thread takes whole output rows: the results are the same bits.
    rng = np.random.default_rng(6)
    chain = Chain(rng, (2, 64, 60, 16))
    chain.block(64, 16, stride=2, residual=False)
    model, x = chain.model(), rand(rng, 2, 64, 60, 16)
    one, two = interpreter(model), interpreter(model, num_threads=2)
    assert two._core.subgraphs[0].plan.chains[0].block.threads == 2
    np.testing.assert_array_equal(run(one, x)[0], run(two, x)[0])


def test_not_fused_where_it_would_change_the_graph():
    rng = np.random.default_rng(10)
    chain = Chain(rng, (1, 8, 8, 8))
    mid = chain.conv(16, act=Act.RELU6)  # read twice: by the depthwise and an ADD
    chain.dw()
    chain.add(mid)
    chain.dw(mult=2)  # depth multiplier 2
    shown = chain.dw(act=Act.NONE)  # a subgraph output
    chain.conv(4, act=Act.TANH)  # a fused TANH
    # Only the lone 1x1 convolution (node 0) is fused, on its own.
    check(chain.model(shown, chain.cur), rand(rng, 1, 8, 8, 8), [(0,)], oracle=False)


@pytest.mark.parametrize("bias", [True, False])
def test_project_with_activation_keeps_the_add_separate(bias):
    rng = np.random.default_rng(11)
    chain = Chain(rng, (1, 9, 9, 8), bias=bias)
    chain.conv(24, act=Act.RELU6)
    chain.dw()
    chain.conv(8, act=Act.RELU)
    chain.add(chain.x)
    # The official runtime crashes on a float depthwise without bias: reference only.
    check(chain.model(), rand(rng, 1, 9, 9, 8), [(0, 1, 2)], oracle=bias)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"experimental_op_resolver_type": R.BUILTIN_REF},
        {"experimental_op_resolver_type": R.BUILTIN_WITHOUT_DEFAULT_DELEGATES},
        {"experimental_preserve_all_tensors": True},
    ],
)
def test_fusion_off(kwargs):
    rng = np.random.default_rng(13)
    chain = Chain(rng, (1, 8, 8, 8))
    chain.block(16, 8)
    interp = tflite.Interpreter(model_content=chain.model(), **kwargs)
    no_hook = not hasattr(interp._core, "graph_fusion")
    if (
        no_hook
        and kwargs.get("experimental_op_resolver_type") == R.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    ):
        pytest.skip("the core does not pass the resolver type on yet (graph_fusion)")
    interp.allocate_tensors()
    assert fused_nodes(interp) == []


def test_taps_split_a_chain_and_see_the_values():
    rng = np.random.default_rng(14)
    chain = Chain(rng, (1, 10, 10, 8))
    chain.block(24, 8)
    model, x = chain.model(), rand(rng, 1, 10, 10, 8)
    plain = interpreter(model, experimental_preserve_all_tensors=True)
    want = run(plain, x)[0]
    interp = interpreter(model)
    run(interp, x)
    with pytest.raises(ValueError, match="Tensor data is null"):
        interp.get_tensor(_index(model, "t2"))  # inside the chain: no storage, like XNNPACK
    seen = {}
    handle = interp.add_tap("t2", lambda v: seen.__setitem__("t2", v))  # depthwise output
    interp.add_tap("t4", lambda v: seen.__setitem__("t4", v))  # the chain's output
    assert fused_nodes(interp) == [(0, 1, 2, 3)]  # planned fused: the taps came later
    ops = run_profile(interp, x)
    assert ops == [(0, "CONV_2D"), (1, "DEPTHWISE_CONV_2D"), (2, "CONV_2D"), (3, "ADD")]
    assert_matches(seen["t2"], plain.get_tensor(_index(model, "t2")))
    assert_matches(seen["t4"], want)
    interp.remove_tap(handle)
    assert run_profile(interp, x) == [(0, "CONV_2D+DEPTHWISE_CONV_2D+CONV_2D+ADD")]
    assert_matches(seen["t4"], want)


def test_taps_before_allocation_keep_the_chain_apart():
    rng = np.random.default_rng(20)
    chain = Chain(rng, (1, 10, 10, 8))
    chain.block(24, 8)
    chain.block(24, 8)
    model, x = chain.model(), rand(rng, 1, 10, 10, 8)
    interp = tflite.Interpreter(model_content=model)
    seen = []
    interp.add_tap("t6", seen.append)  # the second block's depthwise output
    interp.allocate_tensors()
    assert fused_nodes(interp) == [(0, 1, 2, 3), (4, 5), (6, 7)]
    assert_matches(run(interp, x)[0], run_litert(model, [x])[0])
    assert seen[0].shape == (1, 10, 10, 24)


def _index(model, name):
    interp = tflite.Interpreter(model_content=model)
    return next(d["index"] for d in interp.get_tensor_details() if d["name"] == name)


def run_profile(interp, x):
    """The profile rows of one invoke: (first node, op) per step."""
    interp.enable_profiling(True)
    run(interp, x)
    rows = interp.profile()
    interp.enable_profiling(False)
    return [(row["node"], row["op"]) for row in rows]


def test_delegated_nodes_are_not_fused():
    rng = np.random.default_rng(16)
    chain = Chain(rng, (1, 8, 8, 8))
    chain.block(16, 8)
    chain.block(16, 8)
    model, x = chain.model(), rand(rng, 1, 8, 8, 8)
    delegated = interpreter(model, experimental_delegates=[ReferenceDelegate({"ADD"})])
    assert fused_nodes(delegated) == [(0, 1, 2), (4, 5, 6)]
    assert_matches(run(delegated, x)[0], run(interpreter(model), x)[0])


def test_resize_plans_again():
    rng = np.random.default_rng(17)
    chain = Chain(rng, (1, 9, 9, 8))
    chain.block(16, 8, stride=2, residual=False)
    model, x = chain.model(), rand(rng, 3, 9, 9, 8)
    interp = interpreter(model)
    interp.resize_tensor_input(0, [3, 9, 9, 8])
    interp.allocate_tensors()
    assert fused_nodes(interp) == [(0, 1, 2)]
    assert_matches(run(interp, x)[0], run_litert(model, [x])[0])


def test_hybrid_weights_are_fused_in_fast_mode():
    rng = np.random.default_rng(18)
    chain = Chain(rng, (1, 8, 8, 8), int8_weights=True)
    chain.block(16, 8)
    # The official runtime quantizes activations on the fly: compare with the reference
    # kernels on the same dequantized weights instead.
    check(chain.model(), rand(rng, 1, 8, 8, 8), [(0, 1, 2, 3)], oracle=False)


@pytest.mark.parametrize(
    "m, k, n", [*((m, 9, 24) for m in range(1, 14)), (49, 33, 40), (50, 0, 9), (6, 9, 3)]
)
def test_packed_gemm(m, k, n):
    rng = np.random.default_rng(m * 100 + n)
    a, w, b = rand(rng, m, k), rand(rng, n, k), rand(rng, n)
    packed, bias = _fused_block.pack_weights(w, b)
    out = np.empty((m, n), np.float32)
    _fused_block.packed_gemm(a, packed, bias, out, -0.5, 0.5)
    assert_matches(out, np.clip(a @ w.T + b, -0.5, 0.5))


def test_fused_block_checks_shapes():
    rng = np.random.default_rng(19)
    dw = (rand(rng, 3, 3, 8), None, 0.0, 6.0, (1, 1, 1, 1, 1, 1))
    block = _fused_block.FusedBlock((1, 5, 5, 8), (1, 5, 5, 8), None, dw, None, 2, 1, 1)
    with pytest.raises(ValueError, match="fused chain built for"):
        block.run(rand(rng, 1, 5, 6, 8), None, np.empty((1, 5, 5, 8), np.float32))
    with pytest.raises(ValueError, match="depthwise filter"):
        _fused_block.FusedBlock((1, 5, 5, 4), (1, 5, 5, 4), None, dw, None, 2, 1, 1)
