"""Fused float32 kernels for activations, PRELU and SOFTMAX / LOG_SOFTMAX.

numpy needs several passes over memory (and for GELU, ELU and PRELU a temporary)
for these; here each reads its input once, block by block through an L1-sized
stack buffer. The loops are written so that the compiler vectorizes them under the
project's strict IEEE flags (no -ffast-math, trapping math on): no libm calls per
element (``_exp`` is our own range-reduced polynomial), selects instead of
branches, clamping in a loop of its own (a clamp feeding the exp in the same loop
defeats gcc's if-conversion), float-only constants kept local (a bare ``1.0`` is a
double in C; a module-level float could alias the output), and reductions spread
over ``LANES`` independent accumulators. Work is split over ``num_threads``
OpenMP threads in contiguous chunks (rows for softmax) once there is enough work
for each (``_threads.threads_for``).

Accuracy: ``_exp`` is within 3e-7 relative of exp on [-87, 88]; arguments beyond
are clamped (so results saturate at ~1e-38 / ~1.6e38 rather than 0 / inf, far
inside the float rule's tolerance); erf is within 1.5e-7 absolute. NaN passes
through everything. activations.py and softmax.py hold the numpy
reference versions the tests compare with.
"""

from cython.parallel cimport prange
from libc.math cimport logf

from ._threads cimport threads_for

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

# Work units (threads_for) per element: an exp-based element costs about ten
# times a multiply-add or a select.
cdef double EXP_COST = 10.0
cdef enum:
    # Independent partial sums / maxima per row, so those loops vectorize too.
    LANES = 8
    # Elements per pass of the two-pass (clamp, then compute) loops: an L1-sized
    # stack buffer holds the clamped arguments.
    BLOCK = 512


cdef union FloatBits:
    float f
    int i


cdef inline float _exp(float a) noexcept nogil:
    # exp(a) for a in [-87, 88] (callers clamp first, in a separate loop: clamping
    # here would keep the compiler from vectorizing). exp(a) = 2^k exp(r) with
    # k = round(a / ln 2), |r| <= ln 2 / 2, exp(r) by its Taylor series to r^6
    # (error < r^7 / 7! < 1.3e-7 relative). Adding 1.5 * 2^23 rounds a / ln 2 and
    # leaves k in the low mantissa bits, from which 2^k's exponent bits are made.
    # ln 2 is split in two so that k * ln2_hi is exact. NaN stays NaN.
    cdef float log2e = 1.4426950408889634, ln2_hi = 0.693145751953125
    cdef float ln2_lo = 1.4286068203094173e-06, shifter = 12582912.0
    cdef float c2 = 0.5, c3 = 1.0 / 6.0, c4 = 1.0 / 24.0, c5 = 1.0 / 120.0
    cdef float c6 = 1.0 / 720.0, one = 1.0
    cdef float k, r, p
    cdef FloatBits rounded, scale
    rounded.f = a * log2e + shifter
    k = rounded.f - shifter
    r = (a - k * ln2_hi) - k * ln2_lo
    p = one + r * (one + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * c6)))))
    scale.i = (rounded.i - 0x4B400000 + 127) << 23  # 0x4B400000: the bits of 1.5 * 2^23
    return p * scale.f


cdef inline float _clamp(float v, float lo, float hi) noexcept nogil:
    # Keeps a NaN (both comparisons fail).
    v = hi if v > hi else v
    return lo if v < lo else v


cdef inline float _tanh_of_clamped(float a) noexcept nogil:
    # tanh(a) = 1 - 2 / (exp(2a) + 1) for a in [-9, 9] (beyond, tanh is +-1 in float).
    cdef float one = 1.0, two = 2.0
    return one - two / (_exp(a + a) + one)


cdef inline float _hard_swish(float v) noexcept nogil:
    # v * relu6(v + 3) / 6 (times 1/6: a division would halve the speed, for at most
    # one ulp of difference); a NaN v gives NaN through the product.
    cdef float zero = 0.0, three = 3.0, six = 6.0, sixth = 1.0 / 6.0
    return v * _clamp(v + three, zero, six) * sixth


cdef inline float _leaky_relu(float v, float alpha) noexcept nogil:
    # max(v, 0) + alpha min(v, 0): selects of v and 0 only, so the multiply stays out
    # of any branch (the compiler would not vectorize a conditional multiply).
    # Both selects keep a NaN v. (Only a non-finite alpha, which no trained model
    # has, would make this differ from v > 0 ? v : alpha v.)
    cdef float zero = 0.0
    cdef float positive = zero if v < zero else v
    cdef float negative = zero if v > zero else v
    return positive + alpha * negative


