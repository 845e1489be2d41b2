"""The public Interpreter API, method by method (custom ops keep it independent of kernels)."""

from __future__ import annotations

import ai_edge_litert.interpreter as litert
import numpy as np
import pytest

import edgelite
import edgelite.interpreter as tflite
from edgelite.interpreter.kernels.base import Prepared
from edgelite.schema.builder import ModelBuilder, quant

from .models import chain_model, if_model, plus_one, same_shape_prepare


def test_exports() -> None:
    assert edgelite.Interpreter is tflite.Interpreter
    assert [m.name for m in tflite.OpResolverType] == [m.name for m in litert.OpResolverType]
    assert [m.value for m in tflite.OpResolverType] == [m.value for m in litert.OpResolverType]


def test_model_path_and_content(tmp_path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(if_model())
    for interp in (tflite.Interpreter(model_path=str(path)), tflite.Interpreter(model_path=path)):
        assert [d["name"] for d in interp.get_input_details()] == ["cond", "x", "y"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "`model_path` or `model_content` must be specified."),
        ({"model_content": b""}, "`model_path` or `model_content` must be specified."),
        ({"model_content": b"x", "model_path": "m"}, "Can't both provide"),
        ({"model_content": b"garbage" * 10}, ""),
        ({"model_content": "MODEL", "num_threads": "2"}, "type of num_threads should be int"),
        ({"model_content": "MODEL", "num_threads": 0}, "num_threads should >= 1"),
        ({"model_content": "MODEL", "experimental_op_resolver_type": 5}, "Unrecognized"),
        ({"model_content": "MODEL", "experimental_delegates": [object()]}, "SimpleDelegate"),
    ],
)
def test_constructor_errors(kwargs, message) -> None:
    if kwargs.get("model_content") == "MODEL":
        kwargs["model_content"] = if_model()
    with pytest.raises(ValueError, match=message.replace("`", ".") or None):
        tflite.Interpreter(**kwargs)


