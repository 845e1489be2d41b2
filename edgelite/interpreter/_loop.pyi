"""Type stub of the Cython invoke loop (_loop.pyx)."""

import numpy as np

class StepFailed(Exception):
    index: int
    def __init__(self, index: int) -> None: ...

def run_steps(steps: tuple[tuple, ...]) -> None: ...
def run_steps_timed(steps: tuple[tuple, ...], elapsed_ns: np.ndarray) -> None: ...
