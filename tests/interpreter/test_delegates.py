"""Delegates: partitioning, node replacement, the report, and the reference delegate."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.interpreter.delegates import DelegateKernel, ReferenceDelegate, SimpleDelegate
from edgelite.interpreter.delegates.partition import dependencies, partition
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import BuiltinOperator as B
from tests.oracle import assert_matches, litert_interpreter


def mixed_model() -> bytes:
    """ADD -> LOGISTIC -> MUL -> SUB -> TANH, with skip connections."""
    mb = ModelBuilder()
    x = mb.input("x", [2, 3], np.float32, shape_signature=[-1, 3])
    c1 = mb.const("c1", np.array([0.5, -1.0, 2.0], np.float32))
    a, b, c, d, out = (mb.tensor(n, [2, 3], np.float32) for n in ("a", "b", "c", "d", "out"))
    mb.op(B.ADD, [x, c1], [a], opt.AddOptions())
    mb.op(B.LOGISTIC, [a], [b])
    mb.op(B.MUL, [b, x], [c], opt.MulOptions())
    mb.op(B.SUB, [c, a], [d], opt.SubOptions())
    mb.op(B.TANH, [d], [out])
    mb.output(out)
    return mb.to_bytes()


def branches_model() -> bytes:
    """ADD and an independent LOGISTIC, then MUL of the ADD result: clustering joins ADD+MUL."""
    mb = ModelBuilder()
    x = mb.input("x", [4], np.float32)
    a, b, c = (mb.tensor(n, [4], np.float32) for n in ("a", "b", "c"))
    mb.op(B.ADD, [x, x], [a], opt.AddOptions())
    mb.op(B.LOGISTIC, [x], [b])
    mb.op(B.MUL, [a, a], [c], opt.MulOptions())
    mb.output(c, b)
    return mb.to_bytes()


def run(interp: tflite.Interpreter, x: np.ndarray) -> list[np.ndarray]:
    interp.resize_tensor_input(0, list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(0, x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


X = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)


def test_partition_respects_dependencies() -> None:
    # 0(sup) -> 1(unsup) -> 2(sup); 3(sup) independent: {0, 3}, {1}, {2}.
    deps = dependencies([[], [10], [11], []], [[10], [11], [12], [13]])
    assert partition([True, False, True, True], deps) == [
        (True, [0, 3]),
        (False, [1]),
        (True, [2]),
    ]
    assert partition([True, False, True, True], deps, clustering=False) == [
        (True, [0]),
        (False, [1]),
        (True, [2, 3]),
    ]
    # Extra ordering constraints (stateful ops) are honoured.
    deps = dependencies([[], [], []], [[1], [2], [3]], after=[[], [], [1]])
    assert partition([True, False, True], deps) == [(True, [0]), (False, [1]), (True, [2])]


@pytest.mark.oracle
def test_reference_delegate_matches_cpu_and_oracle() -> None:
    model = mixed_model()
    expected = run(litert_interpreter(model), X)[0]
    plain = run(tflite.Interpreter(model_content=model), X)[0]
    delegate = ReferenceDelegate({"ADD", B.MUL, "SUB"})
    interp = tflite.Interpreter(model_content=model, experimental_delegates=[delegate])
    delegated = run(interp, X)[0]
    assert_matches(plain, expected)
    assert_matches(delegated, expected)
    (report,) = interp.delegate_report()
    assert report["delegate"] == "reference"
    assert report["partitions"] == [[0], [2, 3]]
    assert report["rejected"] == {
        1: "LOGISTIC is not in this delegate's op set",
        4: "TANH is not in this delegate's op set",
    }
    ops = interp._get_ops_details()
    assert [o["op_name"] for o in ops] == ["ADD", "LOGISTIC", "MUL", "SUB", "TANH"] + [
        "DELEGATE"
    ] * 2
    assert ops[6]["inputs"].tolist() == [3, 0, 2] and ops[6]["outputs"].tolist() == [5]
    # Resizing re-prepares the partitions.
    bigger = np.tile(X, (3, 1))
    assert_matches(run(interp, bigger)[0], run(litert_interpreter(model), bigger)[0])


@pytest.mark.parametrize(
    ("options", "partitions", "why"),
    [
        ({"min_nodes_per_partition": 2}, [[2, 3]], "< min_nodes_per_partition=2"),
        ({"max_partitions": 1}, [[2, 3]], "not among the max_partitions=1 largest"),
    ],
)
def test_partition_options(options, partitions, why) -> None:
    delegate = ReferenceDelegate({"ADD", "MUL", "SUB"}, **options)
    interp = tflite.Interpreter(model_content=mixed_model(), experimental_delegates=[delegate])
    run(interp, X)
    (report,) = interp.delegate_report()
    assert report["partitions"] == partitions
    assert why in report["rejected"][0]


@pytest.mark.parametrize(
    ("flags", "partitions"),
    [
        ({}, [[0, 2]]),
        ({"experimental_disable_delegate_clustering": True}, [[0], [2]]),
        ({"experimental_disable_delegate_node_fusion": True}, [[0], [2]]),
    ],
)
def test_clustering(flags, partitions) -> None:
    delegate = ReferenceDelegate({"ADD", "MUL"})
    model = branches_model()
    interp = tflite.Interpreter(model_content=model, experimental_delegates=[delegate], **flags)
    x = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    ours = run(interp, x)
    assert interp.delegate_report()[0]["partitions"] == partitions
    for a, b in zip(ours, run(tflite.Interpreter(model_content=model), x)):
        assert_matches(a, b)


class CountingDelegate(ReferenceDelegate):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kernels = 0

    def create_kernel(self, nodes):
        self.kernels += 1
        return super().create_kernel(nodes)


def test_kernels_are_reused_across_allocations_and_delegates_chain() -> None:
    first = CountingDelegate({"ADD"}, name="first")
    second = CountingDelegate({"ADD", "MUL", "SUB"}, name="second")
    interp = tflite.Interpreter(model_content=mixed_model(), experimental_delegates=[first, second])
    a = run(interp, X)[0]
    b = run(interp, np.tile(X, (2, 1)))[0]
    assert (first.kernels, second.kernels) == (1, 1)
    report = interp.delegate_report()
    assert report[0]["partitions"] == [[0]] and report[1]["partitions"] == [[2, 3]]
    plain = tflite.Interpreter(model_content=mixed_model())
    assert_matches(a, run(plain, X)[0])
    assert_matches(b, run(plain, np.tile(X, (2, 1)))[0])


class TpuLikeDelegate(SimpleDelegate):
    """Claims an op no CPU kernel exists for (like edgetpu-custom-op) and computes it."""

    name = "tpu-like"

    def is_node_supported(self, node):
        if node.op == "accelerator-op":
            return True
        if node.op == "LOGISTIC":
            raise RuntimeError("boom")
        return False

    def create_kernel(self, nodes):
        class Kernel(DelegateKernel):
            def invoke(self, inputs, outputs):
                np.multiply(inputs[0], 10, out=outputs[0])

        return Kernel()


def test_delegate_can_claim_an_unresolved_custom_op() -> None:
    mb = ModelBuilder()
    x = mb.input("x", [3], np.float32)
    y = mb.tensor("y", [3], np.float32)
    z = mb.tensor("z", [3], np.float32)
    mb.op("accelerator-op", [x], [y])
    mb.op(B.LOGISTIC, [y], [z])
    mb.output(z)
    model = mb.to_bytes()
    with pytest.raises(tflite.PrepareError, match="Encountered unresolved custom op: accel"):
        tflite.Interpreter(model_content=model).allocate_tensors()
    interp = tflite.Interpreter(model_content=model, experimental_delegates=[TpuLikeDelegate()])
    out = run(interp, np.array([0.0, 0.1, -0.2], np.float32))[0]
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-np.array([0.0, 1.0, -2.0]))), rtol=1e-6)
    report = interp.delegate_report()[0]
    assert report["partitions"] == [[0]]
    assert report["rejected"] == {1: "is_node_supported raised RuntimeError: boom"}


def test_failing_delegate_kernel_is_a_prepare_error() -> None:
    class Refusing(ReferenceDelegate):
        def create_kernel(self, nodes):
            class Kernel(DelegateKernel):
                def prepare(self, inputs, outputs):
                    raise tflite.PrepareError("no room on the accelerator")

            return Kernel()

    interp = tflite.Interpreter(
        model_content=mixed_model(), experimental_delegates=[Refusing({"ADD"})]
    )
    with pytest.raises(tflite.PrepareError, match=r"partition of nodes \[0\]: no room"):
        interp.allocate_tensors()


def test_load_delegate_explains_the_limitation(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"Failed to load delegate from libedgetpu\.so\.1") as err:
        tflite.load_delegate("libedgetpu.so.1", {"device": "usb"})
    assert "cannot host external TfLiteDelegate libraries" in str(err.value)
    fake = tmp_path / "delegate.so"
    fake.write_bytes(b"\x7fELF")
    with pytest.raises(ValueError, match="ABI-compatible"):
        tflite.Delegate(str(fake))
