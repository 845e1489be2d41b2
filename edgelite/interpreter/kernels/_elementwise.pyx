"""Single-pass float32 kernels for activations, PRELU and SOFTMAX / LOG_SOFTMAX.

numpy needs several passes (and for GELU, ELU and PRELU a temporary) for these;
here each is one loop over the data. The loops are written so that the compiler
vectorizes them under the project's strict IEEE flags: no libm calls (``_exp`` is
our own range-reduced polynomial), selects instead of branches, float-only
constants kept local (a module-level float could alias the output), and reductions
spread over ``LANES`` independent accumulators. Work is split over ``num_threads``
OpenMP threads in contiguous chunks (rows for softmax) once a tensor is big enough.

Accuracy: ``_exp`` is within 2e-7 relative of exp for |x| < 87 and saturates
beyond (to ~1e-38 / ~1.7e38 rather than 0 / inf); ``_erf`` is within 1.5e-7
absolute. Both pass NaN through. activations.py and softmax.py hold the numpy
reference versions the tests compare with.
"""

from cython.parallel cimport prange
from libc.math cimport logf

# Activation kinds understood by unary_f32, for C and (below) for Python callers.
cdef enum Kind:
    K_LOGISTIC = 0
    K_TANH
    K_ELU
    K_GELU
    K_GELU_TANH
    K_HARD_SWISH
    K_LEAKY_RELU

LOGISTIC = K_LOGISTIC
TANH = K_TANH
ELU = K_ELU
GELU = K_GELU
GELU_TANH = K_GELU_TANH
HARD_SWISH = K_HARD_SWISH
LEAKY_RELU = K_LEAKY_RELU

# Below this many elements a second thread costs more than it saves.
cdef Py_ssize_t PARALLEL_MIN = 1 << 15
# Independent partial sums / maxima per row, so those loops vectorize too.
cdef enum:
    LANES = 8


cdef union FloatBits:
    float f
    int i


cdef inline float _exp(float v) noexcept nogil:
    # exp(v) = 2^k exp(r) with k = round(v / ln 2) and |r| <= ln 2 / 2; exp(r) by
    # its Taylor series to r^6 (error < r^7 / 7! < 1.3e-7 relative); 2^k built
    # from its exponent bits. ln 2 is split in two so k * ln2_hi is exact.
    cdef float log2e = 1.4426950408889634, ln2_hi = 0.693145751953125
    cdef float ln2_lo = 1.4286068203094173e-06, shifter = 12582912.0  # 1.5 * 2^23
    cdef float hi = 88.0, lo = -87.0
    cdef float c2 = 0.5, c3 = 1.0 / 6.0, c4 = 1.0 / 24.0, c5 = 1.0 / 120.0
    cdef float c6 = 1.0 / 720.0, one = 1.0
    cdef float a, k, r, p
    cdef FloatBits scale
    a = v if v < hi else hi
    a = a if a > lo else lo
    k = (a * log2e + shifter) - shifter  # round to nearest, as a float
    r = (a - k * ln2_hi) - k * ln2_lo
    p = one + r * (one + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * c6)))))
    scale.i = (<int>k + 127) << 23
    p = p * scale.f
    return p if v == v else v


cdef inline float _erf(float v) noexcept nogil:
    # Abramowitz & Stegun 7.1.26: 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p x),
    # for x = |v|, sign restored after; absolute error <= 1.5e-7.
    cdef float p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741
    cdef float a4 = -1.453152027, a5 = 1.061405429, zero = 0.0, one = 1.0
    cdef float x = v if v >= zero else -v
    cdef float t = one / (one + p * x)
    cdef float poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    cdef float y = one - poly * _exp(-x * x)
    return y if v >= zero else (-y if v < zero else v)


cdef inline float _tanh(float v) noexcept nogil:
    # (1 - e) / (1 + e) with e = exp(-2|v|), sign restored; |v| > 9 is +-1 in float.
    cdef float nine = 9.0, zero = 0.0, one = 1.0, minus_two = -2.0
    cdef float a = v if v >= zero else -v
    cdef float e, t
    a = a if a < nine else nine
    e = _exp(minus_two * a)
    t = (one - e) / (one + e)
    return t if v >= zero else (-t if v < zero else v)


