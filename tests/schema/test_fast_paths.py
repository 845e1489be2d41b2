"""The load fast paths agree with their Python twins, byte for byte and verdict for verdict.

- ``_verify.walk`` (C) and verify.py's Python walker give the same verdict on every
  fuzzed file; messages always come from the Python walker.
- ``_flatread.FlatReader`` (Cython) and ``flatread.PyFlatReader`` decode every file to
  the same Model, and both refuse out-of-range reads with ValueError.
- The generated options classes behave like the dataclasses they replace.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from edgelite import ModelError, read_model
from edgelite.schema import reader, verify
from edgelite.schema.compare import model_differences
from edgelite.schema.flatread import TYPE_CODES, PyFlatReader
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import (
    ActivationFunctionType,
    BuiltinOperator,
    DimensionType,
    Padding,
    TensorType,
)
from edgelite.schema.generated.layout import ROOT, TABLES, UNIONS
from edgelite.schema.model import (
    DimensionMetadata,
    QuantizationParameters,
    Sparsity,
    VariantSubType,
)
from edgelite.schema.options_base import option_fields
from tests.fuzz_worker import mutate
from tests.sample_models import conv_model, quantized_model

_verify = pytest.importorskip("edgelite.schema._verify")
_flatread = pytest.importorskip("edgelite.schema._flatread")


def kitchen_sink() -> bytes:
    """A model using the rarely seen tables: sparsity, variants, custom quantization ..."""
    mb = conv_model()
    sg = mb.sg
    sparse = mb.const("sparse", np.arange(6, dtype=np.float32))
    sg.tensors[sparse].shape = [4, 4]
    sg.tensors[sparse].sparsity = Sparsity(
        traversal_order=[0, 1],
        block_map=[],
        dim_metadata=[
            DimensionMetadata(DimensionType.DENSE, 4),
            DimensionMetadata(
                DimensionType.SPARSE_CSR,
                0,
                np.array([0, 2, 3, 5, 6], np.int32),
                np.array([0, 3, 1, 0, 2, 3], np.uint16),
            ),
        ],
    )
    variant = mb.tensor("variant", [], TensorType.VARIANT)
    sg.tensors[variant].variant_tensors = [VariantSubType([2, 3], TensorType.INT32, True)]
    quantized = mb.tensor("q", [2], np.int8)
    sg.tensors[quantized].quantization = QuantizationParameters(
        scale=np.array([0.5], np.float32),
        zero_point=np.array([3], np.int64),
        min=np.array([-1.0], np.float32),
        max=np.array([2.0], np.float32),
        custom=b"\x01\x02\x03",
    )
    mb.op(
        "MyCustom",
        [sparse, -1],
        [quantized],
        custom_options=b"\x00\x07flexbuf",
        options_2=opt.StableHLOCompositeOptions(
            name="composite", composite_attributes=[1, 2, 3], version=2
        ),
    )
    mb.op(
        BuiltinOperator.STABLEHLO_CONVOLUTION,
        [quantized],
        [variant],
        options_2=opt.StablehloConvolutionOptions(
            window_strides=[1, 2], window_reversal=[True, False], feature_group_count=3
        ),
    )
    sg.operators[-1].mutating_variable_inputs = [True]
    sg.operators[-1].intermediates = [quantized]
    mb.model.description = "kitchen sink \u2713"
    return mb.to_bytes()


def _seeds() -> list[bytes]:
    return [conv_model().to_bytes(), quantized_model().to_bytes(), kitchen_sink()]


def _python_verdict(data: bytes) -> bool:
    walker = verify._Walker(data)
    try:
        walker.table(ROOT, walker.follow(0, "model"), "model", 0)
    except ModelError:
        return False
    return True


def _read(data: bytes, reader_class: type, monkeypatch) -> object:
    """read_model with the decoder's FlatReader replaced; a ModelError comes back as text."""
    monkeypatch.setattr(reader, "FlatReader", reader_class)
    try:
        return read_model(data)
    except ModelError as err:
        return str(err)


def test_walkers_agree_on_fuzzed_files():
    rng = np.random.default_rng(2024)
    seeds = _seeds()
    verdicts = {True: 0, False: 0}
    for case in range(1500):
        data = mutate(seeds[case % len(seeds)], rng)
        if len(data) < 8:
            continue
        fast = verify._fast_walk(data, TABLES, UNIONS, ROOT)
        assert fast == _python_verdict(data), f"case {case}: C says {fast}"
        verdicts[fast] += 1
    assert verdicts[True] > 100 and verdicts[False] > 100


def test_walkers_agree_on_the_corpus(corpus_paths):
    for path in corpus_paths:
        data = path.read_bytes()
        assert verify._fast_walk(data, TABLES, UNIONS, ROOT) == _python_verdict(data), path


def test_rejection_message_comes_from_the_python_walker():
    data = bytearray(conv_model().to_bytes())
    data[4:8] = b"TFL3"
    data[0:4] = (len(data) + 100).to_bytes(4, "little")  # root offset past the end
    with pytest.raises(ModelError, match=r"<bytes>: corrupt model: model: offset points to"):
        read_model(bytes(data))


