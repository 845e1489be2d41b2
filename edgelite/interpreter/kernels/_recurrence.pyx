"""Optimized float32 recurrences of the LSTM and RNN kernels (held equal to the numpy
references in ``_lstm_eval`` and ``rnn``).

The caller has already computed every step's input contribution (W x, aux input, and the
biases where they come first) with one GEMM into ``pre``. What is left is sequential in
time: per step the recurrent mat-vec and the element-wise gate work. Batches are
independent, so each thread takes whole batch rows and walks them through time (TFLite's
batch-major loop order).

LSTM gates are packed in slot order f, c, o, i (CIFG drops i): ``pre`` and ``recurrent``
have G * n_cell rows, ``bias`` and ``norm`` have G rows, ``peephole`` has rows f, o, i.
"""

from cython.parallel cimport prange
from libc.math cimport expf, signbit, sqrtf, tanhf

ctypedef float float32_t

# ActivationFunctionType values (schema) for the cell gate and the output.
cdef enum:
    ACT_RELU = 1
    ACT_RELU_N1_TO_1 = 2
    ACT_RELU6 = 3
    ACT_TANH = 4
    ACT_SIGN_BIT = 5


cdef inline float32_t _sigmoid(float32_t x) noexcept nogil:
    return 1.0 / (1.0 + expf(-x))


cdef inline float32_t _act(float32_t x, int kind) noexcept nogil:
    if kind == ACT_TANH:
        return tanhf(x)
    if kind == ACT_RELU:
        return x if x > 0 else 0
    if kind == ACT_RELU6:
        return 0 if x < 0 else (6 if x > 6 else x)
    if kind == ACT_RELU_N1_TO_1:
        return -1 if x < -1 else (1 if x > 1 else x)
    if kind == ACT_SIGN_BIT:
        return 1 if signbit(x) else 0
    return x


cdef inline float32_t _clip(float32_t x, float32_t limit) noexcept nogil:
    # limit 0 means no clipping (TFLite's cell_clip / proj_clip convention).
    if limit <= 0:
        return x
    return -limit if x < -limit else (limit if x > limit else x)