cdef inline float _logistic(float v) noexcept nogil:
    cdef float one = 1.0
    return one / (one + _exp(-v))


cdef inline float _elu(float v) noexcept nogil:
    cdef float zero = 0.0, one = 1.0
    cdef float e = _exp(v if v < zero else zero) - one
    return e if v < zero else v  # NaN stays NaN


cdef inline float _gelu(float v) noexcept nogil:
    cdef float half = 0.5, sqrt_half = 0.7071067811865476, one = 1.0
    return half * v * (one + _erf(v * sqrt_half))


cdef inline float _gelu_tanh(float v) noexcept nogil:
    cdef float half = 0.5, sqrt_2_over_pi = 0.7978845608028654, cubic = 0.044715
    cdef float one = 1.0
    return half * v * (one + _tanh(sqrt_2_over_pi * (v + cubic * v * v * v)))


cdef inline float _hard_swish(float v) noexcept nogil:
    # v * relu6(v + 3) / 6; a NaN v gives NaN through the product.
    cdef float zero = 0.0, three = 3.0, six = 6.0
    cdef float t = v + three
    t = t if t > zero else zero
    t = t if t < six else six
    return v * t / six


cdef inline float _leaky_relu(float v, float alpha) noexcept nogil:
    cdef float zero = 0.0
    cdef float scaled = v * alpha  # computed first so the select needs no branch
    return v if v > zero else scaled


cdef void _unary_range(int kind, const float* x, float* out, Py_ssize_t start,
                       Py_ssize_t stop, float alpha) noexcept nogil:
    # One loop per kind, so each inner loop is branch-free and vectorizable.
    cdef Py_ssize_t i
    if kind == K_LOGISTIC:
        for i in range(start, stop):
            out[i] = _logistic(x[i])
    elif kind == K_TANH:
        for i in range(start, stop):
            out[i] = _tanh(x[i])
    elif kind == K_ELU:
        for i in range(start, stop):
            out[i] = _elu(x[i])
    elif kind == K_GELU:
        for i in range(start, stop):
            out[i] = _gelu(x[i])
    elif kind == K_GELU_TANH:
        for i in range(start, stop):
            out[i] = _gelu_tanh(x[i])
    elif kind == K_HARD_SWISH:
        for i in range(start, stop):
            out[i] = _hard_swish(x[i])
    elif kind == K_LEAKY_RELU:
        for i in range(start, stop):
            out[i] = _leaky_relu(x[i], alpha)


cdef int _threads_for(Py_ssize_t work, int num_threads) noexcept nogil:
    if num_threads <= 1 or work < PARALLEL_MIN:
        return 1
    return num_threads


def unary_f32(int kind, const float[::1] x, float[::1] out, float alpha=0.0,
              int num_threads=1):
    """out = f(x) for one activation ``kind``; x and out are flat float32 arrays."""
    cdef Py_ssize_t n = x.shape[0], chunk, c
    cdef int threads
    if out.shape[0] != n:
        raise ValueError(f"input has {n} elements, output {out.shape[0]}")
    if kind < K_LOGISTIC or kind > K_LEAKY_RELU:
        raise ValueError(f"unknown activation kind {kind}")
    if n == 0:
        return
    threads = _threads_for(n, num_threads)
    chunk = (n + threads - 1) // threads
    if threads == 1:
        with nogil:
            _unary_range(kind, &x[0], &out[0], 0, n, alpha)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _unary_range(kind, &x[0], &out[0], c * chunk, min(n, (c + 1) * chunk), alpha)


