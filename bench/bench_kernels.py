"""Time edgelite's conv-family kernels against their reference and the official runtime.

For each case a single-op .tflite is built; edgelite's numpy reference and optimized
kernels run it straight through prepare/invoke (no interpreter core), and
ai-edge-litert runs the same bytes without XNNPACK (``--xnnpack`` adds a column with
its default XNNPACK delegate). Timings are the best of ``--repeat`` invokes on the same
inputs, same thread count, in one process (best-of, not the median: the machine is
shared and the minimum is the figure least disturbed by other processes).

    .venv/bin/python bench/bench_kernels.py                 # MobileNetV2-like shapes
    .venv/bin/python bench/bench_kernels.py --mobilenet     # every MobileNetV2 conv layer
    .venv/bin/python bench/bench_kernels.py --threads 2 --xnnpack --no-ref
    .venv/bin/python bench/bench_kernels.py --model .cache/zoo/tf-2.21.0/mobilenet_v2.float32.tflite

``--model`` runs a whole .tflite op by op through the optimized kernels (whatever the
op table holds, without the interpreter core), checks the result against the official
runtime and prints the time per op type next to the official runtime's whole-model time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgelite.interpreter.kernels.base import Node, TensorInfo
from edgelite.interpreter.op_table import builtin_table
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding

RNG = np.random.default_rng(0)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _feed(shape, dtype) -> np.ndarray:
    """Random input of a model tensor: normal floats, or integers over the whole type."""
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return RNG.integers(info.min, info.max, tuple(shape), endpoint=True).astype(dtype)
    return _rand(*shape).astype(dtype)


def _out(size: int, k: int, stride: int, padding: Padding) -> int:
    return -(-size // stride) if padding == Padding.SAME else (size - k) // stride + 1


def conv(hw: int, cin: int, cout: int, k: int, stride: int, pad=Padding.SAME) -> bytes:
    mb = ModelBuilder()
    o = _out(hw, k, stride, pad)
    x = mb.input("x", (1, hw, hw, cin))
    w, b = mb.const("w", _rand(cout, k, k, cin) * 0.1), mb.const("b", _rand(cout))
    y = mb.tensor("y", (1, o, o, cout))
    mb.op(Op.CONV_2D, [x, w, b], [y], opt.Conv2DOptions(pad, stride, stride, Act.RELU6))
    mb.output(y)
    return mb.to_bytes()


def depthwise(hw: int, c: int, stride: int, k: int = 3, pad=Padding.SAME) -> bytes:
    mb = ModelBuilder()
    o = _out(hw, k, stride, pad)
    x = mb.input("x", (1, hw, hw, c))
    w, b = mb.const("w", _rand(1, k, k, c)), mb.const("b", _rand(c))
    y = mb.tensor("y", (1, o, o, c))
    options = opt.DepthwiseConv2DOptions(pad, stride, stride, 1, Act.RELU6)
    mb.op(Op.DEPTHWISE_CONV_2D, [x, w, b], [y], options)
    mb.output(y)
    return mb.to_bytes()


def fully_connected(batch: int, cin: int, cout: int) -> bytes:
    mb = ModelBuilder()
    x = mb.input("x", (batch, cin))
    w, b = mb.const("w", _rand(cout, cin) * 0.1), mb.const("b", _rand(cout))
    y = mb.tensor("y", (batch, cout))
    mb.op(Op.FULLY_CONNECTED, [x, w, b], [y], opt.FullyConnectedOptions())
    mb.output(y)
    return mb.to_bytes()


def pool(code: Op, hw: int, c: int, k: int, stride: int, pad=Padding.SAME) -> bytes:
    mb = ModelBuilder()
    o = _out(hw, k, stride, pad)
    x = mb.input("x", (1, hw, hw, c))
    y = mb.tensor("y", (1, o, o, c))
    mb.op(code, [x], [y], opt.Pool2DOptions(pad, stride, stride, k, k))
    mb.output(y)
    return mb.to_bytes()


def resize(code: Op, hw: int, c: int, scale: int) -> bytes:
    mb = ModelBuilder()
    x = mb.input("x", (1, hw, hw, c))
    size = mb.const("size", np.array([hw * scale, hw * scale], np.int32))
    y = mb.tensor("y", (1, hw * scale, hw * scale, c))
    options = (
        opt.ResizeBilinearOptions(half_pixel_centers=True)
        if code == Op.RESIZE_BILINEAR
        else opt.ResizeNearestNeighborOptions()
    )
    mb.op(code, [x, size], [y], options)
    mb.output(y)
    return mb.to_bytes()


CASES: list[tuple[str, Callable[[], bytes]]] = [
    ("conv 3x3 s2 224x224x3->32 (stem)", lambda: conv(224, 3, 32, 3, 2)),
    ("conv 1x1 56x56x24->144", lambda: conv(56, 24, 144, 1, 1)),
    ("conv 1x1 112x112x16->96", lambda: conv(112, 16, 96, 1, 1)),
    ("conv 1x1 7x7x320->1280", lambda: conv(7, 320, 1280, 1, 1)),
    ("conv 3x3 s1 56x56x64->64", lambda: conv(56, 64, 64, 3, 1)),
    ("depthwise 3x3 s1 112x112x32", lambda: depthwise(112, 32, 1)),
    ("depthwise 3x3 s2 112x112x96", lambda: depthwise(112, 96, 2)),
    ("depthwise 3x3 s1 56x56x144", lambda: depthwise(56, 144, 1)),
    ("depthwise 3x3 s1 14x14x576", lambda: depthwise(14, 576, 1)),
    ("fully connected 1x1280->1000", lambda: fully_connected(1, 1280, 1000)),
    ("max pool 3x3 s2 112x112x64", lambda: pool(Op.MAX_POOL_2D, 112, 64, 3, 2)),
    ("avg pool 2x2 s2 56x56x128", lambda: pool(Op.AVERAGE_POOL_2D, 56, 128, 2, 2)),
    ("resize bilinear x2 56x56x64", lambda: resize(Op.RESIZE_BILINEAR, 56, 64, 2)),
    ("resize nearest x2 56x56x64", lambda: resize(Op.RESIZE_NEAREST_NEIGHBOR, 56, 64, 2)),
]


def mobilenet_v2_layers() -> list[tuple[str, Callable[[], bytes]]]:
    """Every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED of MobileNetV2 1.0 at 224."""
    layers = [("stem conv 224->112", lambda: conv(224, 3, 32, 3, 2))]
    hw, c = 112, 32
    blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
    blocks += [(6, 160, 3, 2), (6, 320, 1, 1)]
    for expand, out_c, repeats, first_stride in blocks:
        for i in range(repeats):
            stride = first_stride if i == 0 else 1
            mid = c * expand
            if expand != 1:
                layers.append((f"expand {hw}x{hw} {c}->{mid}", _bind(conv, hw, c, mid, 1, 1)))
            layers.append((f"dw {hw}x{hw}x{mid} s{stride}", _bind(depthwise, hw, mid, stride)))
            hw = -(-hw // stride)
            layers.append((f"project {hw}x{hw} {mid}->{out_c}", _bind(conv, hw, mid, out_c, 1, 1)))
            c = out_c
    layers.append(("conv 7x7 320->1280", _bind(conv, hw, c, 1280, 1, 1)))
    layers.append(("fc 1280->1000", _bind(fully_connected, 1, 1280, 1000)))
    return layers


def _bind(fn: Callable[..., bytes], *args: object) -> Callable[[], bytes]:
    return lambda: fn(*args)


def _best_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm up (first-touch, lazy init)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def edgelite_runner(model_bytes: bytes, threads: int, optimized: bool):
    """prepare once, then a closure that invokes the (only) op on fixed inputs."""
    model = read_model(model_bytes)
    sg = model.main
    (op,) = sg.operators
    code = model.operator_codes[op.opcode_index]
    spec = builtin_table()[int(code.builtin_code)]
    feeds = {i: _rand(*sg.tensors[i].shape) for i in sg.inputs}

    def info(i: int) -> TensorInfo | None:
        if i < 0:
            return None
        t = sg.tensors[i]
        return TensorInfo(
            i, t.name, tuple(t.shape), t.dtype, t.type, t.quantization, model.constant(t)
        )

    node = Node(
        0,
        code.name,
        code.version,
        [info(i) for i in op.inputs],
        [info(i) for i in op.outputs],
        op.builtin_options,
        num_threads=threads,
    )
    prepared = spec.prepare(node)
    values = [
        feeds[i] if i in feeds else (None if i < 0 else model.constant(sg.tensors[i]))
        for i in op.inputs
    ]
    outs = [np.empty(s, np.float32) for s in prepared.output_shapes]
    invoke = spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke
    return lambda: invoke(prepared.data, values, outs)


def _litert(model_bytes: bytes, threads: int, xnnpack: bool):
    """An official-runtime interpreter, with or without its default XNNPACK delegate."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(
        model_content=model_bytes, num_threads=threads, experimental_op_resolver_type=resolver
    )
    interp.allocate_tensors()
    return interp


