"""Single-pass float32 kernels for activations, PRELU and SOFTMAX / LOG_SOFTMAX.

numpy needs several passes (and for GELU, ELU and PRELU a temporary) for these; a
fused loop reads the input once. Work is split over ``num_threads`` OpenMP threads
in contiguous chunks (rows for softmax) once a tensor is big enough to pay for it.
The formulas are the official runtime's; activations.py and softmax.py hold the
numpy reference versions the tests compare with.
"""

from cython.parallel cimport prange
from libc.math cimport erff, expf, expm1f, fmaxf, fminf, logf, tanhf

# Activation kinds understood by unary_f32, for C and (below) for Python callers.
cdef enum Kind:
    K_LOGISTIC = 0
    K_ELU
    K_GELU
    K_GELU_TANH
    K_HARD_SWISH
    K_LEAKY_RELU

LOGISTIC = K_LOGISTIC
ELU = K_ELU
GELU = K_GELU
GELU_TANH = K_GELU_TANH
HARD_SWISH = K_HARD_SWISH
LEAKY_RELU = K_LEAKY_RELU

# Below this many elements a second thread costs more than it saves.
cdef Py_ssize_t PARALLEL_MIN = 1 << 15

# Typed constants keep the arithmetic in float (a bare 0.5 would promote to double).
cdef float ZERO = 0.0
cdef float HALF = 0.5
cdef float ONE = 1.0
cdef float THREE = 3.0
cdef float SIX = 6.0
cdef float SQRT_HALF = 0.7071067811865476
cdef float SQRT_2_OVER_PI = 0.7978845608028654
cdef float GELU_CUBIC = 0.044715


cdef inline float _logistic(float v) noexcept nogil:
    return ONE / (ONE + expf(-v))


cdef inline float _elu(float v) noexcept nogil:
    return expm1f(v) if v < ZERO else v


cdef inline float _gelu(float v) noexcept nogil:
    return HALF * v * (ONE + erff(v * SQRT_HALF))


cdef inline float _gelu_tanh(float v) noexcept nogil:
    return HALF * v * (ONE + tanhf(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)))


cdef inline float _hard_swish(float v) noexcept nogil:
    # fmaxf drops a NaN, but then v itself is NaN and so is the product.
    return v * fminf(fmaxf(v + THREE, ZERO), SIX) / SIX


cdef void _unary_range(int kind, const float* x, float* out, Py_ssize_t start,
                       Py_ssize_t stop, float alpha) noexcept nogil:
    # One loop per kind, so each inner loop is branch-free and inlinable.
    cdef Py_ssize_t i
    if kind == K_LOGISTIC:
        for i in range(start, stop):
            out[i] = _logistic(x[i])
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
            out[i] = x[i] if x[i] > ZERO else x[i] * alpha


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
    cdef Py_ssize_t b, j, i
    cdef float v
    for b in range(b0, b1):
        for j in range(m):
            i = b * m + j
            v = x[i]
            out[i] = v if v >= ZERO else v * alpha[j]


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


cdef void _softmax_rows(const float* x, float* out, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t n, float beta, bint log_softmax) noexcept nogil:
    # Per row: subtract the max (so exp never overflows for beta > 0), exponentiate,
    # normalise. A NaN or +inf anywhere makes the whole row NaN, as in TFLite.
    cdef Py_ssize_t r, j
    cdef const float* row
    cdef float* dst
    cdef float top, v
    cdef double total
    for r in range(r0, r1):
        row = x + r * n
        dst = out + r * n
        top = row[0]
        for j in range(1, n):
            if row[j] > top:
                top = row[j]
        total = 0.0
        if log_softmax:
            for j in range(n):
                total += expf(row[j] - top)
            v = logf(<float>total)
            for j in range(n):
                dst[j] = (row[j] - top) - v
        else:
            for j in range(n):
                v = expf((row[j] - top) * beta)
                dst[j] = v
                total += v
            v = <float>(1.0 / total)
            for j in range(n):
                dst[j] = dst[j] * v


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
