"""Render an ``inspect_model`` report as readable text."""

from __future__ import annotations

from typing import Any

from .textfmt import human_bytes, section, table


def format_report(report: dict[str, Any], show_ops: bool = True) -> str:
    out = [
        f"{report['source']}: {human_bytes(report['file_bytes'])}, "
        f"schema v{report['schema_version']}"
    ]
    if report["description"]:
        out.append(f"description: {report['description']}")
    q = report["quantization"]
    out.append(f"quantization: {q['kind']}" + _weights_layout(q))
    for sg in report["subgraphs"]:
        out.append(
            section(
                f"subgraph {sg['index']} {sg['name']!r}: {len(sg['operators'])} ops, "
                f"{sg['tensors']} tensors"
            )
        )
        for label in ("inputs", "outputs"):
            out.append(f"{label}:")
            out.append(_tensor_table(sg[label]))
        if show_ops:
            out.append("operators:")
            out.extend(_op_line(op) for op in sg["operators"])
    out.append(section("op histogram (subgraph 0)"))
    hist = sorted(report["op_histogram"].items(), key=lambda kv: (-kv[1], kv[0]))
    out.append(table(hist, ["op", "count"], right=[1]))
    out.extend(_signatures(report["signatures"]))
    out.extend(_metadata(report["metadata"]))
    out.extend(_sizes(report["size"]))
    for key, title in (("sparse_tensors", "sparse tensors"), ("variables", "variable tensors")):
        if report[key]:
            out.append(section(title))
            out.append(
                table(
                    [
                        [t["subgraph"], t["index"], t["name"], t["dtype"], t["shape"]]
                        for t in report[key]
                    ],
                    ["sg", "T#", "name", "dtype", "shape"],
                )
            )
    if report["custom_ops"]:
        out.append(section("custom ops"))
        out.append(", ".join(report["custom_ops"]))
    return "\n".join(out)


def _weights_layout(q: dict[str, Any]) -> str:
    if not (q["weights_per_channel"] or q["weights_per_tensor"]):
        return ""
    return (
        f" ({q['weights_per_channel']} per-channel, {q['weights_per_tensor']} per-tensor "
        "quantized constants)"
    )


def _quant_text(quant: dict[str, Any] | None) -> str:
    if quant is None:
        return "-"
    if "per_channel" in quant:
        low, high = quant["scale_range"]
        return (
            f"per-channel x{quant['per_channel']} axis {quant['axis']} scale {low:.3g}..{high:.3g}"
        )
    return f"scale {quant['scale']:.6g} zp {quant['zero_point']}"


def _tensor_table(tensors: list[dict[str, Any]]) -> str:
    if not tensors:
        return "  (none)"
    rows = [
        [
            f"T#{t['index']}",
            t["name"],
            t["shape"],
            t["shape_signature"],
            t["dtype"],
            _quant_text(t["quantization"]),
        ]
        for t in tensors
    ]
    return table(rows, ["tensor", "name", "shape", "signature", "dtype", "quantization"])


def _op_line(op: dict[str, Any]) -> str:
    ins = ", ".join("-" if i < 0 else f"T#{i} {name}" for i, name in op["inputs"])
    outs = ", ".join(f"T#{i} {name}" for i, name in op["outputs"])
    tail = f" {op['options']}" if op["options"] else ""
    return f"  #{op['index']} {op['op']} (v{op['version']}) [{ins}] -> [{outs}]{tail}"


def _signatures(signatures: list[dict[str, Any]]) -> list[str]:
    if not signatures:
        return []
    out = [section("signatures")]
    for sig in signatures:
        ins = ", ".join(
            f"{n}: T#{t['index']} {t['dtype']}{t['shape_signature']}"
            for n, t in sig["inputs"].items()
        )
        outs = ", ".join(
            f"{n}: T#{t['index']} {t['dtype']}{t['shape_signature']}"
            for n, t in sig["outputs"].items()
        )
        out.append(f"{sig['key']!r} (subgraph {sig['subgraph']}): ({ins}) -> ({outs})")
    return out


def _metadata(entries: list[dict[str, Any]]) -> list[str]:
    if not entries:
        return []
    out = [section("metadata")]
    for m in entries:
        value = m.get("value", m.get("error", ""))
        out.append(f"{m['name']} ({human_bytes(m['bytes'])}): {value}")
    return out


def _sizes(size: dict[str, Any]) -> list[str]:
    out = [section(f"weights: {human_bytes(size['weights_bytes'])}")]
    out.append(
        table(
            [[d, human_bytes(b)] for d, b in size["weights_by_dtype"].items()],
            ["dtype", "bytes"],
            right=[1],
        )
    )
    if size["largest_tensors"]:
        out.append("largest constants:")
        out.append(
            table(
                [
                    [f"T#{t['index']}", t["name"], t["dtype"], t["shape"], human_bytes(t["bytes"])]
                    for t in size["largest_tensors"]
                ],
                ["tensor", "name", "dtype", "shape", "bytes"],
                right=[4],
            )
        )
    return out
