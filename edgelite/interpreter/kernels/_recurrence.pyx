"""Optimized float32 recurrences of the LSTM and RNN kernels (held equal to the numpy
references in ``_lstm_eval`` and ``rnn``).

The caller has already computed every step's input contribution (W x, aux input, and the
biases where they come first) with one GEMM into ``pre``. What is left is sequential in
time: per step the recurrent mat-vec and the element-wise gate work. Batches are
independent, so each thread takes whole batch rows and walks them through time (TFLite's
batch-major loop order).

Weights come transposed (``recurrent_t`` [n_output, rows], ``projection_t`` [n_cell,
n_output]) so each mat-vec is a sequence of AXPYs over contiguous rows. LSTM gates are
packed in slot order f, c, o, i (CIFG drops i): ``pre`` and ``recurrent_t`` have G * n_cell
gate columns, ``bias`` and ``norm`` have G rows, ``peephole`` has rows f, o, i.
"""

from cython.parallel cimport prange
from libc.math cimport signbit, sqrtf

ctypedef float float32_t

# ActivationFunctionType values (schema) for the cell gate and the output.
cdef enum:
    ACT_RELU = 1
    ACT_RELU_N1_TO_1 = 2
    ACT_RELU6 = 3
    ACT_TANH = 4
    ACT_SIGN_BIT = 5


cdef extern from *:
    """
    #include <string.h>
    /* expf without the libm call (about 1.4x faster here, all in float): x = n ln2 + r
       with n rounded to nearest (the 1.5 * 2^23 trick), e^r by its degree-6 Taylor
       polynomial (|r| <= ln2 / 2: relative error < 3e-7), 2^n built in the exponent
       bits. x is clamped to [-87, 88] so 2^n stays a normal float; NaN returns NaN
       (before the float -> int conversion, which C leaves undefined for NaN). */
    static inline float edgelite_recurrence_exp(float x) {
        if (x != x) return x;
        x = x > 88.0f ? 88.0f : x;
        x = x < -87.0f ? -87.0f : x;
        float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
        float r = x - n * 0.693145752f - n * 1.42860677e-06f;
        float p = 1.0f / 720;
        p = p * r + 1.0f / 120;
        p = p * r + 1.0f / 24;
        p = p * r + 1.0f / 6;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        int bits = ((int)n + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        return p * scale;
    }
    """
    float _exp "edgelite_recurrence_exp"(float x) noexcept nogil