def test_foreign_resolver_enum_accepted() -> None:
    interp = tflite.Interpreter(
        model_content=if_model(), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    assert interp._core.reference


def test_not_ready_errors() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    with pytest.raises(RuntimeError, match=r"Invoke called on model that is not ready\."):
        interp.invoke()
    with pytest.raises(ValueError, match=r"Tensor data is null\. Run allocate_tensors"):
        interp.get_tensor(1)
    with pytest.raises(ValueError, match="Tensor data is null"):
        interp.tensor(1)()
    with pytest.raises(ValueError, match="Cannot set tensor: Tensor is unallocated"):
        interp.set_tensor(1, np.zeros((2, 3), np.float32))


def test_set_tensor_checks() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    interp.allocate_tensors()
    with pytest.raises(ValueError) as err:
        interp.set_tensor(1, np.ones((2, 3)))
    assert str(err.value) == (
        "Cannot set tensor: Got value of type FLOAT64 but expected type FLOAT32 for input 1, "
        "name: x "
    )
    with pytest.raises(ValueError, match="Got value of type INT64 but expected type BOOL"):
        interp.set_tensor(0, np.array(1))
    with pytest.raises(ValueError, match="Got value of type STRING"):
        interp.set_tensor(1, "abc")
    with pytest.raises(ValueError) as err:
        interp.set_tensor(1, np.ones((3, 3), np.float32))
    assert str(err.value) == (
        "Cannot set tensor: Dimension mismatch. Got 3 but expected 2 for dimension 0 of input 1."
    )
    with pytest.raises(ValueError) as err:
        interp.set_tensor(1, np.ones(6, np.float32))
    assert (
        str(err.value) == "Cannot set tensor: Dimension mismatch. Got 1 but expected 2 for input 1."
    )
    with pytest.raises(ValueError, match="Invalid tensor index 9 exceeds max tensor index 4"):
        interp.set_tensor(9, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Invalid tensor index -1"):
        interp.get_tensor(-1)
    with pytest.raises(TypeError):
        interp.get_tensor(1.0)
    interp.set_tensor(0, True)  # a Python bool is a bool array
    interp.set_tensor(1, np.ones((3, 2), np.float32).T.T.reshape(2, 3))
    interp.set_tensor(3, np.ones((2, 3), np.float32))  # any allocated tensor, like TFLite


def test_get_tensor_copies_and_scalars() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    interp.allocate_tensors()
    interp.set_tensor(0, np.array(True))
    interp.set_tensor(1, np.full((2, 3), 7, np.float32))
    interp.set_tensor(2, np.zeros((2, 3), np.float32))
    interp.invoke()
    out = interp.get_tensor(3)
    out[...] = -1
    np.testing.assert_array_equal(interp.get_tensor(3), np.full((2, 3), 7, np.float32))
    cond = interp.get_tensor(0)
    assert isinstance(cond, np.bool_) and cond
    with pytest.raises(ValueError, match="Invalid subgraph index 7 exceeds max subgraph index 3"):
        interp.get_tensor(0, 7)


def test_tensor_views_block_invoke_and_allocate() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    interp.allocate_tensors()
    view = interp.tensor(1)()
    assert view.flags.writeable and view.shape == (2, 3)
    view.fill(4.0)
    part = view[0]
    del view
    for call in (
        interp.invoke,
        interp.allocate_tensors,
        lambda: interp.resize_tensor_input(1, [1, 3]),
    ):
        with pytest.raises(RuntimeError, match="at least 1 reference to internal data"):
            call()
    interp.set_tensor(2, np.zeros((2, 3), np.float32))  # allowed while a view is held
    del part
    get_input = interp.tensor(1)  # holding the function is fine
    interp.set_tensor(0, np.array(True))
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(3), np.full((2, 3), 4.0, np.float32))
    get_input()[...] = 5.0
    interp.invoke()
    assert interp.get_tensor(3)[0, 0] == 5.0


def test_resize_tensor_input() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    interp.allocate_tensors()
    interp.resize_tensor_input(1, [2, 3])  # same shape: stays ready
    interp.invoke()
    interp.resize_tensor_input(1, np.array([4, 3]), strict=True)
    with pytest.raises(RuntimeError, match="not ready"):
        interp.invoke()
    with pytest.raises(ValueError, match="Tensor data is null"):
        interp.get_tensor(1)
    assert interp.get_input_details()[1]["shape"].tolist() == [4, 3]
    with pytest.raises(RuntimeError, match="ResizeInputTensorStrict only allows"):
        interp.resize_tensor_input(1, [4, 4], strict=True)
    with pytest.raises(RuntimeError, match="Attempting to resize dimension 0 of tensor 2"):
        interp.resize_tensor_input(2, [5, 3], strict=True)
    with pytest.raises(RuntimeError, match="rank 2"):
        interp.resize_tensor_input(1, [4, 3, 1], strict=True)
    with pytest.raises(RuntimeError, match="must be >= 0"):
        interp.resize_tensor_input(1, [-1, 3])
    with pytest.raises(RuntimeError, match="Invalid tensor index 10"):
        interp.resize_tensor_input(10, [1, 3])
    with pytest.raises(ValueError, match=r"Shape should be 1D instead of 2\."):
        interp.resize_tensor_input(1, [[1, 3]])
    interp.resize_tensor_input(2, [4, 3])
    interp.allocate_tensors()
    interp.set_tensor(0, np.array(False))
    interp.set_tensor(1, np.zeros((4, 3), np.float32))
    interp.set_tensor(2, np.ones((4, 3), np.float32))
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(3), np.ones((4, 3), np.float32))


def test_details_and_ops() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    assert interp.num_subgraphs() == 3
    inputs = interp.get_input_details()
    assert [d["index"] for d in inputs] == [0, 1, 2]
    assert inputs[1]["shape_signature"].tolist() == [-1, 3]
    assert inputs[2]["quantization"] == (0.5, 3)
    assert inputs[0]["dtype"] is np.bool_
    assert interp.get_output_details()[0]["name"] == "out"
    assert [d["name"] for d in interp.get_tensor_details(1)] == ["tx", "ty"]
    with pytest.raises(ValueError, match="subgraph_index is out of range: 3 for the model"):
        interp.get_tensor_details(3)
    (op,) = interp._get_ops_details()
    assert op["op_name"] == "IF" and op["inputs"].tolist() == [0, 1, 2]
    assert op["operand_types"] == [np.bool_, np.float32, np.float32]
    with pytest.raises(ValueError, match="Invalid node index"):
        interp._get_op_details(1)


