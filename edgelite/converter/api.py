"""``convert(source) -> Model``: trace, lower, optimize and finish a model for writing."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..schema.builder import ModelBuilder
from ..schema.model import Model, SignatureDef
from ..schema.writer import write_model
from .errors import UnsupportedOp, UnsupportedOpsError
from .metadata import (
    CONVERSION_METADATA,
    MIN_RUNTIME_VERSION,
    conversion_metadata,
    runtime_version_bytes,
    set_metadata,
)
from .versioning import assign_versions, min_runtime_version


@dataclass
class ConvertOptions:
    """What to convert and how.

    ``signature_keys``: SavedModel signatures to convert (default: all of them).
    ``input_shapes``: input name -> full shape, for inputs with unknown sizes.
    ``allow_custom_ops``: emit ops without a TFLite builtin as custom ops instead of failing.
    ``optimize``: run the graph passes (folding, fusion, clean-up).
    ``progress``: called with one line per conversion stage.
    """

    signature_keys: Sequence[str] | None = None
    input_shapes: Mapping[str, Sequence[int]] = field(default_factory=dict)
    allow_custom_ops: bool = False
    optimize: bool = True
    progress: Callable[[str], None] | None = None


@dataclass
class ConversionReport:
    """What a conversion did: sizes, op counts before/after the passes, custom ops, timings."""

    source: str = ""
    signatures: list[str] = field(default_factory=list)
    ops_lowered: int = 0
    ops_final: int = 0
    op_histogram: dict[str, int] = field(default_factory=dict)
    pass_changes: dict[str, int] = field(default_factory=dict)
    custom_ops: list[UnsupportedOp] = field(default_factory=list)
    min_runtime_version: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    size_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["custom_ops"] = [vars(op) for op in self.custom_ops]
        return data


class _Stages:
    """Progress lines and per-stage timings."""

    def __init__(self, report: ConversionReport, progress: Callable[[str], None] | None) -> None:
        self.report = report
        self.progress = progress
        self.started = time.perf_counter()
        self.stage = ""

    def __call__(self, stage: str, line: str | None = None) -> None:
        now = time.perf_counter()
        if self.stage:
            self.report.seconds[self.stage] = round(now - self.started, 3)
        self.stage, self.started = stage, now
        self.say(line or stage)

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)


def convert(source: Any, *, options: ConvertOptions | None = None) -> Model:
    """Convert a Keras model / SavedModel / tf.function to a TFLite :class:`Model`.

    Save it with ``model.save(path)`` (or :func:`save` for an all-or-nothing write).
    """
    return convert_with_report(source, options=options)[0]


def convert_with_report(
    source: Any, *, options: ConvertOptions | None = None
) -> tuple[Model, ConversionReport]:
    """:func:`convert`, also returning a :class:`ConversionReport`."""
    from .frontends import tensorflow as tf_frontend
    from .lowering import ConversionState, lower_graph
    from .lowering.variables import add_initialisation
    from .passes import run_passes

    options = options or ConvertOptions()
    report = ConversionReport(
        source=str(source) if isinstance(source, (str, Path)) else type(source).__name__
    )
    stage = _Stages(report, options.progress)
    stage("tracing", "tracing the model with TensorFlow")
    loaded = tf_frontend.load_source(source, options.signature_keys, options.input_shapes)
    stage("freezing", "freezing variables into constants")
    frozen = tf_frontend.freeze(loaded)
    stage("lowering", f"lowering {sum(len(f.graph.nodes) for f in frozen)} TensorFlow nodes")
    builder = ModelBuilder(description="edgelite converter")
    state = ConversionState(builder, loaded.layer_names)
    for i, function in enumerate(frozen):
        if i:
            builder.new_subgraph(function.traced.key)
    if len(frozen) > 1:
        builder.model.subgraphs[0].name = frozen[0].traced.key
    for i, function in enumerate(frozen):
        traced = function.traced
        names = (traced.input_names, traced.output_names)
        lower_graph(state, function.graph, i, *names, variables=function.variables)
    add_initialisation(state)
    model = builder.build()
    report.ops_lowered = sum(len(sg.operators) for sg in model.subgraphs)
    if options.optimize:
        stage("passes", "optimizing")
        report.pass_changes = run_passes(model, progress=stage.say)
    report.custom_ops = _surviving_unsupported(model, state.unsupported)
    if report.custom_ops and not options.allow_custom_ops:
        raise UnsupportedOpsError(report.custom_ops)
    stage("finishing", "assigning op versions and metadata")
    for i, function in enumerate(frozen):
        sg = model.subgraphs[i]
        inputs = dict(zip(function.traced.input_names, sg.inputs))
        outputs = dict(zip(function.traced.output_names, sg.outputs))
        model.signature_defs.append(SignatureDef(function.traced.key, i, inputs, outputs))
    report.signatures = [f.traced.key for f in frozen]
    assign_versions(model)
    report.min_runtime_version = min_runtime_version(model)
    if report.min_runtime_version:
        set_metadata(model, MIN_RUNTIME_VERSION, runtime_version_bytes(report.min_runtime_version))
    record = conversion_metadata(
        loaded.tf_version, loaded.model_type, frozen[0].model_hash, options.allow_custom_ops
    )
    set_metadata(model, CONVERSION_METADATA, record)
    report.ops_final = sum(len(sg.operators) for sg in model.subgraphs)
    report.op_histogram = dict(
        Counter(model.op_name(op) for sg in model.subgraphs for op in sg.operators).most_common()
    )
    stage("done", f"converted: {report.ops_lowered} ops lowered, {report.ops_final} after passes")
    return model, report


def _surviving_unsupported(model: Model, placeholders: list) -> list[UnsupportedOp]:
    live = {id(op) for sg in model.subgraphs for op in sg.operators}
    return [info for op, info in placeholders if id(op) in live]


def save(model: Model, path: str | Path) -> int:
    """Write ``model`` to ``path`` all or nothing (temporary file, then rename); returns bytes."""
    data = write_model(model)
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(data)
