"""The metadata a converted model carries: min_runtime_version and CONVERSION_METADATA.

CONVERSION_METADATA is a small flatbuffer (``edgelite/schema/conversion_metadata.fbs``)
recording the conversion environment and options, wire-compatible with the official
converter's record so tools that read one read the other.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from ..schema.generated.conversion_layout import TABLES
from ..schema.model import Metadata, Model

MIN_RUNTIME_VERSION = "min_runtime_version"
CONVERSION_METADATA = "CONVERSION_METADATA"
API_VERSION = 2  # the TF2 converter API, as the official record states it


def _slot(table: str, field: str) -> int:
    return next(entry[4] for entry in TABLES[table] if entry[0] == field)


def conversion_metadata(
    tensorflow_version: str, model_type: int, model_hash: int, allow_custom_ops: bool
) -> bytes:
    """Serialize a ConversionMetadata record."""
    b = flatbuffers.Builder(128)
    version = b.CreateString(tensorflow_version)
    b.StartVector(4, 0, 4)
    modes = b.EndVector()
    b.StartObject(len(TABLES["ConversionOptions"]))
    b.PrependUOffsetTRelativeSlot(_slot("ConversionOptions", "model_optimization_modes"), modes, 0)
    b.PrependBoolSlot(_slot("ConversionOptions", "allow_custom_ops"), allow_custom_ops, False)
    options = b.EndObject()
    b.StartObject(len(TABLES["Environment"]))
    b.PrependUOffsetTRelativeSlot(_slot("Environment", "tensorflow_version"), version, 0)
    b.PrependUint32Slot(_slot("Environment", "api_version"), API_VERSION, 0)
    b.PrependInt32Slot(_slot("Environment", "model_type"), model_type, 0)
    b.PrependUint64Slot(_slot("Environment", "model_hash"), model_hash & (2**64 - 1), 0)
    environment = b.EndObject()
    b.StartObject(len(TABLES["ConversionMetadata"]))
    b.PrependUOffsetTRelativeSlot(_slot("ConversionMetadata", "environment"), environment, 0)
    b.PrependUOffsetTRelativeSlot(_slot("ConversionMetadata", "options"), options, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def set_metadata(model: Model, name: str, data: bytes) -> None:
    """Add (or replace) a named metadata entry."""
    buffer = model.add_buffer(np.frombuffer(data, np.uint8))
    model.metadata = [m for m in model.metadata if m.name != name]
    model.metadata.append(Metadata(name, buffer))


def runtime_version_bytes(version: str) -> bytes:
    """The official layout: the version string zero-padded to 16 bytes."""
    raw = version.encode()
    if len(raw) >= 16:
        raise ValueError(f"runtime version {version!r} does not fit in 16 bytes")
    return raw + b"\0" * (16 - len(raw))
