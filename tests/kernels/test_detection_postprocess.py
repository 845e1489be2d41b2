"""TFLite_Detection_PostProcess: the official runtime (which has the op built in) == ours.

Models are single custom ops with flexbuffer options. Scores are continuous random values
(no ties, where the official partial sort's order is unspecified) except in the uint8
cases, which use orders that are defined there (arg max, stable sorts).
"""

from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder, quant
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert

OP = "TFLite_Detection_PostProcess"


def options(**overrides) -> dict:
    opts = dict(
        max_detections=5,
        max_classes_per_detection=1,
        detections_per_class=3,
        use_regular_nms=False,
        nms_score_threshold=0.3,
        nms_iou_threshold=0.5,
        num_classes=3,
        y_scale=10.0,
        x_scale=10.0,
        h_scale=5.0,
        w_scale=5.0,
    )
    opts.update(overrides)
    return opts


def detection_model(
    opts: dict,
    boxes: int,
    background: bool = True,
    anchors=None,
    dtype=np.float32,
    qparams=None,
    classes=None,
) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(11)
    if anchors is None:
        centre = rng.uniform(0.1, 0.9, (boxes, 2))
        size = rng.uniform(0.1, 0.5, (boxes, 2))
        anchors = np.concatenate([centre, size], axis=1).astype(np.float32)
    classes = classes or opts["num_classes"] + int(background)
    mb = ModelBuilder()
    q = qparams or {}
    enc = mb.input("box_encodings", (1, boxes, 4), dtype, quantization=q.get("boxes"))
    scores = mb.input(
        "scores", (1, boxes, classes), q.get("scores_dtype", dtype), quantization=q.get("scores")
    )
    anchor = mb.const("anchors", anchors, quantization=q.get("anchors"))
    n = opts["max_detections"] * opts["max_classes_per_detection"]
    outs = [
        mb.tensor("boxes", (1, n, 4)),
        mb.tensor("classes", (1, n)),
        mb.tensor("scores_out", (1, n)),
        mb.tensor("count", (1,)),
    ]
    blob = flexbuffers.Dumps({k: v for k, v in opts.items() if v is not None})
    mb.op(OP, [enc, scores, anchor], outs, custom_options=blob)
    mb.output(*outs)
    return mb.to_bytes(), anchors