cdef void _sigmoid_inplace(float32_t* v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        v[j] = <float32_t>1 / (<float32_t>1 + _exp(-v[j]))


cdef void _act_inplace(float32_t* v, Py_ssize_t n, int kind) noexcept nogil:
    # The fused activation over a row; tanh as 1 - 2 / (e^2x + 1) (absolute error < 1e-7).
    cdef Py_ssize_t j
    if kind == ACT_TANH:
        for j in range(n):
            v[j] = <float32_t>1 - <float32_t>2 / (_exp(<float32_t>2 * v[j]) + <float32_t>1)
    elif kind == ACT_RELU:
        for j in range(n):
            v[j] = v[j] if v[j] > 0 else 0
    elif kind == ACT_RELU6:
        for j in range(n):
            v[j] = 0 if v[j] < 0 else (6 if v[j] > 6 else v[j])
    elif kind == ACT_RELU_N1_TO_1:
        for j in range(n):
            v[j] = -1 if v[j] < -1 else (1 if v[j] > 1 else v[j])
    elif kind == ACT_SIGN_BIT:
        for j in range(n):
            v[j] = 1 if signbit(v[j]) else 0


cdef inline float32_t _clip(float32_t x, float32_t limit) noexcept nogil:
    # limit 0 means no clipping (TFLite's cell_clip / proj_clip convention).
    if limit <= 0:
        return x
    return -limit if x < -limit else (limit if x > limit else x)


cdef inline void _axpy(float32_t* y, const float32_t* x, float32_t a,
                       Py_ssize_t n) noexcept nogil:
    # y += a * x: independent lanes, so the compiler vectorizes it without reassociating
    # sums (the mat-vecs below are written as a sequence of these over transposed weights).
    cdef Py_ssize_t i
    for i in range(n):
        y[i] += a * x[i]


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
    Py_ssize_t n_cell, n_output, n_gates, steps
    bint cifg, peephole, layer_norm, projection, projection_bias, forward
    int activation
    float32_t cell_clip, proj_clip


cdef void _update_cell(Config* cfg, float32_t* g, float32_t* cb, float32_t* hb,
                       float32_t* hid, const float32_t[:, ::1] peephole,
                       const float32_t[:, ::1] norm, const float32_t[:, ::1] bias,
                       const float32_t[:, ::1] projection_t,
                       const float32_t[::1] proj_bias) noexcept nogil:
    # One batch row of one step, from the gates' W x + R h (+ bias) sums in g: peepholes,
    # layer norm, activations, the cell update, the output and projection into hb.
    cdef Py_ssize_t n = cfg.n_cell, j, k
    cdef float32_t f, i
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
    _sigmoid_inplace(g, n)
    if not cfg.cifg:
        _sigmoid_inplace(g + 3 * n, n)
    _act_inplace(g + n, n, cfg.activation)
    for j in range(n):
        f = g[j]
        i = 1 - f if cfg.cifg else g[3 * n + j]
        cb[j] = _clip(f * cb[j] + i * g[n + j], cfg.cell_clip)
    if cfg.peephole:
        for j in range(n):
            g[2 * n + j] += peephole[1, j] * cb[j]
    if cfg.layer_norm:
        _layer_norm(g + 2 * n, &norm[2, 0], &bias[2, 0], n)
    _sigmoid_inplace(g + 2 * n, n)
    for j in range(n):
        hid[j] = cb[j]
    _act_inplace(hid, n, cfg.activation)
    for j in range(n):
        hid[j] *= g[2 * n + j]
    if cfg.projection:
        for k in range(cfg.n_output):
            hb[k] = proj_bias[k] if cfg.projection_bias else 0
        for j in range(n):
            _axpy(hb, &projection_t[j, 0], hid[j], cfg.n_output)
        for k in range(cfg.n_output):
            hb[k] = _clip(hb[k], cfg.proj_clip)
    else:
        for k in range(cfg.n_output):
            hb[k] = hid[k]


cdef void _run_batch(Py_ssize_t b, Config cfg, const float32_t[:, :, :] pre,
                     const float32_t[:, ::1] recurrent_t, const float32_t[:, ::1] peephole,
                     const float32_t[:, ::1] norm, const float32_t[:, ::1] bias,
                     const float32_t[:, ::1] projection_t, const float32_t[::1] proj_bias,
                     float32_t[:, ::1] h, float32_t[:, ::1] c, float32_t[:, :, :] out,
                     float32_t[:, ::1] gates, float32_t[:, ::1] hidden) noexcept nogil:
    cdef Py_ssize_t rows = cfg.n_gates * cfg.n_cell, s, t, r, k
    cdef float32_t* g = &gates[b, 0]
    cdef float32_t* hb = &h[b, 0]
    for s in range(cfg.steps):
        t = s if cfg.forward else cfg.steps - 1 - s
        for r in range(rows):
            g[r] = pre[t, b, r]
        for k in range(cfg.n_output):
            _axpy(g, &recurrent_t[k, 0], hb[k], rows)
        _update_cell(&cfg, g, &c[b, 0], hb, &hidden[b, 0], peephole, norm, bias,
                     projection_t, proj_bias)
        for k in range(cfg.n_output):
            out[t, b, k] = hb[k]


def lstm_sequence(const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent_t,
                  const float32_t[:, ::1] peephole, const float32_t[:, ::1] norm,
                  const float32_t[:, ::1] bias, const float32_t[:, ::1] projection_t,
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
    cfg.cifg, cfg.peephole, cfg.layer_norm = cifg, peephole_on, layer_norm
    cfg.projection, cfg.projection_bias = projection_on, projection_bias_on
    cfg.forward, cfg.activation = forward, activation
    cfg.cell_clip, cfg.proj_clip = cell_clip, proj_clip
    rows = cfg.n_gates * cfg.n_cell
    if (pre.shape[2] != rows or recurrent_t.shape[1] != rows
            or recurrent_t.shape[0] != cfg.n_output):
        raise ValueError("pre/recurrent_t do not match the gate count and state sizes")
    if h.shape[0] != batch or c.shape[0] != batch or out.shape[1] != batch:
        raise ValueError("state or output batch does not match pre")
    if out.shape[0] != cfg.steps or out.shape[2] < cfg.n_output:
        raise ValueError("output does not hold every step's n_output values")
    _check_cell_weights(&cfg, peephole, norm, bias, projection_t, projection_bias)
    if batch == 0 or cfg.steps == 0:
        return
    gates_view = _scratch(batch, rows)
    hidden_view = _scratch(batch, cfg.n_cell)
    for b in prange(batch, nogil=True, num_threads=max(1, min(num_threads, batch)),
                    schedule="static"):
        _run_batch(b, cfg, pre, recurrent_t, peephole, norm, bias, projection_t,
                   projection_bias, h, c, out, gates_view, hidden_view)


def _scratch(Py_ssize_t rows, Py_ssize_t cols):
    import numpy as np
    return np.empty((rows, max(cols, 1)), np.float32)


def lstm_update(float32_t[:, ::1] gates, const float32_t[:, ::1] peephole,
                const float32_t[:, ::1] norm, const float32_t[:, ::1] bias,
                const float32_t[:, ::1] projection_t, const float32_t[::1] projection_bias,
                float32_t[:, ::1] h, float32_t[:, ::1] c, bint cifg, bint peephole_on,
                bint layer_norm, bint projection_on, bint projection_bias_on, int activation,
                float cell_clip, float proj_clip):
    """One step for every batch row from ``gates`` [batch, G * n_cell] = pre + R h (the
    caller's GEMM); updates ``h`` and ``c`` in place. ``gates`` is used as scratch."""
    cdef Config cfg
    cdef Py_ssize_t batch = gates.shape[0], b
    cdef float32_t[:, ::1] hidden
    cfg.n_cell, cfg.n_output = c.shape[1], h.shape[1]
    cfg.n_gates = 3 if cifg else 4
    cfg.cifg, cfg.peephole, cfg.layer_norm = cifg, peephole_on, layer_norm
    cfg.projection, cfg.projection_bias = projection_on, projection_bias_on
    cfg.activation, cfg.cell_clip, cfg.proj_clip = activation, cell_clip, proj_clip
    if gates.shape[1] != cfg.n_gates * cfg.n_cell or h.shape[0] != batch or c.shape[0] != batch:
        raise ValueError("gates must be [batch, G * n_cell] for the given state")
    _check_cell_weights(&cfg, peephole, norm, bias, projection_t, projection_bias)
    hidden = _scratch(batch, cfg.n_cell)
    with nogil:
        for b in range(batch):
            _update_cell(&cfg, &gates[b, 0], &c[b, 0], &h[b, 0], &hidden[b, 0], peephole,
                         norm, bias, projection_t, projection_bias)


cdef int _check_cell_weights(Config* cfg, const float32_t[:, ::1] peephole,
                             const float32_t[:, ::1] norm, const float32_t[:, ::1] bias,
                             const float32_t[:, ::1] projection_t,
                             const float32_t[::1] projection_bias) except -1:
    if cfg.peephole and (peephole.shape[0] < (2 if cfg.cifg else 3)
                         or peephole.shape[1] != cfg.n_cell):
        raise ValueError("peephole weights must be [3, n_cell] (rows f, o, i)")
    if cfg.layer_norm and (norm.shape[0] != cfg.n_gates or norm.shape[1] != cfg.n_cell
                           or bias.shape[0] != cfg.n_gates or bias.shape[1] != cfg.n_cell):
        raise ValueError("layer norm coefficients and biases must be [G, n_cell]")
    if cfg.projection and (projection_t.shape[0] != cfg.n_cell
                           or projection_t.shape[1] != cfg.n_output):
        raise ValueError("projection_t must be [n_cell, n_output]")
    if cfg.projection_bias and projection_bias.shape[0] != cfg.n_output:
        raise ValueError("projection bias must have n_output values")
    if not cfg.projection and cfg.n_output != cfg.n_cell:
        raise ValueError("without projection n_output must equal n_cell")
    return 0


cdef void _rnn_batch(Py_ssize_t b, Py_ssize_t steps, bint forward, int activation,
                     const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent_t,
                     float32_t[:, ::1] h, float32_t[:, :, :] out,
                     float32_t[:, ::1] scratch) noexcept nogil:
    cdef Py_ssize_t units = h.shape[1], s, t, j, k
    cdef float32_t* hb = &h[b, 0]
    cdef float32_t* nxt = &scratch[b, 0]
    for s in range(steps):
        t = s if forward else steps - 1 - s
        for j in range(units):
            nxt[j] = pre[t, b, j]
        for k in range(units):
            _axpy(nxt, &recurrent_t[k, 0], hb[k], units)
        _act_inplace(nxt, units, activation)
        for j in range(units):
            hb[j] = nxt[j]
            out[t, b, j] = hb[j]


def rnn_sequence(const float32_t[:, :, :] pre, const float32_t[:, ::1] recurrent_t,
                 float32_t[:, ::1] h, float32_t[:, :, :] out, int activation,
                 bint forward=True, int num_threads=1):
    """h = act(pre[t] + R h) for every step t; ``out`` [time, batch, units] gets each h.

    ``recurrent_t`` is R transposed ([units, units], C-contiguous).

    ``pre`` [time, batch, units] holds bias + W x; ``h`` [batch, units] is the state,
    updated in place. Strided (batch-major) views are fine for ``pre`` and ``out``.
    """
    cdef Py_ssize_t steps = pre.shape[0], batch = pre.shape[1], units = h.shape[1], b
    cdef float32_t[:, ::1] scratch
    if pre.shape[2] != units or recurrent_t.shape[0] != units or recurrent_t.shape[1] != units:
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
        _rnn_batch(b, steps, forward, activation, pre, recurrent_t, h, out, scratch)
