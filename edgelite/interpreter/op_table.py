"""The one explicit op table: builtin code (or custom name) -> KernelSpec.

Every kernel module is listed here by name, with the ops it implements; nothing
registers itself by being imported. A module is imported the first time one of its
ops is looked up, so loading a model imports only the kernels it uses (importing
all of them costs ~55 ms, more than the rest of a MobileNetV2 load).
``tests/interpreter/test_op_table.py`` holds every list equal to its module's KERNELS.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache

from ..schema.generated.enums import BuiltinOperator
from .kernels.base import KernelSpec

# Module (edgelite/interpreter/kernels/) -> the builtin ops it implements, one module per
# op or per family of ops sharing a kernel.
KERNEL_MODULES: dict[str, tuple[str, ...]] = {
    # elementwise, activations, softmax, comparisons, select, cast
    "elementwise_binary": (
        "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "POW", "MAXIMUM", "MINIMUM",
        "FLOOR_DIV", "FLOOR_MOD", "ADD_N",
    ),
    "comparison": (
        "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL",
        "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT",
    ),
    "unary": (
        "ABS", "NEG", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "FLOOR",
        "CEIL", "ROUND", "SIGN",
    ),
    "activations": (
        "TANH", "LOGISTIC", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU",
        "ELU", "HARD_SWISH", "GELU", "PRELU",
    ),
    "softmax": ("SOFTMAX", "LOG_SOFTMAX"),
    "select": ("SELECT", "SELECT_V2"),
    "cast": ("CAST",),
    # conv / fully connected / pooling / resize / normalization
    "conv_2d": ("CONV_2D",),
    "depthwise_conv_2d": ("DEPTHWISE_CONV_2D",),
    "fully_connected": ("FULLY_CONNECTED",),
    "batch_matmul": ("BATCH_MATMUL",),
    "pooling": ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"),
    "transpose_conv": ("TRANSPOSE_CONV",),
    "conv_3d": ("CONV_3D",),
    "conv_3d_transpose": ("CONV_3D_TRANSPOSE",),
    "resize": ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"),
    "normalization": ("L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION"),
    # shape, data movement, reductions, gather/scatter, index ops
    "reshape": ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"),
    "transpose": ("TRANSPOSE",),
    "concat_split": ("CONCATENATION", "PACK", "UNPACK", "SPLIT", "SPLIT_V"),
    "slice": ("SLICE", "STRIDED_SLICE"),
    "gather": ("GATHER", "GATHER_ND", "SCATTER_ND", "EMBEDDING_LOOKUP"),
    "pad": ("PAD", "PADV2", "MIRROR_PAD"),
    "tile": ("TILE", "BROADCAST_TO"),
    "space_depth": ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"),
    "shape_ops": ("SHAPE", "RANK", "FILL", "ZEROS_LIKE", "RANGE"),
    "reduce": (
        "MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY", "REDUCE_ALL",
    ),
    "arg_minmax": ("ARG_MAX", "ARG_MIN"),
    "index_ops": ("WHERE", "UNIQUE", "TOPK_V2", "REVERSE_V2", "CUMSUM"),
    # quantize/dequantize/densify, control flow, variables, sequence ops
    "control_flow": ("IF", "WHILE", "CALL_ONCE"),
    "variables": ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"),
    "lstm": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM"),
    "bidirectional_sequence_lstm": ("BIDIRECTIONAL_SEQUENCE_LSTM",),
    "rnn": ("UNIDIRECTIONAL_SEQUENCE_RNN", "RNN"),
    "svdf": ("SVDF",),
    "quantize": ("QUANTIZE", "DEQUANTIZE", "DENSIFY"),
}  # fmt: skip

# Custom ops with built-in implementations (edgelite/interpreter/kernels/custom/):
# module -> the custom codes it implements.
CUSTOM_MODULES: dict[str, tuple[str, ...]] = {
    "detection_postprocess": ("TFLite_Detection_PostProcess",),
    "mediapipe": ("Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D"),
}


class _LazyTable(Mapping):
    """key -> KernelSpec, importing a kernel module when one of its keys is first looked up.

    ``key_of`` turns a listed op name into a table key (and a module's KERNELS key
    into one: BuiltinOperator -> int); ``attribute`` is the module's table.
    """

    def __init__(
        self, modules: dict[str, tuple[str, ...]], package: str, attribute: str, key_of
    ) -> None:
        self._module_of: dict = {}
        for module, names in modules.items():
            for name in names:
                key = key_of(name)
                if key in self._module_of:
                    raise RuntimeError(f"op {name} is listed twice (second in kernels.{module})")
                self._module_of[key] = module
        self._package = package
        self._attribute = attribute
        self._key_of = key_of
        self._specs: dict = {}

    def __getitem__(self, key):
        if key not in self._specs:
            module = self._module_of[key]  # KeyError: no kernel implements ``key``
            kernels = getattr(importlib.import_module(f"{self._package}.{module}"), self._attribute)
            for found, spec in kernels.items():
                self._specs[self._key_of(found)] = spec
            if key not in self._specs:
                raise RuntimeError(f"op table lists {key!r} under kernels.{module}, which lacks it")
        return self._specs[key]

    def __contains__(self, key: object) -> bool:
        return key in self._module_of  # without importing the module

    def __iter__(self) -> Iterator:
        return iter(self._module_of)

    def __len__(self) -> int:
        return len(self._module_of)


def _builtin_key(name) -> int:
    return int(BuiltinOperator[name]) if isinstance(name, str) else int(name)


@cache
def builtin_table() -> Mapping[int, KernelSpec]:
    """Builtin code -> KernelSpec (a kernel module is imported on its first lookup)."""
    return _LazyTable(KERNEL_MODULES, f"{__package__}.kernels", "KERNELS", _builtin_key)


@cache
def custom_table() -> Mapping[str, KernelSpec]:
    """Custom code -> KernelSpec of the built-in custom ops (imported on first lookup)."""
    return _LazyTable(CUSTOM_MODULES, f"{__package__}.kernels.custom", "CUSTOM_KERNELS", str)