def float_inputs(boxes: int, classes: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    encodings = rng.normal(0, 1.0, (1, boxes, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (1, boxes, classes)).astype(np.float32)
    return [encodings, scores]


def compare(model: bytes, inputs, opts: dict) -> list[np.ndarray]:
    """Every output of ours (reference and optimized) == the oracle's, where it writes it."""
    want = run_litert(model, inputs)
    for optimized in (False, True):
        ours = run_kernels(model, inputs, optimized=optimized)
        _compare_written(ours, want, opts, "optimized" if optimized else "reference")
    return want


def _compare_written(ours, want, opts: dict, kind: str) -> None:
    count = int(want[3][0])
    assert_matches(ours[3], want[3], f"{kind} num_detections")
    per = opts["max_classes_per_detection"]
    if not opts.get("use_regular_nms"):
        # The fast path writes min(max_classes, num_classes) entries per detection and
        # leaves the rest of the buffers alone; ours are zero there.
        columns = min(per, opts["num_classes"])
        mask = np.zeros(opts["max_detections"] * per, bool)
        for k in range(count):
            mask[k * per : k * per + columns] = True
        for out in ours[:3]:
            assert not np.any(out[0][~mask]), f"{kind}: unwritten entries must be zero"
    else:
        mask = np.ones(opts["max_detections"] * per, bool)
    assert_matches(ours[0][0][mask], want[0][0][mask], f"{kind} boxes")
    assert_matches(ours[1][0][mask], want[1][0][mask], f"{kind} classes")
    assert_matches(ours[2][0][mask], want[2][0][mask], f"{kind} scores")


CASES = {
    "fast": {},
    "fast_two_classes": {"max_classes_per_detection": 2},
    "fast_more_classes_than_exist": {"max_classes_per_detection": 5},
    "fast_low_threshold": {"nms_score_threshold": 0.0, "max_detections": 12},
    "fast_tight_iou": {"nms_iou_threshold": 0.1, "max_detections": 10},
    "regular": {"use_regular_nms": True},
    "regular_many": {"use_regular_nms": True, "detections_per_class": 10, "max_detections": 8},
    "regular_per_class_over_max": {
        "use_regular_nms": True,
        "detections_per_class": 20,
        "max_detections": 4,
    },
    "regular_default_per_class": {"use_regular_nms": True, "detections_per_class": None},
    "regular_high_threshold": {"use_regular_nms": True, "nms_score_threshold": 0.9},
    "iou_one": {"nms_iou_threshold": 1.0, "max_detections": 8},
    "nothing_passes": {"nms_score_threshold": 1.5},
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("background", [True, False])
def test_matches_oracle(name, background):
    opts = options(**CASES[name])
    model, _ = detection_model(opts, boxes=30, background=background)
    classes = opts["num_classes"] + int(background)
    compare(model, float_inputs(30, classes), opts)


@pytest.mark.parametrize("regular", [False, True])
def test_ssd_sized(regular):
    """SSD MobileNet's shape: 1917 anchors, 90 classes plus background, 100 detections."""
    opts = options(
        num_classes=90,
        use_regular_nms=regular,
        max_detections=100,
        detections_per_class=100,
        nms_iou_threshold=0.6,
    )
    model, _ = detection_model(opts, boxes=1917)
    encodings, scores = float_inputs(1917, 91, seed=8)
    compare(model, [encodings, scores**8], opts)  # mostly low scores, like a real detector


@pytest.mark.parametrize("regular", [False, True])
def test_uint8_inputs_match_oracle(regular):
    opts = options(use_regular_nms=regular, max_detections=6)
    rng = np.random.default_rng(5)
    anchors = rng.integers(40, 200, (25, 4)).astype(np.uint8)
    q = {"boxes": quant(0.05, 128), "scores": quant(1 / 255, 0), "anchors": quant(0.004, 0)}
    model, _ = detection_model(opts, boxes=25, anchors=anchors, dtype=np.uint8, qparams=q)
    encodings = rng.integers(90, 166, (1, 25, 4)).astype(np.uint8)
    # Distinct scores per box keep the order defined (uint8 scores tie easily).
    scores = np.stack([rng.permutation(256)[:4] for _ in range(25)])[None].astype(np.uint8)
    compare(model, [encodings, scores], opts)


def test_decoded_boxes_follow_the_anchors():
    """Zero encodings decode to the anchors themselves (corner form)."""
    opts = options(nms_score_threshold=0.0, max_detections=4, nms_iou_threshold=1.0)
    model, anchors = detection_model(opts, boxes=4)
    scores = np.array(
        [[[0, 0.9, 0, 0], [0, 0.8, 0, 0], [0, 0.7, 0, 0], [0, 0.6, 0, 0]]], np.float32
    )
    boxes, classes, got_scores, count = run_kernels(
        model, [np.zeros((1, 4, 4), np.float32), scores]
    )
    y, x, h, w = anchors.T
    corners = np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=1)
    np.testing.assert_allclose(boxes[0], corners, rtol=1e-6)
    assert count[0] == 4 and np.all(classes == 0)
    np.testing.assert_allclose(got_scores[0], [0.9, 0.8, 0.7, 0.6])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nms_iou_threshold": 0.0}, "nms_iou_threshold"),
        ({"max_classes_per_detection": 0}, "fast NMS needs"),
        ({"num_classes": 7}, "num_classes 7"),
    ],
)
def test_rejects_bad_options(overrides, message):
    model, _ = detection_model(options(**overrides), boxes=6, classes=4)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, float_inputs(6, 4))


def test_invalid_boxes_fail_at_invoke():
    """Negative anchor heights decode to ymin > ymax: TFLite fails the invoke, so do we."""
    anchors = np.array([[0.5, 0.5, -0.2, 0.2]] * 3, np.float32)
    model, _ = detection_model(options(), boxes=3, anchors=anchors)
    with pytest.raises(RuntimeError, match="ymin > ymax"):
        run_kernels(model, float_inputs(3, 4))