cdef void _unary_block(int kind, const float* x, float* out, float* arg, Py_ssize_t n,
                       float alpha) noexcept nogil:
    # One block of at most BLOCK elements. Exp-based kinds first write the clamped
    # exp argument to ``arg`` (a stack buffer, so out may even be x), then compute;
    # every loop is branch-free and vectorizable.
    cdef Py_ssize_t i
    cdef float v, e, z, t, y
    cdef float zero = 0.0, one = 1.0, half = 0.5, lo = -87.0, hi = 88.0, nine = 9.0
    cdef float sqrt_half = 0.7071067811865476, sqrt_2_over_pi = 0.7978845608028654
    cdef float cubic = 0.044715
    # Abramowitz & Stegun 7.1.26: erf(z) = 1 - (a1 t + ... + a5 t^5) exp(-z^2),
    # t = 1 / (1 + p z), z >= 0, absolute error <= 1.5e-7.
    cdef float p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741
    cdef float a4 = -1.453152027, a5 = 1.061405429
    if kind == K_LOGISTIC:
        for i in range(n):
            arg[i] = _clamp(-x[i], lo, hi)
        for i in range(n):
            out[i] = one / (one + _exp(arg[i]))
    elif kind == K_TANH:
        for i in range(n):
            arg[i] = _clamp(x[i], -nine, nine)
        for i in range(n):
            out[i] = _tanh_of_clamped(arg[i])
    elif kind == K_ELU:
        for i in range(n):
            arg[i] = _clamp(x[i], lo, zero)
        for i in range(n):
            # exp(v) - 1 > v for v < 0 and is 0 for v >= 0: ELU is the larger. A NaN
            # v fails the comparison and comes through.
            e = _exp(arg[i]) - one
            v = x[i]
            out[i] = e if e > v else v
    elif kind == K_GELU:
        for i in range(n):
            z = x[i] * sqrt_half
            z = -z if z < zero else z
            arg[i] = nine if z > nine else z  # erf(9) is 1 in float
        for i in range(n):
            z = arg[i]
            t = one / (one + p * z)
            y = one - t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * _exp(-z * z)
            v = x[i]
            y = -y if v < zero else y
            out[i] = half * v * (one + y)
    elif kind == K_GELU_TANH:
        for i in range(n):
            v = x[i]
            arg[i] = _clamp(sqrt_2_over_pi * (v + cubic * v * v * v), -nine, nine)
        for i in range(n):
            v = x[i]
            out[i] = half * v * (one + _tanh_of_clamped(arg[i]))
    elif kind == K_HARD_SWISH:
        for i in range(n):
            out[i] = _hard_swish(x[i])
    elif kind == K_LEAKY_RELU:
        for i in range(n):
            out[i] = _leaky_relu(x[i], alpha)


cdef void _unary_range(int kind, const float* x, float* out, Py_ssize_t start,
                       Py_ssize_t stop, float alpha) noexcept nogil:
    cdef float arg[BLOCK]
    cdef Py_ssize_t i = start
    if kind == K_HARD_SWISH or kind == K_LEAKY_RELU:  # one pass: no blocks needed
        _unary_block(kind, x + start, out + start, arg, stop - start, alpha)
        return
    while i < stop:
        _unary_block(kind, x + i, out + i, arg, min(BLOCK, stop - i), alpha)
        i += BLOCK


def unary_f32(int kind, const float[::1] x, float[::1] out, float alpha=0.0,
              int num_threads=1):
    """out = f(x) for one activation ``kind``; x and out are flat float32 arrays."""
    cdef Py_ssize_t n = x.shape[0], chunk, c
    cdef int threads
    cdef double cost
    if out.shape[0] != n:
        raise ValueError(f"input has {n} elements, output {out.shape[0]}")
    if kind < K_LOGISTIC or kind > K_LEAKY_RELU:
        raise ValueError(f"unknown activation kind {kind}")
    if n == 0:
        return
    cost = 1.0 if kind == K_HARD_SWISH or kind == K_LEAKY_RELU else EXP_COST
    threads = threads_for(n * cost, num_threads)
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
    for b in range(b0, b1):
        src = x + b * m
        dst = out + b * m
        for j in range(m):
            dst[j] = _leaky_relu(src[j], alpha[j])


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
    threads = threads_for(<double>n, num_threads)
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


cdef float _exp_sum(const float* row, float* dst, Py_ssize_t n, float top,
                    float beta) noexcept nogil:
    # Sum of exp((row - top) * beta), arguments clamped to [-87, 88] (block by block
    # through a stack buffer); the exps are also stored to dst unless it is NULL.
    cdef float arg[BLOCK]
    cdef float partial[LANES]
    cdef Py_ssize_t start = 0, i, j, b, m, whole
    cdef float total = 0.0, lo = -87.0, hi = 88.0
    for j in range(LANES):
        partial[j] = total
    while start < n:
        m = min(BLOCK, n - start)
        for i in range(m):
            arg[i] = _clamp((row[start + i] - top) * beta, lo, hi)
        for i in range(m):
            arg[i] = _exp(arg[i])
        whole = m - m % LANES
        for b in range(whole // LANES):
            for j in range(LANES):
                partial[j] += arg[b * LANES + j]
        for i in range(whole, m):
            total += arg[i]
        if dst != NULL:
            for i in range(m):
                dst[start + i] = arg[i]
        start += BLOCK
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
            total = _exp_sum(row, NULL, n, top, one)
            shift = top + logf(total)  # one libm call per row
            for j in range(n):
                dst[j] = row[j] - shift
        else:
            total = _exp_sum(row, dst, n, top, beta)
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
    threads = threads_for(<double>rows * n * EXP_COST, num_threads)
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
