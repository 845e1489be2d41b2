"""Lowering source-graph ops to TFLite builtins, one module per op family.

``driver.lower_graph`` walks a :class:`graph.Graph` and calls the function the op
table (``driver.lowering_table``) holds for each node type.
"""

from .context import Lowering, LoweringError
from .driver import ConversionState, lower_graph, lowering_table
from .graph import Graph, GraphNode, TensorSpec

__all__ = [
    "ConversionState",
    "Graph",
    "GraphNode",
    "Lowering",
    "LoweringError",
    "TensorSpec",
    "lower_graph",
    "lowering_table",
]
