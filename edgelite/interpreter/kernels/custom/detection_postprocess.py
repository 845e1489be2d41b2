"""TFLite_Detection_PostProcess: SSD box decoding and non-max suppression.

The custom op TFLite ships built in (kernels/detection_postprocess.cc). Inputs: box
encodings [1, boxes, >= 4] (y, x, h, w relative to the anchors), class scores
[1, boxes, classes (+1 background)], anchors [boxes, 4] (y, x, h, w). Outputs, all
float32: boxes [1, n, 4] (ymin, xmin, ymax, xmax), classes [1, n], scores [1, n] and the
detection count [1], with n = max_detections * max_classes_per_detection.

Options (flexbuffer map): max_detections, max_classes_per_detection, detections_per_class
(default 100), use_regular_nms (default false), nms_score_threshold, nms_iou_threshold,
num_classes, y_scale, x_scale, h_scale, w_scale.

Fast NMS keeps each box's top classes and suppresses on its best score; regular NMS runs
per class and keeps the best max_detections over all classes. uint8 encodings, anchors and
scores are dequantized first (the op computes in float). Entries past the detection count
are zero (TFLite's fast path leaves them unwritten).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flatbuffers import flexbuffers

from ..base import KernelSpec, Node, Prepared, PrepareError, TensorInfo

try:
    from . import _nms
except ImportError:  # extensions not built: invoke_opt falls back to the reference
    _nms = None  # type: ignore[assignment]

OP = "TFLite_Detection_PostProcess"


@dataclass(frozen=True)
class DetectionData:
    max_detections: int
    max_classes: int  # per detection (fast NMS)
    per_class: int  # detections per class (regular NMS)
    regular: bool
    score_threshold: np.float32
    iou_threshold: np.float32
    num_classes: int
    scales: tuple[float, float, float, float]  # y, x, h, w
    quantization: tuple[tuple[float, int] | None, ...]  # boxes, scores, anchors


def _options(blob: bytes | None) -> dict:
    if not blob:
        raise PrepareError(f"{OP} needs its options (a flexbuffer map) in custom_options")
    try:
        values = flexbuffers.Loads(bytes(blob))
    except Exception as error:  # the flexbuffers module raises plain Exceptions
        raise PrepareError(f"{OP} custom_options are not a flexbuffer map: {error}") from None
    if not isinstance(values, dict):
        raise PrepareError(f"{OP} custom_options must be a flexbuffer map")
    return values


def _dequantization(info: TensorInfo, what: str) -> tuple[float, int] | None:
    if info.dtype == np.float32:
        return None
    if info.dtype != np.uint8:
        raise PrepareError(f"{what} {info.name!r} is {info.dtype.name}; expected float32 or uint8")
    return (info.scale, info.zero_point)


def _prepare(node: Node) -> Prepared:
    if len(node.inputs) != 3 or len(node.outputs) != 4:
        raise PrepareError(f"{OP} expects 3 inputs and 4 outputs")
    o = _options(node.custom_options)
    # Missing keys read as 0 (flexbuffers' null), except the two with documented defaults.
    data = DetectionData(
        max_detections=int(o.get("max_detections", 0)),
        max_classes=int(o.get("max_classes_per_detection", 0)),
        per_class=int(o.get("detections_per_class", 100)),
        regular=bool(o.get("use_regular_nms", False)),
        score_threshold=np.float32(o.get("nms_score_threshold", 0.0)),
        iou_threshold=np.float32(o.get("nms_iou_threshold", 0.0)),
        num_classes=int(o.get("num_classes", 0)),
        scales=(
            float(o.get("y_scale", 0.0)),
            float(o.get("x_scale", 0.0)),
            float(o.get("h_scale", 0.0)),
            float(o.get("w_scale", 0.0)),
        ),
        quantization=(),
    )
    boxes, scores, anchors = node.input(0), node.input(1), node.input(2)
    if len(boxes.shape) != 3 or len(scores.shape) != 3 or len(anchors.shape) != 2:
        raise PrepareError("box encodings and scores must be 3-D, anchors 2-D")
    if boxes.shape[0] != 1 or scores.shape[0] != 1:
        raise PrepareError(f"{OP} supports batch 1 only (as TFLite)")
    count = boxes.shape[1]
    if boxes.shape[2] < 4 or scores.shape[1] != count or anchors.shape != (count, 4):
        raise PrepareError(
            f"boxes {list(boxes.shape)}, scores {list(scores.shape)} and anchors "
            f"{list(anchors.shape)} disagree (need [1, N, >=4], [1, N, C], [N, 4])"
        )
    if data.num_classes <= 0 or scores.shape[2] - data.num_classes not in (0, 1):
        raise PrepareError(
            f"num_classes {data.num_classes} does not fit scores {list(scores.shape)}"
        )
    if min(data.max_detections, data.max_classes, data.per_class) < 0:
        raise PrepareError("max_detections, max_classes_per_detection, detections_per_class < 0")
    if not 0 < data.iou_threshold <= 1:
        raise PrepareError(f"nms_iou_threshold {data.iou_threshold} must be in (0, 1]")
    if data.regular and min(data.per_class, data.max_detections) <= 0:
        raise PrepareError("regular NMS needs detections_per_class > 0 and max_detections > 0")
    if not data.regular and data.max_classes <= 0:
        raise PrepareError("fast NMS needs max_classes_per_detection > 0")
    quant = (
        _dequantization(boxes, "box encodings"),
        _dequantization(scores, "scores"),
        _dequantization(anchors, "anchors"),
    )
    if (quant[0] is None) != (quant[2] is None):
        raise PrepareError("box encodings and anchors must both be float32 or both uint8")
    for out in node.outputs:
        if out.dtype != np.float32:
            raise PrepareError(f"output {out.name!r} must be float32")
    data = DetectionData(**{**data.__dict__, "quantization": quant})
    n = data.max_detections * data.max_classes
    return Prepared([(1, n, 4), (1, n), (1, n), (1,)], data)


def _float(array: np.ndarray, quant: tuple[float, int] | None) -> np.ndarray:
    if quant is None:
        return array
    return (array.astype(np.float32) - np.float32(quant[1])) * np.float32(quant[0])


def decode_boxes(encodings: np.ndarray, anchors: np.ndarray, scales) -> np.ndarray:
    """Centre-size encodings -> corners [N, 4] (ymin, xmin, ymax, xmax), as TFLite: the
    centre and half sizes in double, rounded to float, then subtracted in float."""
    e = encodings[:, :4].astype(np.float64)
    a = anchors.astype(np.float64)
    sy, sx, sh, sw = scales
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        yc = (e[:, 0] / sy * a[:, 2] + a[:, 0]).astype(np.float32)
        xc = (e[:, 1] / sx * a[:, 3] + a[:, 1]).astype(np.float32)
        half_h = (0.5 * np.exp(e[:, 2] / sh) * a[:, 2]).astype(np.float32)
        half_w = (0.5 * np.exp(e[:, 3] / sw) * a[:, 3]).astype(np.float32)
    return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=1)


def _iou(boxes: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
    """TFLite's ComputeIntersectionOverUnion in float32; 0 when either box is empty."""
    bi, bj = boxes[i], boxes[others]
    area_i = (bi[2] - bi[0]) * (bi[3] - bi[1])
    area_j = (bj[:, 2] - bj[:, 0]) * (bj[:, 3] - bj[:, 1])
    height = np.maximum(np.minimum(bi[2], bj[:, 2]) - np.maximum(bi[0], bj[:, 0]), np.float32(0))
    width = np.maximum(np.minimum(bi[3], bj[:, 3]) - np.maximum(bi[1], bj[:, 1]), np.float32(0))
    inter = height * width
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_i + area_j - inter)
    return np.where((area_i <= 0) | (area_j <= 0), np.float32(0), iou)


