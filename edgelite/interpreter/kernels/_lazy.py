"""Import a helper module on first attribute access.

The quantized paths of the elementwise, softmax and reduction kernels live in their own
modules (tables, Cython loops) that cost ~20 ms to import; a float model never needs
them. Kernels reach those modules only when preparing or running a quantized node.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` (absolute) as a module object that loads itself when first used."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
