"""The quantization debugger: where, layer by layer, a quantized model departs from its float one.

``debug_quantization(float_model, quant_model, data)`` runs both models on the same
samples (any form the quantizer's calibration accepts: arrays, .npy/.npz files, an
image folder), matches each float activation with the quantized tensor that holds
the same value (:mod:`.debug_match`), dequantizes the quantized side and accumulates
MSE, max abs error, SNR, range utilization and clipping per tensor
(:mod:`.debug_stats`). The :class:`DebugReport` ranks layers worst first and suggests
--keep-float candidates; it prints as a table, and writes JSON or a self-contained
HTML page with a plot.

Per sample, the quantized model runs first and its watched tensors are copied (as
integers, a quarter of the float size); the float model then runs with taps that
compare each value as it is produced, so memory stays at one sample's activations.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from ..errors import EdgeliteError
from ..schema import read_model, write_model
from ..schema.model import Model, Tensor
from .data import DataSource, input_specs, iter_samples
from .debug_match import Matching, TensorPair, match_tensors
from .debug_report import (
    DebugReport,
    LayerReport,
    keep_float_candidates,
    keep_float_pattern,
    rank_layers,
)
from .debug_run import RUNTIMES, DebugError, encode_input, make_runner
from .debug_stats import ErrorStats, QuantInfo
from .images import ImagePreprocessing
from .options import QuantizationError

__all__ = ["RUNTIMES", "DebugError", "DebugReport", "LayerReport", "debug_quantization"]

ModelSource = Any  # Model, .tflite bytes or a path
PROGRESS_EVERY = 10


def debug_quantization(
    float_model: ModelSource,
    quant_model: ModelSource,
    data: DataSource,
    *,
    runtime: str = "edgelite",
    images: ImagePreprocessing | None = None,
    max_samples: int | None = None,
    suggest: int = 3,
    log: TextIO | None = sys.stderr,
) -> DebugReport:
    """Compare ``quant_model`` with ``float_model`` tensor by tensor on ``data``.

    Models are Model objects, .tflite bytes or paths. ``data``: what
    ``edgelite.quantize`` takes as representative data (float samples for the float
    model; integer model inputs get them quantized). ``runtime``: "edgelite" (taps,
    memory reuse on) or "litert" (ai-edge-litert keeping all tensors, for models
    edgelite cannot run yet). ``max_samples`` caps the samples used; ``suggest`` how
    many --keep-float candidates to name. Progress goes to ``log``.

    Raises DebugError for models that do not belong together, bad or empty data, or a
    model the runtime cannot run.
    """
    if runtime not in RUNTIMES:
        raise DebugError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if max_samples is not None and max_samples < 1:
        raise DebugError(f"max_samples must be at least 1, got {max_samples}")
    if data is None:
        raise DebugError("quant-debug needs data: samples to run both models on")
    float_m, float_bytes, float_label = _load(float_model, "float")
    quant_m, quant_bytes, quant_label = _load(quant_model, "quantized")
    _check_float_side(float_m)
    _check_inputs(float_m, quant_m)
    matching = match_tensors(float_m, quant_m)
    if not matching.pairs:
        raise DebugError(
            "no tensor of the quantized model matches the float model (by name or op "
            "position): are they the same network?"
        )
    qsg = quant_m.main
    stats = {
        p.float_tensor: ErrorStats(QuantInfo.of(qsg.tensors[p.quant_tensor]))
        for p in matching.pairs
    }
    _say(log, f"quant-debug: {len(matching.pairs)} tensors matched; running on {runtime}")
    runners = (
        make_runner(runtime, quant_bytes, "quantized", qsg.inputs, _watched(matching, "quant")),
        make_runner(
            runtime, float_bytes, "float", float_m.main.inputs, _watched(matching, "float")
        ),
    )
    samples = _samples(data, float_m, images, max_samples)
    count = _run(runners, matching.pairs, stats, [qsg.tensors[t] for t in qsg.inputs], samples, log)
    report = _report(matching, float_m, stats, qsg, suggest)
    report.float_model, report.quant_model = float_label, quant_label
    report.runtime, report.samples = runtime, count
    if len(float_m.subgraphs) > 1:
        report.notes.append("only the main subgraph is compared (control-flow bodies are not)")
    return report


def _watched(matching: Matching, side: str) -> list[int]:
    return [p.float_tensor if side == "float" else p.quant_tensor for p in matching.pairs]


def _load(source: ModelSource, role: str) -> tuple[Model, bytes, str]:
    """(Model, its .tflite bytes, a label for messages) from a Model, bytes or a path."""
    if isinstance(source, Model):
        return source, write_model(source), source.source
    if isinstance(source, (bytes, bytearray, memoryview)):
        blob, label = bytes(source), f"<{role} bytes>"
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        if not os.path.isfile(label):
            raise DebugError(f"the {role} model {label!r} does not exist")
        with open(label, "rb") as handle:
            blob = handle.read()
    else:
        raise DebugError(
            f"the {role} model is a {type(source).__name__}; give a Model, bytes or a path"
        )
    try:
        return read_model(blob), blob, label
    except EdgeliteError as err:
        raise DebugError(f"the {role} model {label}: {err}") from err


def _check_float_side(model: Model) -> None:
    """DebugError when the model given as float computes in integers."""
    sg = model.main
    for i, tensor in enumerate(sg.tensors):
        if model.constant(tensor) is None and QuantInfo.of(tensor) is not None:
            raise DebugError(
                f"the float model is quantized (tensor {i} {tensor.name!r} is "
                f"{tensor.dtype}): give the float model first, the quantized one second"
            )


def _check_inputs(float_m: Model, quant_m: Model) -> None:
    """DebugError unless both models take the same inputs (count, shape, kind)."""
    f_in = [float_m.main.tensors[t] for t in float_m.main.inputs]
    q_in = [quant_m.main.tensors[t] for t in quant_m.main.inputs]
    if len(f_in) != len(q_in):
        raise DebugError(
            f"the models do not match: the float model has {len(f_in)} input(s) "
            f"({_names(f_in)}), the quantized model {len(q_in)} ({_names(q_in)})"
        )
    for i, (f, q) in enumerate(zip(f_in, q_in)):
        f_shape, q_shape = f.shape_signature or f.shape, q.shape_signature or q.shape
        if list(f_shape) != list(q_shape):
            raise DebugError(
                f"the models do not match: input {i} is {list(f_shape)} {f.name!r} in the "
                f"float model but {list(q_shape)} {q.name!r} in the quantized model"
            )
        # A float input may become a float or a quantized integer one, nothing else.
        fits = q.dtype.kind == "f" or QuantInfo.of(q) is not None
        if f.dtype != q.dtype and not (f.dtype.kind == "f" and fits):
            raise DebugError(
                f"the models do not match: input {i} {f.name!r} is {f.dtype} in the float "
                f"model but {q.dtype} (without quantization parameters) in the quantized model"
            )


def _names(tensors: list[Tensor]) -> str:
    return ", ".join(repr(t.name) for t in tensors)


def _samples(data: DataSource, model: Model, images, limit: int | None) -> Iterator[list]:
    """Validated float samples, at most ``limit``; data problems become DebugError."""
    count = 0
    try:
        for sample in iter_samples(data, input_specs(model), images):
            yield sample
            count += 1
            if limit is not None and count >= limit:
                return
    except QuantizationError as err:
        if count == 0 and "empty" in str(err):
            raise DebugError(
                "the data holds no sample: quant-debug needs at least one input to run both "
                "models on"
            ) from err
        raise DebugError(f"bad data: {err}") from err


class _Pairing:
    """Holds one sample's quantized values until the float model produces their partners."""

    def __init__(self, pairs: list[TensorPair], stats: dict[int, ErrorStats]) -> None:
        self.quant_of = {p.float_tensor: p.quant_tensor for p in pairs}
        self.stats = stats
        self.held: dict[int, np.ndarray] = {}

    def keep(self, t: int, value: np.ndarray) -> None:
        self.held[t] = np.array(value)  # the runtime may reuse this memory

    def compare(self, t: int, value: np.ndarray) -> None:
        quantized = self.held.pop(self.quant_of[t], None)
        if quantized is not None:
            self.stats[t].add(value, quantized)