def litert_runner(model_bytes: bytes, threads: int, xnnpack: bool):
    interp = _litert(model_bytes, threads, xnnpack)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], _rand(*detail["shape"]))
    return interp.invoke


def model_runner(path: str, threads: int):
    """Prepare every op of subgraph 0 once: (per-op closures, input values, outputs)."""
    model = read_model(Path(path).read_bytes())
    sg = model.main
    values = {i: _feed(sg.tensors[i].shape, sg.tensors[i].dtype) for i in sg.inputs}
    steps = []
    for index, op in enumerate(sg.operators):
        code = model.operator_codes[op.opcode_index]
        spec = builtin_table()[int(code.builtin_code)]

        def info(i: int) -> TensorInfo | None:
            if i < 0:
                return None
            t = sg.tensors[i]
            data = values.get(i, model.constant(t))
            shape = tuple(data.shape) if data is not None else tuple(t.shape)
            return TensorInfo(i, t.name, shape, t.dtype, t.type, t.quantization, data)

        ins, outs = [info(i) for i in op.inputs], [info(i) for i in op.outputs]
        node = Node(
            index, code.name, code.version, ins, outs, op.builtin_options, num_threads=threads
        )
        prepared = spec.prepare(node)
        args = [None if i < 0 else values.get(i, model.constant(sg.tensors[i])) for i in op.inputs]
        results = [
            np.empty(shape, sg.tensors[i].dtype)
            for shape, i in zip(prepared.output_shapes, op.outputs)
        ]
        invoke = spec.invoke_opt or spec.invoke
        invoke(prepared.data, args, results)
        values.update(zip(op.outputs, results))
        steps.append((code.name, lambda f=invoke, d=prepared.data, a=args, r=results: f(d, a, r)))
    feeds = [values[i] for i in sg.inputs]
    return steps, feeds, [values[i] for i in sg.outputs]


