import numpy as np

def binary(
    op: int, pattern: int, a: np.ndarray, b: np.ndarray, out: np.ndarray, lo: float, hi: float
) -> None: ...
