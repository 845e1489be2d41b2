"""Fused float32 convolution chains: conv -> depthwise -> 1x1 conv (-> residual add).

MobileNet-style inverted residual blocks expand a tensor with a 1x1 convolution,
filter it depthwise, and project it back with another 1x1 convolution. Run op by op,
the expanded tensor (up to 4.8 MB in MobileNetV2) is written out and read back twice.
Here the chain runs a band of output rows at a time, so that everything between the
chain's input and its output stays in a buffer of L2 size:

1. the head convolution computes only the rows the band's depthwise taps need that
   are not in the row buffer yet (no recomputation: the rows the next band shares
   are moved to the buffer's front instead);
2. the depthwise convolution (_depthwise's row kernel) runs on the buffer;
3. the tail 1x1 convolution multiplies the band into the chain's output, adding the
   residual and clamping in the same pass.

Each stage is optional where the others still make a chain (see fusion.py): no
head (the depthwise reads the chain input), no tail (the depthwise writes the
output), or a head alone (one convolution through the packed GEMM). The GEMMs are
_packed_gemm's, on weights packed once at load. With several threads every thread
takes a contiguous range of output rows with its own buffers.
"""

import numpy as np

from cython.parallel cimport prange
from libc.string cimport memmove

from ._conv cimport _im2col_row
from ._depthwise cimport Geometry, dw_row
from ._packed_gemm cimport el_gemm, el_packed_cols, el_panel_width, EL_PACK_A_MIN_COLS
from ._vec8 cimport el_have_avx2_fma
from ._threads cimport threads_for

ctypedef float float32_t


cdef struct Gemm:
    const float32_t* packed
    const float32_t* bias  # padded to the packed width
    float32_t lo, hi
    Py_ssize_t n, k


cdef struct Chain:
    Py_ssize_t h, w, cin  # input image
    bint has_head, head_pointwise
    Py_ssize_t eh, ew, ce  # head output (the input image when there is no head)
    Py_ssize_t kh, kw, sh, sw, dh, dw, pad_t, pad_l  # head window
    Gemm head
    bint has_dw
    Geometry g  # depthwise over the head output
    const float32_t* dw_w
    const float32_t* dw_bias  # NULL: no bias
    float32_t dw_lo, dw_hi
    bint has_tail
    Gemm tail
    Py_ssize_t oh, ow, oc  # chain output
    Py_ssize_t band  # output rows per band
    Py_ssize_t cols_rows  # head rows per im2col chunk
    Py_ssize_t ebuf, dbuf, cols  # floats of each per-thread buffer


def have_avx2():
    """Whether the packed GEMM runs its AVX2 + FMA build on this CPU."""
    return bool(el_have_avx2_fma())


def _set_pack(n):
    global EL_PACK_A_MIN_COLS
    EL_PACK_A_MIN_COLS = n


def pack_weights(const float32_t[:, ::1] w, const float32_t[::1] bias):
    """[n, k] weights and bias (may be empty) -> (packed panels, bias padded to match)."""
    cdef Py_ssize_t n = w.shape[0], k = w.shape[1], cols = el_packed_cols(n)
    cdef Py_ssize_t j0 = 0, width, j, kk
    if bias.shape[0] not in (0, n):
        raise ValueError(f"bias has {bias.shape[0]} values for {n} outputs")
    packed = np.zeros(max(1, cols * k), np.float32)
    padded = np.zeros(max(1, cols), np.float32)
    cdef float32_t[::1] p = packed
    cdef float32_t[::1] b = padded
    while j0 < n:
        width = el_panel_width(n, j0)
        for kk in range(k):
            for j in range(j0, min(n, j0 + width)):
                p[j0 * k + kk * width + j - j0] = w[j, kk]
        j0 += width
    for j in range(bias.shape[0]):
        b[j] = bias[j]
    return packed, padded