def _run(runners, pairs: list[TensorPair], stats, quant_inputs: list[Tensor], samples, log):
    """Run every sample through both models, feeding ``stats``; returns the sample count."""
    quant_runner, float_runner = runners
    pairing = _Pairing(pairs, stats)
    started = time.monotonic()
    step = 0
    for step, sample in enumerate(samples, start=1):
        pairing.held.clear()
        encoded = [encode_input(value, tensor) for value, tensor in zip(sample, quant_inputs)]
        quant_runner.run(encoded, pairing.keep)
        float_runner.run(sample, pairing.compare)
        if step % PROGRESS_EVERY == 0:
            _say(log, f"quant-debug: sample {step}, {time.monotonic() - started:.1f} s")
    if step % PROGRESS_EVERY:
        _say(log, f"quant-debug: {step} sample(s), {time.monotonic() - started:.1f} s")
    return step


def _keep_float_names(model: Model) -> set[str]:
    """What --keep-float expressions are matched against: op names and op output names."""
    sg = model.main
    names = {model.op_name(op) for op in sg.operators}
    names.update(sg.tensors[t].name for op in sg.operators for t in op.outputs if t >= 0)
    return names


def _report(matching: Matching, float_m: Model, stats, qsg, suggest: int) -> DebugReport:
    """The ranked layers and candidates (the caller fills in models, runtime, samples)."""
    layers, notes = [], []
    names = _keep_float_names(float_m)
    for pair in matching.pairs:
        s = stats[pair.float_tensor]
        if s.shape_mismatch is not None:
            float_shape, quant_shape = s.shape_mismatch
            notes.append(
                f"{pair.name!r} not compared: shape {float_shape} in the float model, "
                f"{quant_shape} in the quantized one"
            )
            continue
        if s.count == 0:
            continue  # empty tensors: nothing to measure
        inputs = [stats[t].snr_db for t in pair.inputs if stats[t].count]
        layer = _layer(pair, s, qsg.tensors[pair.quant_tensor], min(inputs, default=None))
        layer.keep_float_regex = keep_float_pattern(pair.name, names)
        layers.append(layer)
    ranked = rank_layers(layers)
    candidates = keep_float_candidates(ranked, suggest)
    return DebugReport("", "", "", 0, ranked, candidates, matching.unmatched, notes)


def _layer(pair: TensorPair, s: ErrorStats, tensor: Tensor, input_snr: float | None):
    info = s.info
    return LayerReport(
        position=pair.position,
        op=pair.op,
        tensor=pair.name,
        float_index=pair.float_tensor,
        quant_index=pair.quant_tensor,
        matched_by=pair.matched_by,
        dtype=str(tensor.dtype),
        scale=None if info is None else [float(v) for v in info.scale],
        zero_point=None if info is None else [int(v) for v in info.zero_point],
        mse=s.mse,
        max_abs_error=s.max_abs_error,
        snr_db=s.snr_db,
        input_snr_db=input_snr,
        range_utilization=s.range_utilization,
        clipped_fraction=s.clipped_fraction,
        float_min=s.float_min,
        float_max=s.float_max,
        relative_error=s.relative_error,
    )


def _say(log: TextIO | None, line: str) -> None:
    if log is not None:
        print(line, file=log, flush=True)
