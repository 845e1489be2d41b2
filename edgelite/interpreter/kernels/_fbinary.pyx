"""Float32 ADD/SUB/MUL/DIV with the clamp fused, for the common broadcast patterns.

The numpy path needs one ufunc call plus one ``np.clip`` pass (the official float
kernels always clamp, at least to +-FLT_MAX) and an ``errstate`` context: ~6-10 us of
fixed cost per node, which dominates small tensors. Here one pass does both, for the
shapes real graphs use: equal shapes, a scalar on either side, or one side repeating
along the last axis (a bias-like vector). Other broadcasts stay on numpy.
"""

cdef enum:
    OP_ADD = 1
    OP_SUB = 2
    OP_MUL = 3
    OP_DIV = 4

# Broadcast patterns (decided at prepare).
cdef enum:
    SAME = 0
    B_SCALAR = 1
    A_SCALAR = 2
    B_ROW = 3   # b repeats with period len(b) along the flat output
    A_ROW = 4


cdef inline float _op(int op, float x, float y) noexcept nogil:
    if op == OP_ADD:
        return x + y
    if op == OP_SUB:
        return x - y
    if op == OP_MUL:
        return x * y
    return x / y


cdef inline float _clamp(float v, float lo, float hi) noexcept nogil:
    # NaN fails both comparisons and passes through, as in the official kernels.
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


cdef void _run(int op, int pattern, const float* a, const float* b, float* out,
               Py_ssize_t n, Py_ssize_t period, float lo, float hi) noexcept nogil:
    cdef Py_ssize_t i, j, r
    if pattern == SAME:
        for i in range(n):
            out[i] = _clamp(_op(op, a[i], b[i]), lo, hi)
    elif pattern == B_SCALAR:
        for i in range(n):
            out[i] = _clamp(_op(op, a[i], b[0]), lo, hi)
    elif pattern == A_SCALAR:
        for i in range(n):
            out[i] = _clamp(_op(op, a[0], b[i]), lo, hi)
    elif pattern == B_ROW:
        r = 0
        while r < n:
            for j in range(period):
                out[r + j] = _clamp(_op(op, a[r + j], b[j]), lo, hi)
            r += period
    else:
        r = 0
        while r < n:
            for j in range(period):
                out[r + j] = _clamp(_op(op, a[j], b[r + j]), lo, hi)
            r += period


def binary(int op, int pattern, a, b, out, float lo, float hi):
    """out = clamp(a (op) b, lo, hi); arrays C-contiguous float32, shapes as ``pattern``."""
    cdef const float[::1] av = a.reshape(-1)
    cdef const float[::1] bv = b.reshape(-1)
    cdef float[::1] ov = out.reshape(-1)
    cdef Py_ssize_t n = ov.shape[0]
    cdef Py_ssize_t period = bv.shape[0] if pattern == B_ROW else av.shape[0]
    if n == 0 or period == 0:
        return
    with nogil:
        _run(op, pattern, &av[0], &bv[0], &ov[0], n, period, lo, hi)