def _candidates(scores: np.ndarray, data: DetectionData) -> np.ndarray:
    """Boxes scoring at least the threshold, best first (stable: ties keep index order)."""
    kept = np.flatnonzero(scores >= data.score_threshold)
    return kept[np.argsort(-scores[kept], kind="stable")]


def nms(boxes: np.ndarray, scores: np.ndarray, data: DetectionData, limit: int) -> list[int]:
    """Greedy single-class NMS as TFLite: box indices in decreasing score order."""
    order = _candidates(scores, data)
    active = np.ones(order.size, bool)
    selected: list[int] = []
    for i in range(order.size):
        if len(selected) >= limit:
            break
        if not active[i]:
            continue
        selected.append(int(order[i]))
        rest = i + 1 + np.flatnonzero(active[i + 1 :])
        if rest.size:
            active[rest[_iou(boxes, order[i], order[rest]) > data.iou_threshold]] = False
    return selected


def nms_opt(boxes: np.ndarray, scores: np.ndarray, data: DetectionData, limit: int) -> list[int]:
    """The same selection with the pairwise IoU loop in Cython."""
    order = _candidates(scores, data).astype(np.int64)
    selected = np.empty(min(limit, order.size), np.int64)
    count = _nms.greedy_nms(boxes, order, float(data.iou_threshold), limit, selected)
    return selected[:count].tolist()


