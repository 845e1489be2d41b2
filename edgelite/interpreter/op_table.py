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
    # conv / fully connected / pooling / resize / normalization
    # shape, data movement, reductions, gather/scatter, index ops
    # quantize/dequantize/densify, control flow, variables, sequence ops
)

# Custom ops with built-in implementations (edgelite/interpreter/kernels/custom/).
CUSTOM_MODULES: tuple[str, ...] = ()


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
