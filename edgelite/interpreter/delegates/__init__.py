"""Delegates: hand parts of the main subgraph to another executor.

``SimpleDelegate`` is the interface (shaped like TFLite's SimpleDelegate),
``ReferenceDelegate`` a hardware-free implementation that runs its partitions
with the reference kernels. ``load_delegate`` keeps the official signature but
cannot host external ``.so`` delegates (see ``external.py``).
"""

from .base import DelegateKernel, DelegateParams, PartitionOptions, SimpleDelegate
from .external import Delegate, load_delegate
from .reference import ReferenceDelegate

__all__ = [
    "Delegate",
    "DelegateKernel",
    "DelegateParams",
    "PartitionOptions",
    "ReferenceDelegate",
    "SimpleDelegate",
    "load_delegate",
]