cdef inline float32_t _dot(const float32_t* a, const float32_t* b, Py_ssize_t n) noexcept nogil:
    # Four partial sums let the compiler keep several multiply-adds in flight.
    cdef float32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t k = 0
    while k + 4 <= n:
        s0 += a[k] * b[k]
        s1 += a[k + 1] * b[k + 1]
        s2 += a[k + 2] * b[k + 2]
        s3 += a[k + 3] * b[k + 3]
        k += 4
    while k < n:
        s0 += a[k] * b[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


cdef void _layer_norm(float32_t* v, const float32_t* coeff, const float32_t* bias,
                      Py_ssize_t n) noexcept nogil:
    # TFLite's MeanStddevNormalization (epsilon 1e-8), then coefficient and bias.
    cdef float32_t mean = 0, var = 0, d, inv
    cdef Py_ssize_t j
    for j in range(n):
        mean += v[j]
    mean /= n
    for j in range(n):
        d = v[j] - mean
        var += d * d
    var /= n
    inv = 1 / sqrtf(var + <float32_t>1e-8)
    for j in range(n):
        v[j] = (v[j] - mean) * inv * coeff[j] + bias[j]


cdef struct Config:
    Py_ssize_t n_cell, n_output, n_gates, steps, offset
    bint cifg, peephole, layer_norm, projection, projection_bias, forward
    int activation
    float32_t cell_clip, proj_clip


cdef void _run_batch(Py_ssize_t b, Config cfg, const float32_t[:, :, :] pre,
                     const float32_t[:, ::1] recurrent, const float32_t[:, ::1] peephole,
                     const float32_t[:, ::1] norm, const float32_t[:, ::1] bias,
                     const float32_t[:, ::1] projection, const float32_t[::1] proj_bias,
                     float32_t[:, ::1] h, float32_t[:, ::1] c, float32_t[:, :, :] out,
                     float32_t[:, ::1] gates, float32_t[:, ::1] hidden) noexcept nogil:
    cdef Py_ssize_t n = cfg.n_cell, s, t, r, j, k
    cdef float32_t* g = &gates[b, 0]
    cdef float32_t* hid = &hidden[b, 0]
    cdef float32_t* hb = &h[b, 0]
    cdef float32_t* cb = &c[b, 0]
    cdef float32_t f, i, o, v
    for s in range(cfg.steps):
        t = s if cfg.forward else cfg.steps - 1 - s
        for r in range(cfg.n_gates * n):
            g[r] = pre[t, b, r] + _dot(&recurrent[r, 0], hb, cfg.n_output)
        if cfg.peephole:
            for j in range(n):
                g[j] += peephole[0, j] * cb[j]
                if not cfg.cifg:
                    g[3 * n + j] += peephole[2, j] * cb[j]
        if cfg.layer_norm:
            _layer_norm(g, &norm[0, 0], &bias[0, 0], n)
            _layer_norm(g + n, &norm[1, 0], &bias[1, 0], n)
            if not cfg.cifg:
                _layer_norm(g + 3 * n, &norm[3, 0], &bias[3, 0], n)
        for j in range(n):
            f = _sigmoid(g[j])
            i = 1 - f if cfg.cifg else _sigmoid(g[3 * n + j])
            cb[j] = _clip(f * cb[j] + i * _act(g[n + j], cfg.activation), cfg.cell_clip)
            if cfg.peephole:
                g[2 * n + j] += peephole[1, j] * cb[j]
        if cfg.layer_norm:
            _layer_norm(g + 2 * n, &norm[2, 0], &bias[2, 0], n)
        for j in range(n):
            o = _sigmoid(g[2 * n + j])
            hid[j] = o * _act(cb[j], cfg.activation)
        for k in range(cfg.n_output):
            if cfg.projection:
                v = proj_bias[k] if cfg.projection_bias else 0
                v = _clip(v + _dot(&projection[k, 0], hid, n), cfg.proj_clip)
            else:
                v = hid[k]
            hb[k] = v
            out[t, b, cfg.offset + k] = v


def lstm_sequence(const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent,
                  const float32_t[:, ::1] peephole, const float32_t[:, ::1] norm,
                  const float32_t[:, ::1] bias, const float32_t[:, ::1] projection,
                  const float32_t[::1] projection_bias, float32_t[:, ::1] h,
                  float32_t[:, ::1] c, float32_t[:, :, :] out, bint cifg, bint peephole_on,
                  bint layer_norm, bint projection_on, bint projection_bias_on,
                  int activation, float cell_clip, float proj_clip, bint forward,
                  int num_threads=1):
    """Run the recurrence over ``pre`` [time, batch, G * n_cell] (strided views allowed).

    ``h`` [batch, n_output] and ``c`` [batch, n_cell] are the state, updated in place;
    ``out`` [time, batch, >= n_output] receives h of every step in its first n_output
    channels. Absent optional weights are passed as [1, 1] / [1] placeholders.
    """
    cdef Config cfg
    cdef Py_ssize_t batch = pre.shape[1], b, rows
    cdef float32_t[:, ::1] gates_view, hidden_view
    cfg.n_cell = c.shape[1]
    cfg.n_output = h.shape[1]
    cfg.n_gates = 3 if cifg else 4
    cfg.steps = pre.shape[0]
    cfg.offset = 0
    cfg.cifg, cfg.peephole, cfg.layer_norm = cifg, peephole_on, layer_norm
    cfg.projection, cfg.projection_bias = projection_on, projection_bias_on
    cfg.forward, cfg.activation = forward, activation
    cfg.cell_clip, cfg.proj_clip = cell_clip, proj_clip
    rows = cfg.n_gates * cfg.n_cell
    if pre.shape[2] != rows or recurrent.shape[0] != rows or recurrent.shape[1] != cfg.n_output:
        raise ValueError("pre/recurrent do not match the gate count and state sizes")
    if h.shape[0] != batch or c.shape[0] != batch or out.shape[1] != batch:
        raise ValueError("state or output batch does not match pre")
    if out.shape[0] != cfg.steps or out.shape[2] < cfg.n_output:
        raise ValueError("output does not hold every step's n_output values")
    if peephole_on and (peephole.shape[0] < (2 if cifg else 3) or peephole.shape[1] != cfg.n_cell):
        raise ValueError("peephole weights must be [3, n_cell] (rows f, o, i)")
    if layer_norm and (norm.shape[0] != cfg.n_gates or norm.shape[1] != cfg.n_cell
                       or bias.shape[0] != cfg.n_gates or bias.shape[1] != cfg.n_cell):
        raise ValueError("layer norm coefficients and biases must be [G, n_cell]")
    if projection_on and (projection.shape[0] != cfg.n_output
                          or projection.shape[1] != cfg.n_cell):
        raise ValueError("projection weights must be [n_output, n_cell]")
    if projection_bias_on and projection_bias.shape[0] != cfg.n_output:
        raise ValueError("projection bias must have n_output values")
    if not projection_on and cfg.n_output != cfg.n_cell:
        raise ValueError("without projection n_output must equal n_cell")
    if batch == 0 or cfg.steps == 0:
        return
    gates_view = _scratch(batch, rows)
    hidden_view = _scratch(batch, cfg.n_cell)
    for b in prange(batch, nogil=True, num_threads=max(1, min(num_threads, batch)),
                    schedule="static"):
        _run_batch(b, cfg, pre, recurrent, peephole, norm, bias, projection, projection_bias,
                   h, c, out, gates_view, hidden_view)


def _scratch(Py_ssize_t rows, Py_ssize_t cols):
    import numpy as np
    return np.empty((rows, max(cols, 1)), np.float32)


cdef void _rnn_batch(Py_ssize_t b, Py_ssize_t steps, bint forward, int activation,
                     const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent,
                     float32_t[:, ::1] h, float32_t[:, :, :] out,
                     float32_t[:, ::1] scratch) noexcept nogil:
    cdef Py_ssize_t units = h.shape[1], s, t, j
    cdef float32_t* hb = &h[b, 0]
    cdef float32_t* nxt = &scratch[b, 0]
    for s in range(steps):
        t = s if forward else steps - 1 - s
        for j in range(units):
            nxt[j] = _act(pre[t, b, j] + _dot(&recurrent[j, 0], hb, units), activation)
        for j in range(units):
            hb[j] = nxt[j]
            out[t, b, j] = nxt[j]


def rnn_sequence(const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent,
                 float32_t[:, ::1] h, float32_t[:, :, :] out, int activation,
                 bint forward=True, int num_threads=1):
    """h = act(pre[t] + R h) for every step t; ``out`` [time, batch, units] gets each h.

    ``pre`` [time, batch, units] holds bias + W x; ``h`` [batch, units] is the state,
    updated in place. Strided (batch-major) views are fine for ``pre`` and ``out``.
    """
    cdef Py_ssize_t steps = pre.shape[0], batch = pre.shape[1], units = h.shape[1], b
    cdef float32_t[:, ::1] scratch
    if pre.shape[2] != units or recurrent.shape[0] != units or recurrent.shape[1] != units:
        raise ValueError("pre and recurrent weights must match the state's unit count")
    if h.shape[0] != batch or out.shape[0] != steps or out.shape[1] != batch:
        raise ValueError("state or output does not match pre's time and batch sizes")
    if out.shape[2] < units:
        raise ValueError("output rows are shorter than the unit count")
    if batch == 0 or steps == 0:
        return
    scratch = _scratch(batch, units)
    for b in prange(batch, nogil=True, num_threads=max(1, min(num_threads, batch)),
                    schedule="static"):
        _rnn_batch(b, steps, forward, activation, pre, recurrent, h, out, scratch)