def _fast(data: DetectionData, boxes, scores, outputs, select=nms) -> None:
    classes = min(data.max_classes, data.num_classes)
    if classes == 1:
        top = np.argmax(scores, axis=1)[:, None]  # first maximum, as TFLite's ArgMaxVector
    else:
        top = np.argsort(-scores, axis=1, kind="stable")[:, :classes]
    best = np.take_along_axis(scores, top[:, :1], axis=1)[:, 0]
    chosen = select(boxes, best, data, data.max_detections)
    out_boxes, out_classes, out_scores = (outputs[k][0] for k in range(3))
    for rank, box in enumerate(chosen):
        rows = slice(rank * data.max_classes, rank * data.max_classes + classes)
        out_boxes[rows] = boxes[box]
        out_classes[rows] = top[box]
        out_scores[rows] = scores[box, top[box]]
    outputs[3][0] = len(chosen)


def _regular(data: DetectionData, boxes, scores, outputs, select=nms) -> None:
    per_class = min(data.per_class, data.max_detections)
    found_scores, found_boxes, found_classes = [], [], []
    for cls in range(data.num_classes):
        chosen = select(boxes, scores[:, cls], data, per_class)
        found_boxes += chosen
        found_classes += [cls] * len(chosen)
        found_scores.append(scores[chosen, cls])
    all_scores = np.concatenate(found_scores) if found_scores else np.zeros(0, np.float32)
    # TFLite merges the classes' lists in class order, keeping earlier ones first on ties.
    best = np.argsort(-all_scores, kind="stable")[: data.max_detections]
    count = best.size
    outputs[0][0, :count] = boxes[np.asarray(found_boxes, np.int64)[best]]
    outputs[1][0, :count] = np.asarray(found_classes, np.float32)[best]
    outputs[2][0, :count] = all_scores[best]
    outputs[3][0] = count


def invoke(data: DetectionData, inputs, outputs, select=nms) -> None:
    """Decode the boxes, check them, run the chosen NMS into zero-filled outputs."""
    q_boxes, q_scores, q_anchors = data.quantization
    encodings = _float(inputs[0][0], q_boxes)
    anchors = _float(inputs[2], q_anchors)
    boxes = decode_boxes(encodings, anchors, data.scales)
    if np.any(boxes[:, 0] > boxes[:, 2]) or np.any(boxes[:, 1] > boxes[:, 3]):
        raise RuntimeError(f"{OP}: a decoded box has ymin > ymax or xmin > xmax")
    scores = _float(inputs[1][0], q_scores)
    offset = scores.shape[1] - data.num_classes  # 1 when column 0 is the background class
    scores = np.ascontiguousarray(scores[:, offset:], np.float32)
    for out in outputs:
        out.fill(0)
    if data.regular:
        _regular(data, boxes, scores, outputs, select)
    else:
        _fast(data, boxes, scores, outputs, select)


def invoke_opt(data: DetectionData, inputs, outputs) -> None:
    """As ``invoke``, with the NMS loops in Cython."""
    invoke(data, inputs, outputs, nms_opt if _nms is not None else nms)


CUSTOM_KERNELS = {OP: KernelSpec(prepare=_prepare, invoke=invoke, invoke_opt=invoke_opt)}