def packed_gemm(const float32_t[:, ::1] a, const float32_t[::1] packed,
                const float32_t[::1] bias, float32_t[:, ::1] out, float lo, float hi):
    """out = clamp(a @ w^T + bias, lo, hi) with ``w`` and ``bias`` from pack_weights."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = out.shape[1]
    if out.shape[0] != m or packed.shape[0] < el_packed_cols(n) * k:
        raise ValueError(f"packed GEMM shapes do not match: {m}x{k} -> {out.shape[0]}x{n}")
    if bias.shape[0] < el_packed_cols(n):
        raise ValueError("bias is not padded to the packed width")
    if m == 0 or n == 0:
        return
    with nogil:
        el_gemm(&a[0, 0] if k else NULL, k, &packed[0], &bias[0], &out[0, 0], n, m, n, k,
                NULL, 0, lo, hi)


cdef void _head_rows(const Chain* c, const float32_t* x, Py_ssize_t r0, Py_ssize_t r1,
                     float32_t* dst, const float32_t* res, float32_t* cols) noexcept nogil:
    # Head output rows r0..r1-1 into dst (rows of ew * ce), plus res when given.
    cdef Py_ssize_t k = c.head.k, q0, q1, r, row = c.ew * c.ce
    if c.head_pointwise:
        el_gemm(x + r0 * c.w * c.cin, c.cin, c.head.packed, c.head.bias, dst, c.ce,
                (r1 - r0) * c.ew, c.ce, c.cin, res, c.ce, c.head.lo, c.head.hi)
        return
    q0 = r0
    while q0 < r1:
        q1 = min(r1, q0 + c.cols_rows)
        for r in range(q0, q1):
            _im2col_row(x, c.h, c.w, c.cin, cols + (r - q0) * c.ew * k, r, c.ew, c.kh, c.kw,
                        c.sh, c.sw, c.dh, c.dw, c.pad_t, c.pad_l, 0, c.cin)
        el_gemm(cols, k, c.head.packed, c.head.bias, dst + (q0 - r0) * row, c.ce,
                (q1 - q0) * c.ew, c.ce, k, res + (q0 - r0) * row if res != NULL else NULL,
                c.ce, c.head.lo, c.head.hi)
        q0 = q1


cdef void _run_rows(const Chain* c, const float32_t* x, float32_t* out, const float32_t* res,
                    Py_ssize_t y0, Py_ssize_t y1, float32_t* ebuf, float32_t* dbuf,
                    float32_t* cols) noexcept nogil:
    # Output rows y0..y1-1 of one image, a band at a time.
    cdef Py_ssize_t row_e = c.ew * c.ce, row_o = c.ow * c.oc
    cdef Py_ssize_t oy0 = y0, oy1, oy, need_lo, need_hi, held_lo = 0, held_hi = 0
    cdef Geometry g = c.g
    cdef const float32_t* src = x
    cdef float32_t* dst
    if not c.has_dw:
        _head_rows(c, x, y0, y1, out + y0 * row_o, res + y0 * row_o if res != NULL else NULL,
                   cols)
        return
    while oy0 < y1:
        oy1 = min(y1, oy0 + c.band)
        if c.has_head:
            # Head rows the band's taps reach, [need_lo, need_hi), into the buffer.
            need_lo = max(0, oy0 * g.sh - c.g.pad_t)
            need_hi = min(c.eh, (oy1 - 1) * g.sh - c.g.pad_t + (g.kh - 1) * g.dh + 1)
            if need_lo >= held_hi:
                held_lo = held_hi = need_lo
            elif need_lo > held_lo:
                memmove(ebuf, ebuf + (need_lo - held_lo) * row_e,
                        (held_hi - need_lo) * row_e * sizeof(float32_t))
                held_lo = need_lo
            if need_hi > held_hi:
                _head_rows(c, x, held_hi, need_hi, ebuf + (held_hi - held_lo) * row_e, NULL,
                           cols)
                held_hi = need_hi
            # The buffer seen as an image of its rows: see Geometry in _depthwise.pxd.
            src = ebuf
            g.h = held_hi - held_lo
            g.pad_t = c.g.pad_t + held_lo
        dst = dbuf if c.has_tail else out + oy0 * row_o
        for oy in range(oy0, oy1):
            dw_row(src, c.dw_w, c.dw_bias, dst + (oy - oy0) * c.ow * c.ce, oy, c.ow, &g,
                    c.dw_lo, c.dw_hi)
        if c.has_tail:
            el_gemm(dbuf, c.ce, c.tail.packed, c.tail.bias, out + oy0 * row_o, c.oc,
                    (oy1 - oy0) * c.ow, c.oc, c.ce,
                    res + oy0 * row_o if res != NULL else NULL, c.oc, c.tail.lo, c.tail.hi)
        oy0 = oy1


cdef Gemm _gemm_stage(tuple packed, float lo, float hi, Py_ssize_t n, Py_ssize_t k):
    cdef const float32_t[::1] weights = packed[0]
    cdef const float32_t[::1] bias = packed[1]
    return Gemm(&weights[0], &bias[0], lo, hi, n, k)


cdef class FusedBlock:
    """One fused chain, its packed weights and per-thread buffers (built at load).

    ``head``: None or (filter [n, kh, kw, cin], bias or None, lo, hi, window, (oh, ow))
    with window (kh, kw, sh, sw, dh, dw, pad_t, pad_l); ``dw``: None or (filter
    [kh, kw, c], bias or None, lo, hi, steps) with steps (sh, sw, dh, dw, pad_t,
    pad_l), depth multiplier 1; ``tail``: None or (filter [n, c], bias or None, lo,
    hi). ``band``: output rows per band; ``cols_rows``: head rows per im2col chunk.
    """

    cdef Chain c
    cdef list keep  # the arrays the Chain's pointers point into
    cdef float32_t[::1] buffers
    cdef readonly int threads
    cdef readonly tuple in_shape, out_shape

    def __init__(self, tuple in_shape, tuple out_shape, head, dw, tail, int band,
                 int cols_rows, int num_threads):
        cdef Chain* c = &self.c
        cdef Py_ssize_t n, h, w, cin
        n, h, w, cin = in_shape
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.keep = []
        c.h, c.w, c.cin = h, w, cin
        c.eh, c.ew, c.ce = h, w, cin
        c.oh, c.ow, c.oc = out_shape[1], out_shape[2], out_shape[3]
        c.band = max(1, band)
        c.cols_rows = max(1, cols_rows)
        c.has_head = head is not None
        c.has_dw = dw is not None
        c.has_tail = tail is not None
        if c.has_tail and not c.has_dw or not c.has_dw and not c.has_head:
            raise ValueError("a fused chain needs a depthwise stage before its tail, or a head")
        if c.has_head:
            self._set_head(head)
        if c.has_dw:
            self._set_depthwise(dw)
        if c.has_tail:
            self._set_tail(tail)
        self._check_output()
        self._allocate(num_threads)

    cdef _set_head(self, tuple head):
        cdef Chain* c = &self.c
        filt, bias, lo, hi, window, (c.eh, c.ew) = head
        c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pad_t, c.pad_l = window
        if filt.ndim != 4 or filt.shape[1:] != (c.kh, c.kw, c.cin):
            raise ValueError(f"head filter {filt.shape} does not match the window and input")
        n = filt.shape[0]
        c.head_pointwise = c.kh == c.kw == c.sh == c.sw == 1 and c.pad_t == c.pad_l == 0
        if c.head_pointwise and (c.eh, c.ew) != (c.h, c.w):
            raise ValueError(f"a 1x1 head keeps the image size, not {(c.eh, c.ew)}")
        c.ce = n
        packed = pack_weights(np.ascontiguousarray(filt, np.float32).reshape(n, -1),
                              _bias(bias))
        self.keep.append(packed)
        c.head = _gemm_stage(packed, lo, hi, n, c.kh * c.kw * c.cin)

    cdef _set_depthwise(self, tuple dw):
        cdef Chain* c = &self.c
        filt, bias, lo, hi, steps = dw
        filt = np.ascontiguousarray(filt, np.float32)
        if filt.ndim != 3 or filt.shape[2] != c.ce or filt.shape[0] * filt.shape[1] > 64:
            raise ValueError(f"depthwise filter {filt.shape} does not fit {c.ce} channels")
        sh, sw, dh, dw_, pad_t, pad_l = steps
        c.g = Geometry(c.eh, c.ew, c.ce, filt.shape[0], filt.shape[1], sh, sw, dh, dw_,
                       pad_t, pad_l)
        cdef const float32_t[:, :, ::1] weights = filt
        c.dw_w = &weights[0, 0, 0]
        c.dw_bias = NULL
        self.keep.append(filt)
        if bias is not None:
            b = _bias(bias)
            if b.shape[0] != c.ce:
                raise ValueError(f"depthwise bias has {b.shape[0]} values for {c.ce}")
            self.keep.append(b)
            c.dw_bias = _address(b)
        c.dw_lo, c.dw_hi = lo, hi

    cdef _set_tail(self, tuple tail):
        cdef Chain* c = &self.c
        filt, bias, lo, hi = tail
        filt = np.ascontiguousarray(filt, np.float32)
        if filt.ndim != 2 or filt.shape[1] != c.ce:
            raise ValueError(f"tail filter {filt.shape} does not take {c.ce} channels")
        packed = pack_weights(filt, _bias(bias))
        self.keep.append(packed)
        c.tail = _gemm_stage(packed, lo, hi, filt.shape[0], c.ce)

    cdef _check_output(self):
        cdef Chain* c = &self.c
        cdef Py_ssize_t oc = c.tail.n if c.has_tail else c.ce
        if self.out_shape[0] != self.in_shape[0] or c.oc != oc:
            raise ValueError(f"output shape {self.out_shape} does not match the chain")
        if not c.has_dw and (c.oh != c.eh or c.ow != c.ew):
            raise ValueError(f"output shape {self.out_shape} does not match the head")

    cdef _allocate(self, int num_threads):
        cdef Chain* c = &self.c
        cdef Py_ssize_t rows
        work = <double>self.in_shape[0] * c.oh * c.ow * max(1, c.ce) * max(1, c.cin)
        self.threads = max(1, min(threads_for(work, num_threads), c.oh))
        rows = min(c.eh, (c.band - 1) * c.g.sh + (c.g.kh - 1) * c.g.dh + 1)
        c.ebuf = rows * c.ew * c.ce if c.has_head and c.has_dw else 0
        c.dbuf = c.band * c.ow * c.ce if c.has_tail else 0
        c.cols = 0 if not c.has_head or c.head_pointwise else c.cols_rows * c.ew * c.head.k
        # 16 spare floats between the threads' buffers keep them on separate cache lines.
        self.buffers = np.zeros(max(1, self.threads * (c.ebuf + c.dbuf + c.cols + 16)),
                                np.float32)

    def run(self, x, res, out):
        """Compute the chain for input ``x`` (and residual ``res`` or None) into ``out``."""
        cdef const float32_t[:, :, :, ::1] xv = x
        cdef float32_t[:, :, :, ::1] ov = out
        cdef const float32_t[:, :, :, ::1] rv
        cdef const float32_t* r = NULL
        if tuple(x.shape) != self.in_shape or tuple(out.shape) != self.out_shape:
            raise ValueError(f"fused chain built for {self.in_shape} -> {self.out_shape}, "
                             f"got {tuple(x.shape)} -> {tuple(out.shape)}")
        if res is not None:
            if tuple(res.shape) != self.out_shape:
                raise ValueError(f"residual {tuple(res.shape)} is not {self.out_shape}")
            rv = res
            r = &rv[0, 0, 0, 0]
        self._run(&xv[0, 0, 0, 0], &ov[0, 0, 0, 0], r)

    cdef void _run(self, const float32_t* x, float32_t* out, const float32_t* res):
        cdef Chain* c = &self.c
        cdef Py_ssize_t b, t, per, y0, stride = c.ebuf + c.dbuf + c.cols + 16
        cdef Py_ssize_t in_size = c.h * c.w * c.cin, out_size = c.oh * c.ow * c.oc
        cdef float32_t* base = &self.buffers[0]
        cdef int threads = self.threads
        cdef Py_ssize_t batches = self.in_shape[0]
        per = (c.oh + threads - 1) // threads
        with nogil:
            for b in range(batches):
                if threads == 1:
                    _run_rows(c, x + b * in_size, out + b * out_size,
                              res + b * out_size if res != NULL else NULL, 0, c.oh, base,
                              base + c.ebuf, base + c.ebuf + c.dbuf)
                    continue
                for t in prange(threads, num_threads=threads, schedule="static"):
                    y0 = t * per
                    _run_rows(c, x + b * in_size, out + b * out_size,
                              res + b * out_size if res != NULL else NULL, y0,
                              min(c.oh, y0 + per), base + t * stride,
                              base + t * stride + c.ebuf, base + t * stride + c.ebuf + c.dbuf)


def run_block(FusedBlock block, list inputs, list outputs):
    """Step of the invoke loop: inputs [x, residual or None], outputs [out]."""
    block.run(inputs[0], inputs[1], outputs[0])


def _bias(bias):
    if bias is None:
        return np.zeros(0, np.float32)
    return np.ascontiguousarray(bias, np.float32).reshape(-1)


cdef const float32_t* _address(b):
    cdef const float32_t[::1] view = b
    return &view[0]
