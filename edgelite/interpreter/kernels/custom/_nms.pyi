"""Type stub of the Cython NMS (_nms.pyx)."""

import numpy as np

def greedy_nms(
    boxes: np.ndarray, order: np.ndarray, iou_threshold: float, limit: int, selected: np.ndarray
) -> int: ...