def test_compiled_layout_is_checked():
    fields, table_start, members, union_start, _ids = verify._compile(TABLES, UNIONS)
    bad = fields.copy()
    bad[0, 1] = 9  # an unknown field kind
    with pytest.raises(ValueError, match="field row 0"):
        _verify.walk(b"\0" * 16, bad, table_start, members, union_start, 0, 64, 10)
    with pytest.raises(ValueError, match="root table id"):
        _verify.walk(b"\0" * 16, fields, table_start, members, union_start, -1, 64, 10)


def test_readers_decode_identically(monkeypatch, corpus_paths):
    small = [p.read_bytes() for p in corpus_paths if p.stat().st_size < 2_000_000][:6]
    for data in _seeds() + small:
        fast, slow = (
            _read(data, _flatread.FlatReader, monkeypatch),
            _read(data, PyFlatReader, monkeypatch),
        )
        assert not isinstance(fast, str), fast
        assert model_differences(fast, slow) == []


def test_readers_agree_on_fuzzed_files(monkeypatch):
    rng = np.random.default_rng(99)
    seeds = _seeds()
    for case in range(400):
        data = mutate(seeds[case % len(seeds)], rng)
        fast, slow = (
            _read(data, _flatread.FlatReader, monkeypatch),
            _read(data, PyFlatReader, monkeypatch),
        )
        if isinstance(fast, str) or isinstance(slow, str):
            assert fast == slow, f"case {case}"
        else:
            assert model_differences(fast, slow) == [], f"case {case}"


def test_kitchen_sink_round_trips_its_rare_fields():
    model = read_model(kitchen_sink())
    sg = model.main
    sparse = next(t for t in sg.tensors if t.name == "sparse")
    assert sparse.sparsity is not None
    indices = sparse.sparsity.dim_metadata[1].array_indices
    assert (
        indices is not None and indices.dtype == np.uint16 and list(indices) == [0, 3, 1, 0, 2, 3]
    )
    q = next(t for t in sg.tensors if t.name == "q").quantization
    assert q is not None and q.custom == b"\x01\x02\x03" and q.zero_point.dtype == np.int64
    variant = next(t for t in sg.tensors if t.name == "variant")
    assert variant.variant_tensors[0].shape == [2, 3]
    custom = sg.operators[-2]
    assert custom.custom_options == b"\x00\x07flexbuf"
    assert custom.builtin_options_2.name == "composite"
    conv = sg.operators[-1]
    assert conv.builtin_options_2.window_reversal == [True, False]
    assert conv.mutating_variable_inputs == [True]
    assert model.description == "kitchen sink \u2713"


def test_type_codes_match_the_extension():
    assert tuple(TYPE_CODES) == _flatread.TYPE_NAMES


@pytest.mark.parametrize("reader_class", [PyFlatReader, "cython"])
def test_out_of_range_reads_raise_value_error(reader_class):
    cls = _flatread.FlatReader if reader_class == "cython" else reader_class
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
    fb = cls(data)
    calls = [
        lambda p, s: fb.scalar(p, s, TYPE_CODES["int64"], None),
        lambda p, s: fb.scalar(p, s, TYPE_CODES["float64"], None),
        lambda p, s: fb.string(p, s),
        lambda p, s: fb.raw(p, s),
        lambda p, s: fb.values(p, s, TYPE_CODES["int32"]),
        lambda p, s: fb.array(p, s, np.float32),
        lambda p, s: fb.table(p, s),
        lambda p, s: fb.tables(p, s),
    ]
    raised = 0
    for _ in range(3000):
        pos, slot = int(rng.integers(-300, 600)), int(rng.integers(-2, 40))
        try:
            calls[int(rng.integers(len(calls)))](pos, slot)
        except ValueError:
            raised += 1
    assert raised > 1000
    with pytest.raises(ValueError):
        fb.scalar(0, 0, 99, None)
    with pytest.raises(ValueError):
        cls(b"").root()


def test_options_classes_behave_like_dataclasses():
    a = opt.Conv2DOptions(Padding.VALID, 2, 2, ActivationFunctionType.RELU)
    assert a == opt.Conv2DOptions(
        padding=Padding.VALID, stride_w=2, stride_h=2, fused_activation_function=1
    )
    assert a != opt.Conv2DOptions() and a != opt.DepthwiseConv2DOptions()
    assert repr(opt.SoftmaxOptions(beta=1.5)) == "SoftmaxOptions(beta=1.5)"
    assert opt.Conv2DOptions().dilation_w_factor == 1  # schema default
    assert opt.ReshapeOptions().new_shape == [] and opt.ReshapeOptions().new_shape is not (
        opt.ReshapeOptions().new_shape
    )
    assert list(option_fields(opt.AddOptions)) == ["fused_activation_function", "pot_scale_int16"]
    assert opt.PadOptions() == opt.PadOptions()
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.strid_w = 3  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a
