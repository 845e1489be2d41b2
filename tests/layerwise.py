"""Layer-by-layer comparison of edgelite against the official runtime.

When a whole model disagrees, ``first_divergence`` names the first operator (in
execution order) whose output leaves the tolerance: that op is the one to fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelite.interpreter import Interpreter
from edgelite.schema import read_model
from tests.oracle import float_tolerance, litert_interpreter


def first_divergence(content: bytes, inputs: Sequence[np.ndarray], **options: object) -> str | None:
    """Describe the first op of subgraph 0 whose output differs, or None if all agree.

    ``options`` go to edgelite's Interpreter (``hybrid="exact"``, ``rounding=...``).
    """
    model = read_model(content)
    sg = model.main
    theirs = litert_interpreter(content, experimental_preserve_all_tensors=True)
    theirs.allocate_tensors()
    ours = Interpreter(model_content=content, **options)  # type: ignore[arg-type]
    seen: dict[int, np.ndarray] = {}
    for op in sg.operators:
        for t in op.outputs:
            if t >= 0:
                ours.add_tap(t, lambda v, t=t: seen.__setitem__(t, v))
    ours.allocate_tensors()
    for runner in (theirs, ours):
        for detail, value in zip(runner.get_input_details(), inputs):
            runner.set_tensor(detail["index"], value)
        runner.invoke()
    for node, op in enumerate(sg.operators):
        for t in op.outputs:
            if t < 0 or t not in seen:
                continue
            try:
                ref = theirs.get_tensor(t)
            except ValueError:
                continue  # the official runtime cannot show this tensor
            mine = seen[t]
            if ref.shape != mine.shape:
                return (
                    f"node {node} {model.op_name(op)}: output {t} shape {mine.shape} != {ref.shape}"
                )
            if ref.dtype.kind == "f":
                diff = float(np.max(np.abs(mine.astype(np.float64) - ref))) if ref.size else 0.0
                if not diff <= float_tolerance(ref):
                    return (
                        f"node {node} {model.op_name(op)}: output {t} {sg.tensors[t].name!r} "
                        f"max |diff| {diff:g}"
                    )
            elif not np.array_equal(mine, ref):
                bad = int(np.sum(mine != ref))
                return f"node {node} {model.op_name(op)}: output {t} {bad} elements differ"
    return None