cdef void _prelu_blocks(const float* x, const float* alpha, float* out, Py_ssize_t b0,
                        Py_ssize_t b1, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t b, j
    cdef const float* src
    cdef float* dst
    cdef float v, scaled, zero = 0.0
    for b in range(b0, b1):
        src = x + b * m
        dst = out + b * m
        for j in range(m):
            v = src[j]
            scaled = v * alpha[j]
            dst[j] = v if v >= zero else scaled


def prelu_f32(const float[::1] x, const float[::1] alpha, float[::1] out, int num_threads=1):
    """out = x >= 0 ? x : x * alpha, alpha repeating every len(alpha) elements."""
    cdef Py_ssize_t n = x.shape[0], m = alpha.shape[0], blocks, chunk, c
    cdef int threads
    if out.shape[0] != n:
        raise ValueError(f"input has {n} elements, output {out.shape[0]}")
    if n == 0:
        return
    if m == 0 or n % m:
        raise ValueError(f"alpha block of {m} does not tile {n} elements")
    blocks = n // m
    threads = _threads_for(n, num_threads)
    if threads > blocks:
        threads = <int>blocks
    chunk = (blocks + threads - 1) // threads
    if threads == 1:
        with nogil:
            _prelu_blocks(&x[0], &alpha[0], &out[0], 0, blocks, m)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _prelu_blocks(&x[0], &alpha[0], &out[0], c * chunk, min(blocks, (c + 1) * chunk), m)


cdef float _row_max(const float* row, Py_ssize_t n) noexcept nogil:
    # A NaN anywhere must win (the row then comes out NaN, as in TFLite): max() keeps
    # the first operand on NaN, so NaN is detected separately via v != v.
    cdef float top[LANES]
    cdef float nan_seen[LANES]
    cdef Py_ssize_t i, j, b, whole = n - n % LANES
    cdef float v, best, zero = 0.0
    for j in range(LANES):
        top[j] = row[0]
        nan_seen[j] = zero
    for b in range(whole // LANES):
        i = b * LANES
        for j in range(LANES):
            v = row[i + j]
            top[j] = v if v > top[j] else top[j]
            nan_seen[j] = v if v != v else nan_seen[j]
    best = row[0]
    for i in range(whole, n):
        v = row[i]
        best = v if v > best else best
        if v != v:
            return v
    for j in range(LANES):
        best = top[j] if top[j] > best else best
        if nan_seen[j] != nan_seen[j]:
            return nan_seen[j]
    return best


cdef float _exp_into(const float* row, float* dst, Py_ssize_t n, float top,
                     float beta) noexcept nogil:
    # dst = exp((row - top) * beta); returns the sum of dst.
    cdef float partial[LANES]
    cdef Py_ssize_t i, j, b, whole = n - n % LANES
    cdef float total = 0.0, v
    for j in range(LANES):
        partial[j] = total
    for b in range(whole // LANES):
        i = b * LANES
        for j in range(LANES):
            v = _exp((row[i + j] - top) * beta)
            dst[i + j] = v
            partial[j] += v
    for i in range(whole, n):
        v = _exp((row[i] - top) * beta)
        dst[i] = v
        total += v
    for j in range(LANES):
        total += partial[j]
    return total


cdef void _softmax_rows(const float* x, float* out, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t n, float beta, bint log_softmax) noexcept nogil:
    # Per row: subtract the max (so exp never overflows for beta > 0), exponentiate,
    # normalise. A NaN or +inf anywhere makes the whole row NaN, as in TFLite.
    cdef Py_ssize_t r, j
    cdef const float* row
    cdef float* dst
    cdef float top, total, shift, inverse, one = 1.0
    for r in range(r0, r1):
        row = x + r * n
        dst = out + r * n
        top = _row_max(row, n)
        if log_softmax:
            total = _exp_into(row, dst, n, top, one)
            shift = top + logf(total)  # one libm call per row
            for j in range(n):
                dst[j] = row[j] - shift
        else:
            total = _exp_into(row, dst, n, top, beta)
            inverse = one / total
            for j in range(n):
                dst[j] = dst[j] * inverse


def softmax_f32(const float[:, ::1] x, float[:, ::1] out, float beta=1.0,
                bint log_softmax=False, int num_threads=1):
    """Row-wise softmax (``exp((x - max) * beta)`` normalised) or log-softmax of x."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], chunk, c
    cdef int threads
    if out.shape[0] != rows or out.shape[1] != n:
        raise ValueError(f"input is {rows}x{n}, output {out.shape[0]}x{out.shape[1]}")
    if rows == 0 or n == 0:
        return
    threads = _threads_for(rows * n, num_threads)
    if threads > rows:
        threads = <int>rows
    chunk = (rows + threads - 1) // threads
    if threads == 1:
        with nogil:
            _softmax_rows(&x[0, 0], &out[0, 0], 0, rows, n, beta, log_softmax)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _softmax_rows(&x[0, 0], &out[0, 0], c * chunk, min(rows, (c + 1) * chunk), n, beta,
                      log_softmax)
