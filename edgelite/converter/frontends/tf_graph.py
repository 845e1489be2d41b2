"""A frozen TensorFlow graph (or function body) as a framework-free lowering Graph.

Only this module and ``frontends.tensorflow`` touch TensorFlow objects. Attributes are
decoded to plain Python/numpy values, tensor dtypes to numpy dtypes (or the VARIANT /
RESOURCE markers), static shapes to tuples with None for unknown dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..lowering.graph import RESOURCE, VARIANT, Graph, GraphNode, TensorSpec


def _dtype(tf: Any, dtype: Any) -> Any:
    dtype = tf.dtypes.as_dtype(dtype)
    if dtype == tf.variant:
        return VARIANT
    if dtype == tf.resource:
        return RESOURCE
    return np.dtype(dtype.as_numpy_dtype)


def _shape(shape: Any) -> tuple[int | None, ...] | None:
    """A TensorShape or TensorShapeProto as a tuple (None: unknown dimension/rank)."""
    if hasattr(shape, "unknown_rank"):  # TensorShapeProto
        if shape.unknown_rank:
            return None
        return tuple(None if d.size < 0 else int(d.size) for d in shape.dim)
    if shape.rank is None:
        return None
    return tuple(None if d is None else int(d) for d in shape.as_list())


def _attr(tf: Any, value: Any) -> Any:
    """One AttrValue proto as a plain value."""
    kind = value.WhichOneof("value")
    if kind == "list":
        items = value.list
        for field in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            entries = getattr(items, field)
            if len(entries):
                return [_attr_item(tf, field, e) for e in entries]
        return []
    if kind is None:
        return None
    return _attr_item(tf, kind, getattr(value, kind))


def _attr_item(tf: Any, kind: str, item: Any) -> Any:
    if kind == "type":
        return _dtype(tf, item)
    if kind == "shape":
        return _shape(item)
    if kind == "tensor":
        return tf.make_ndarray(item)
    if kind == "func":
        return item.name
    return item


def _spec(tf: Any, tensor: Any, prefix: str = "") -> TensorSpec:
    return TensorSpec(prefix + tensor.name, _shape(tensor.shape), _dtype(tf, tensor.dtype))


def _node(tf: Any, op: Any, prefix: str = "") -> GraphNode:
    attrs = {key: _attr(tf, value) for key, value in op.node_def.attr.items()}
    return GraphNode(
        name=prefix + op.name,
        type=op.type,
        inputs=[prefix + t.name for t in op.inputs],
        outputs=[_spec(tf, t, prefix) for t in op.outputs],
        attrs=attrs,
    )


def _ordered(ops: Sequence[Any]) -> list[Any]:
    """Operations with every producer before its consumers (data and control edges)."""
    order: list[Any] = []
    seen: set[str] = set()
    for root in ops:
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if op.name in seen:
                continue
            if expanded:
                seen.add(op.name)
                order.append(op)
                continue
            stack.append((op, True))
            deps = [t.op for t in op.inputs] + list(op.control_inputs)
            stack.extend((d, False) for d in deps if d.name not in seen)
    return order


class Library:
    """The function definitions of a frozen graph, loaded as Graphs on demand."""

    def __init__(self, tf: Any, graph_def: Any, layer_names: frozenset[str]) -> None:
        self.tf = tf
        self.library = graph_def.library
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.layer_names = layer_names

    def load(self, name: str, args: Sequence[TensorSpec], prefix: str = "") -> Graph:
        """Function ``name`` as a Graph, its arguments shaped like ``args``.

        ``prefix`` is put before every node name, so a body inlined into its caller's
        graph cannot collide with the caller's names.
        """
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

        fdef = self.functions.get(name)
        if fdef is None:
            raise KeyError(f"function {name!r} is not in the graph's library")
        shapes = [None if a.shape is None else self.tf.TensorShape(a.shape) for a in args]
        graph_def, flat = function_def_to_graph_def(fdef, shapes)
        graph_def.library.CopyFrom(self.library)  # nested loop bodies resolve here
        with self.tf.Graph().as_default() as graph:
            self.tf.graph_util.import_graph_def(graph_def, name="")
        inputs = [graph.get_tensor_by_name(flat[a.name]) for a in fdef.signature.input_arg]
        outputs = [
            graph.get_tensor_by_name(flat[fdef.ret[a.name]]) for a in fdef.signature.output_arg
        ]
        ops = graph.get_operations()
        return graph_from_tf(self.tf, inputs, outputs, ops, name, self, prefix)


def graph_from_tf(
    tf: Any,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    ops: Sequence[Any],
    name: str,
    library: Library,
    prefix: str = "",
) -> Graph:
    """TensorFlow tensors and operations as a lowering Graph."""
    input_names = {t.name for t in inputs}
    ordered = _ordered([t.op for t in outputs] + list(ops))
    nodes = [
        _node(tf, op, prefix)
        for op in ordered
        if not (op.type == "Placeholder" and op.outputs[0].name in input_names)
    ]
    return Graph(
        name=name,
        nodes=nodes,
        inputs=[_spec(tf, t, prefix) for t in inputs],
        outputs=[prefix + t.name for t in outputs],
        load_function=library.load,
        layer_names=library.layer_names,
    )