def bench_model(path: str, threads: int, repeat: int) -> None:
    from tests.oracle import assert_matches

    steps, feeds, outputs = model_runner(path, threads)
    model_bytes = Path(path).read_bytes()
    for xnnpack in (False, True):
        interp = _litert(model_bytes, threads, xnnpack)
        for detail, value in zip(interp.get_input_details(), feeds):
            interp.set_tensor(detail["index"], value)
        best = _best_ms(interp.invoke, repeat)
        print(f"official runtime {'XNNPACK' if xnnpack else 'no XNNPACK'}: {best:.3f} ms")
        if not xnnpack:
            ref = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
            for ours, want in zip(outputs, ref):
                assert_matches(ours, want, "model output")
    by_op: dict[str, float] = {}
    for name, run in steps:
        by_op[name] = by_op.get(name, 0.0) + _best_ms(run, repeat)
    ours = _best_ms(lambda: [run() for _, run in steps], repeat)
    for name, ms in sorted(by_op.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {ms:8.3f} ms (sum of per-op best)")
    print(f"edgelite kernels op by op (no core): {ours:.3f} ms, outputs match the oracle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--mobilenet", action="store_true", help="every MobileNetV2 layer")
    parser.add_argument("--xnnpack", action="store_true", help="add a litert+XNNPACK column")
    parser.add_argument("--no-ref", action="store_true", help="skip the (slow) reference")
    parser.add_argument("--only", default="", help="substring filter on case names")
    parser.add_argument("--model", help="time a whole .tflite op by op instead")
    args = parser.parse_args()
    if args.model:
        bench_model(args.model, args.threads, args.repeat)
        return

    cases = mobilenet_v2_layers() if args.mobilenet else CASES
    cases = [(name, build) for name, build in cases if args.only in name]
    head = f"{'case':<36} {'ref ms':>8} {'opt ms':>8} {'litert':>8} {'opt/lit':>7}"
    print(head + (f" {'xnnpack':>8}" if args.xnnpack else "") + f"   threads={args.threads}")
    totals = np.zeros(4)
    for name, build in cases:
        model = build()
        ref = (
            np.nan
            if args.no_ref
            else _best_ms(edgelite_runner(model, args.threads, False), max(3, args.repeat // 5))
        )
        ours = _best_ms(edgelite_runner(model, args.threads, True), args.repeat)
        lit = _best_ms(litert_runner(model, args.threads, False), args.repeat)
        xnn = _best_ms(litert_runner(model, args.threads, True), args.repeat) if args.xnnpack else 0
        totals += (ref, ours, lit, xnn)
        line = f"{name:<36} {ref:8.3f} {ours:8.3f} {lit:8.3f} {ours / lit:7.2f}"
        print(line + (f" {xnn:8.3f}" if args.xnnpack else ""), flush=True)
    line = f"{'TOTAL':<36} {totals[0]:8.3f} {totals[1]:8.3f} {totals[2]:8.3f} "
    print(line + f"{totals[1] / totals[2]:7.2f}" + (f" {totals[3]:8.3f}" if args.xnnpack else ""))


if __name__ == "__main__":
    main()
