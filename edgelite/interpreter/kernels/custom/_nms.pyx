"""Optimized greedy non-max suppression for TFLite_Detection_PostProcess (held equal, index
for index, to ``detection_postprocess.nms``).

TFLite walks the candidates in decreasing score order, keeps one and deactivates every later
candidate overlapping it by more than the threshold. Equivalently, a candidate is kept when
its IoU with each box kept so far is at most the threshold: this loop checks exactly those
pairs, with the IoU computed in float32 in TFLite's operation order.
"""

ctypedef float float32_t


cdef inline float32_t _max(float32_t a, float32_t b) noexcept nogil:
    # std::max<float>(a, b): a unless a < b.
    return b if a < b else a


cdef inline float32_t _min(float32_t a, float32_t b) noexcept nogil:
    # std::min<float>(a, b): a unless b < a.
    return b if b < a else a


cdef inline float32_t _iou(const float32_t[:, ::1] boxes, Py_ssize_t i,
                           Py_ssize_t j) noexcept nogil:
    # TFLite's ComputeIntersectionOverUnion; box i is the one already kept.
    cdef float32_t area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    cdef float32_t area_j = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
    cdef float32_t height, width, inter
    if area_i <= 0 or area_j <= 0:
        return 0
    height = _min(boxes[i, 2], boxes[j, 2]) - _max(boxes[i, 0], boxes[j, 0])
    width = _min(boxes[i, 3], boxes[j, 3]) - _max(boxes[i, 1], boxes[j, 1])
    inter = _max(height, 0) * _max(width, 0)
    return inter / (area_i + area_j - inter)


def greedy_nms(const float32_t[:, ::1] boxes, const long long[::1] order,
               float iou_threshold, Py_ssize_t limit, long long[::1] selected):
    """Keep candidates of ``order`` (box indices, best score first) whose IoU with every
    box kept before is <= ``iou_threshold``, at most ``limit`` of them, into ``selected``;
    returns how many were kept."""
    cdef Py_ssize_t count = 0, c, s, box
    cdef bint keep
    if boxes.shape[1] != 4:
        raise ValueError("boxes must be [N, 4] (ymin, xmin, ymax, xmax)")
    if selected.shape[0] < min(limit, order.shape[0]):
        raise ValueError("selected is too short for the limit")
    for c in range(order.shape[0]):
        if order[c] < 0 or order[c] >= boxes.shape[0]:
            raise ValueError(f"candidate {order[c]} is not a box index")
    with nogil:
        for c in range(order.shape[0]):
            if count >= limit:
                break
            box = order[c]
            keep = True
            for s in range(count):
                if _iou(boxes, selected[s], box) > iou_threshold:
                    keep = False
                    break
            if keep:
                selected[count] = box
                count += 1
    return count
