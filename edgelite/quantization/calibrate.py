"""Calibration: run the float model in edgelite's interpreter and record tensor ranges.

Taps (``Interpreter.add_tap``) observe every float activation right after it is
produced, as a read-only view: memory reuse stays on, so a big model needs no more
memory than for inference. The subgraphs that control flow runs (WHILE body and cond,
IF branches, CALL_ONCE init) are tapped too; a loop body's tensors are observed on
every iteration, so their ranges merge all iterations of all samples. Progress goes
to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..interpreter import Interpreter
from ..schema.generated.enums import TensorType
from ..schema.model import Model
from ..schema.writer import write_model
from .data import InputSpec
from .estimators import RangeTracker
from .options import CalibrationOptions, QuantizationError

Key = tuple[int, int]  # (subgraph, tensor)


def activation_tensors(model: Model, s: int = 0) -> list[int]:
    """Float32 tensors of subgraph ``s`` that are computed at run time (not constants)."""
    sg = model.subgraphs[s]
    produced = {t for op in sg.operators for t in op.outputs if t >= 0}
    return [
        i
        for i, tensor in enumerate(sg.tensors)
        if tensor.type == TensorType.FLOAT32
        and model.constant(tensor) is None
        and not tensor.is_variable
        and (i in produced or i in sg.inputs)
    ]


def calibrate(
    model: Model,
    samples: Iterable[list[np.ndarray]],
    specs: list[InputSpec],
    options: CalibrationOptions,
    log: TextIO | None = sys.stderr,
    subgraphs: Iterable[int] = (0,),
) -> dict[Key, RangeTracker]:
    """Run every sample through ``model``; return a tracker per float activation tensor
    of ``subgraphs``, keyed by (subgraph, tensor).

    Raises QuantizationError when the model cannot run in edgelite or a tensor goes
    NaN/Inf.
    """
    try:
        interp = Interpreter(model_content=write_model(model))
    except (ValueError, RuntimeError) as err:
        raise QuantizationError(
            f"calibration needs the float model to run in edgelite: {err}"
        ) from err
    rng = np.random.default_rng(options.seed)
    trackers = {
        (s, t): RangeTracker(options, rng) for s in subgraphs for t in activation_tensors(model, s)
    }
    for (s, t), tracker in trackers.items():
        interp.add_tap(t, tracker.update, subgraph_index=s, copy=False)
    shapes: list[tuple[int, ...]] | None = None
    started = time.monotonic()
    step = 0
    for step, sample in enumerate(samples, start=1):
        shapes = _feed(interp, specs, sample, shapes)
        try:
            interp.invoke()
        except (ValueError, RuntimeError) as err:
            raise QuantizationError(
                f"calibration step {step}: the float model failed: {err}"
            ) from err
        _check_finite(model, trackers, step)
        if log is not None and options.progress_every and step % options.progress_every == 0:
            _progress(log, step, options.steps, started)
        if options.steps is not None and step >= options.steps:
            break
    if log is not None and options.progress_every and step % options.progress_every:
        _progress(log, step, options.steps, started)
    return trackers


def _feed(interp: Interpreter, specs: list[InputSpec], sample, shapes):
    """Set the inputs, resizing (and re-allocating) when the sample's shapes change."""
    new_shapes = [tuple(v.shape) for v in sample]
    if new_shapes != shapes:
        for spec, value in zip(specs, sample):
            interp.resize_tensor_input(spec.index, list(value.shape))
        try:
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise QuantizationError(
                f"calibration: the float model cannot be prepared: {err}"
            ) from err
    for spec, value in zip(specs, sample):
        interp.set_tensor(spec.index, value)
    return new_shapes


def _check_finite(model: Model, trackers: dict[Key, RangeTracker], step: int) -> None:
    # Checked after every step, so a recorded NaN/Inf is this step's (a loop body's
    # tracker counts iterations, not steps).
    for (s, t), tracker in trackers.items():
        if tracker.non_finite_step is not None:
            name = model.subgraphs[s].tensors[t].name
            where = f"tensor {t}" if s == 0 else f"subgraph {s} tensor {t}"
            raise QuantizationError(
                f"calibration step {step}: {where} {name!r} holds NaN or Inf; its range "
                "cannot be measured (check the input data and the float model)"
            )


def _progress(log: TextIO, step: int, total: int | None, started: float) -> None:
    of = f"/{total}" if total else ""
    print(f"calibration: step {step}{of}, {time.monotonic() - started:.1f} s", file=log, flush=True)
