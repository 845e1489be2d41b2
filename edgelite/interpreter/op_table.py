"""The one explicit op table: builtin code (or custom name) -> KernelSpec.

Every kernel module is listed here by name; nothing registers itself by being
imported. The table is built on first use (``builtin_table()``), not at import.
"""

from __future__ import annotations

import importlib
from functools import cache

from .kernels.base import KernelSpec

# One module per op or per family of ops sharing a kernel (edgelite/interpreter/kernels/).
KERNEL_MODULES: tuple[str, ...] = (
    # elementwise, activations, softmax, comparisons, select, cast
    "elementwise_binary",
    "comparison",
    "unary",
    "activations",
    "softmax",
    "select",
    "cast",
    # conv / fully connected / pooling / resize / normalization
    "conv_2d",
    "depthwise_conv_2d",
    "fully_connected",
    "batch_matmul",
    "pooling",
    "transpose_conv",
    "conv_3d",
    "resize",
    "normalization",
    # shape, data movement, reductions, gather/scatter, index ops
    "reshape",
    "transpose",
    "concat_split",
    "slice",
    "gather",
    "pad",
    "tile",
    "space_depth",
    "shape_ops",
    "reduce",
    "arg_minmax",
    "index_ops",
    # quantize/dequantize/densify, control flow, variables, sequence ops
    "control_flow",
    "variables",
    "lstm",
    "bidirectional_sequence_lstm",
    "rnn",
    "svdf",
    "quantize",
)

# Custom ops with built-in implementations (edgelite/interpreter/kernels/custom/).
CUSTOM_MODULES: tuple[str, ...] = (
    "detection_postprocess",
    "mediapipe",
)


@cache
def builtin_table() -> dict[int, KernelSpec]:
    table: dict[int, KernelSpec] = {}
    for name in KERNEL_MODULES:
        module = importlib.import_module(f"{__package__}.kernels.{name}")
        for code, spec in module.KERNELS.items():
            if code in table:
                raise RuntimeError(f"op {code} is implemented twice (second in kernels.{name})")
            table[int(code)] = spec
    return table


@cache
def custom_table() -> dict[str, KernelSpec]:
    table: dict[str, KernelSpec] = {}
    for name in CUSTOM_MODULES:
        module = importlib.import_module(f"{__package__}.kernels.custom.{name}")
        table.update(module.CUSTOM_KERNELS)
    return table