def test_signatures() -> None:
    interp = tflite.Interpreter(model_content=if_model())
    assert interp.get_signature_list() == {
        "serving_default": {"inputs": ["a_y", "b_x", "zz_cond"], "outputs": ["out"]}
    }
    assert interp._get_full_signature_list()["serving_default"]["inputs"] == {
        "a_y": 2,
        "b_x": 1,
        "zz_cond": 0,
    }
    runner = interp.get_signature_runner()
    assert runner.get_input_details()["b_x"]["name"] == "x"
    assert runner.get_output_details()["out"]["index"] == 3
    with pytest.raises(ValueError, match="expected 3 vs provided 1"):
        runner(b_x=np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"Invalid Input name \(nope\) for SignatureDef"):
        runner(b_x=np.ones((1, 3), np.float32), a_y=np.ones((1, 3), np.float32), nope=1)
    with pytest.raises(ValueError, match="Invalid signature_key provided"):
        interp.get_signature_runner("nope")
    out = runner(
        zz_cond=np.array(False), b_x=np.ones((5, 3), np.float32), a_y=np.full((5, 3), 2, np.float32)
    )
    np.testing.assert_array_equal(out["out"], np.full((5, 3), 2, np.float32))
    assert interp.get_input_details()[1]["shape"].tolist() == [5, 3]


def test_signature_runner_requires_key_when_ambiguous() -> None:
    mb = ModelBuilder()
    x = mb.input("x", [1], np.float32)
    mb.output(x)
    interp = tflite.Interpreter(model_content=mb.to_bytes())
    assert interp.get_signature_list() == {}
    with pytest.raises(ValueError, match="model has 0 Signatures"):
        interp.get_signature_runner()


@pytest.mark.parametrize(
    ("resolver", "expected"),
    [
        (tflite.OpResolverType.AUTO, "opt"),
        (tflite.OpResolverType.BUILTIN, "opt"),
        (tflite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, "opt"),
        (tflite.OpResolverType.BUILTIN_REF, "ref"),
    ],
)
def test_resolver_type_picks_reference_or_optimized(resolver, expected) -> None:
    calls = []

    def kernel(name):
        def invoke(data, inputs, outputs):
            calls.append(name)
            np.add(inputs[0], 1, out=outputs[0])

        return invoke

    interp = tflite.Interpreter(model_content=chain_model(), experimental_op_resolver_type=resolver)
    interp.register_custom_op(
        "PlusOne", prepare=same_shape_prepare, invoke=kernel("ref"), invoke_opt=kernel("opt")
    )
    interp.allocate_tensors()
    interp.set_tensor(0, np.zeros((2, 3), np.float32))
    interp.invoke()
    assert calls == [expected] * 3
    np.testing.assert_array_equal(interp.get_tensor(3), np.full((2, 3), 3, np.float32))


def test_num_threads_reaches_prepare() -> None:
    seen = []

    def prepare(node):
        seen.append(node.num_threads)
        return Prepared([node.inputs[0].shape])

    interp = tflite.Interpreter(model_content=chain_model(1), num_threads=3)
    interp.register_custom_op("PlusOne", prepare=prepare, invoke=plus_one)
    interp.allocate_tensors()
    assert seen == [3]


def test_reset_all_variables_zeroes_state_tensors() -> None:
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    state = mb.tensor("state", [2], np.float32, is_variable=True)
    qstate = mb.tensor("qstate", [2], np.int8, quant(0.1, 5), is_variable=True)
    y = mb.tensor("y", [2], np.float32)
    mb.op("Accumulate", [x, state, qstate], [y])
    mb.output(y)

    def invoke(data, inputs, outputs):
        inputs[1] += inputs[0]
        outputs[0][...] = inputs[1]

    interp = tflite.Interpreter(model_content=mb.to_bytes())
    interp.register_custom_op("Accumulate", prepare=same_shape_prepare, invoke=invoke)
    interp.allocate_tensors()
    assert interp.get_tensor(qstate).tolist() == [5, 5]  # int8 variables start at the zero point
    for _ in range(3):
        interp.set_tensor(x, np.ones(2, np.float32))
        interp.invoke()
    assert interp.get_tensor(y).tolist() == [3.0, 3.0]
    interp.reset_all_variables()
    assert interp.get_tensor(state).tolist() == [0.0, 0.0]
    interp.invoke()
    assert interp.get_tensor(y).tolist() == [1.0, 1.0]


def test_native_handle_and_compress_flag() -> None:
    interp = tflite.Interpreter(
        model_content=if_model(), experimental_compress_quantization_zero_points=True
    )
    assert interp.experimental_compress_quantization_zero_points is True
    with pytest.raises(RuntimeError, match="no native"):
        interp._native_handle()
