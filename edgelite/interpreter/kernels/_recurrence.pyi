"""Type stub of the Cython recurrences (_recurrence.pyx)."""

import numpy as np

def lstm_sequence(
    pre: np.ndarray,
    recurrent_t: np.ndarray,
    peephole: np.ndarray,
    norm: np.ndarray,
    bias: np.ndarray,
    projection_t: np.ndarray,
    projection_bias: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    out: np.ndarray,
    cifg: bool,
    peephole_on: bool,
    layer_norm: bool,
    projection_on: bool,
    projection_bias_on: bool,
    activation: int,
    cell_clip: float,
    proj_clip: float,
    forward: bool,
    num_threads: int = 1,
) -> None: ...
def lstm_update(
    gates: np.ndarray,
    peephole: np.ndarray,
    norm: np.ndarray,
    bias: np.ndarray,
    projection_t: np.ndarray,
    projection_bias: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    cifg: bool,
    peephole_on: bool,
    layer_norm: bool,
    projection_on: bool,
    projection_bias_on: bool,
    activation: int,
    cell_clip: float,
    proj_clip: float,
) -> None: ...
def rnn_sequence(
    pre: np.ndarray,
    recurrent_t: np.ndarray,
    h: np.ndarray,
    out: np.ndarray,
    activation: int,
    forward: bool = True,
    num_threads: int = 1,
) -> None: ...
