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
output), or a head alone (one convolution through the packed GEMM, with the residual
added in its epilogue). The GEMMs are _packed_gemm's, on weights packed once at load;
the depthwise rows are _depthwise's ``dw_row``; both run their AVX2 + FMA builds where
the CPU has them (_vec8.pxd). With several threads every thread takes a contiguous
range of output rows with its own part of the scratch buffer (the head rows at the
seams are computed by both neighbours).
"""

import numpy as np

from cython.parallel cimport prange
from libc.string cimport memmove

from ._conv cimport _im2col_row
from ._depthwise cimport Geometry, dw_row
from ._packed_gemm cimport el_gemm, el_packed_cols
from ._vec8 cimport el_force_baseline, el_have_avx2_fma
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
    Py_ssize_t ebuf_rows  # head rows ebuf holds


def have_avx2():
    """Whether this module's kernels run their AVX2 + FMA build on this CPU."""
    return bool(el_have_avx2_fma())


def use_baseline(bint baseline):
    """Tests: run this module's kernels in their baseline build (or back to the best)."""
    el_force_baseline(baseline)


cdef void _pack_panels(const float32_t[:, ::1] w, float32_t* packed, Py_ssize_t cols,
                       Py_ssize_t width) noexcept nogil:
    # Panel p holds outputs p*width .. p*width+width-1 as [k][width]; outputs past n are
    # zeros. Rows of w are read as ``width`` sequential streams (cache friendly).
    cdef Py_ssize_t n = w.shape[0], k = w.shape[1], p, first, kk, j
    cdef float32_t* dst
    for p in range(cols // width):
        first = p * width
        dst = packed + first * k
        for kk in range(k):
            for j in range(width):
                dst[kk * width + j] = w[first + j, kk] if first + j < n else 0


def packed_floats(Py_ssize_t n, Py_ssize_t k):
    """Floats pack_weights writes for [n, k] weights (what a pool must hold for them)."""
    return max(1, el_packed_cols(n) * k)


def pack_weights(w, bias, pool=None):
    """[n, k] weights and bias (may be empty) -> (packed panels, bias padded to match).

    Panels of 16 outputs, [k][16] each; when at most 8 outputs remain, the last panel
    is [k][8]; missing outputs are zeros (see _packed_gemm.pxd). ``pool(floats)``, when
    given, hands out the float32 array to pack into. A typed loop rather than numpy
    transposes: packing is load time (MobileNetV2 packs ~9 MB).
    """
    cdef const float32_t[:, ::1] wv = np.ascontiguousarray(w, np.float32)
    bias = np.asarray(bias, np.float32).reshape(-1)
    cdef Py_ssize_t n = wv.shape[0], k = wv.shape[1]
    if bias.shape[0] not in (0, n):
        raise ValueError(f"bias has {bias.shape[0]} values for {n} outputs")
    cdef Py_ssize_t cols = el_packed_cols(n)
    cdef Py_ssize_t full = n // 16 * 16  # outputs in whole 16-wide panels
    floats = packed_floats(n, k)
    packed = np.empty(floats, np.float32) if pool is None else pool(floats)
    cdef float32_t[::1] pv = packed
    if pv.shape[0] < floats:
        raise ValueError(f"pool gave {pv.shape[0]} floats for {floats} packed weights")
    with nogil:
        if full:
            _pack_panels(wv[:full], &pv[0], full, 16)
        if cols > full and k:
            _pack_panels(wv[full:], &pv[full * k], cols - full, cols - full)
    padded = np.zeros(max(1, cols), np.float32)
    padded[: bias.shape[0]] = bias
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
    # Output rows y0..y1-1 of one image, a band at a time. The head rows held,
    # [held_lo, held_hi), sit in ebuf from buffer row `first` on; new rows are appended
    # behind them, and only when the buffer's end is reached are the rows still needed
    # moved back to its front (ebuf holds two bands' worth: one move every few bands).
    cdef Py_ssize_t row_e = c.ew * c.ce, row_o = c.ow * c.oc, first = 0
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
                first = 0
            elif need_lo > held_lo:
                first += need_lo - held_lo
                held_lo = need_lo
            if first + need_hi - held_lo > c.ebuf_rows:
                memmove(ebuf, ebuf + first * row_e,
                        (held_hi - held_lo) * row_e * sizeof(float32_t))
                first = 0
            if need_hi > held_hi:
                _head_rows(c, x, held_hi, need_hi, ebuf + (first + held_hi - held_lo) * row_e,
                           NULL, cols)
                held_hi = need_hi
            # The buffer seen as an image of its rows: see Geometry in _depthwise.pxd.
            src = ebuf + first * row_e
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


cdef class FusedBlock:
    """One fused chain and its packed weights (checked at load, packed at the first run).

    Its band buffers live in a scratch array that every chain of a plan shares (the
    chains run one after the other, and a shared buffer stays in cache):
    ``scratch_floats`` says how many floats it needs, ``use_scratch`` hands it over;
    without one, the first run allocates its own.

    ``head``: None or (filter [n, kh, kw, cin], bias or None, lo, hi, window, (oh, ow))
    with window (kh, kw, sh, sw, dh, dw, pad_t, pad_l); ``dw``: None or (filter
    [kh, kw, c], bias or None, lo, hi, steps) with steps (sh, sw, dh, dw, pad_t,
    pad_l), depth multiplier 1; ``tail``: None or (filter [n, c], bias or None, lo,
    hi). ``band``: output rows per band; ``cols_rows``: head rows per im2col chunk.
    """

    cdef Chain c
    cdef list keep  # the arrays the Chain's pointers point into
    cdef list pending  # GEMM weights to pack at the first run: (is_tail, w, bias, pool)
    cdef float32_t[::1] buffers
    cdef object scratch
    cdef readonly Py_ssize_t scratch_floats
    cdef readonly int threads
    cdef readonly tuple in_shape, out_shape

    def __init__(self, tuple in_shape, tuple out_shape, head, dw, tail, int band,
                 int cols_rows, int num_threads, pool=None):
        cdef Chain* c = &self.c
        cdef Py_ssize_t h = in_shape[1], w = in_shape[2], cin = in_shape[3]
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.keep, self.pending = [], []
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
            self._set_head(head, pool)
        if c.has_dw:
            self._set_depthwise(dw)
        if c.has_tail:
            self._set_tail(tail, pool)
        self._check_output()
        self._size_buffers(num_threads)

    cdef _set_head(self, tuple head, pool):
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
        c.head = Gemm(NULL, NULL, lo, hi, n, c.kh * c.kw * c.cin)
        w2d = np.ascontiguousarray(filt, np.float32).reshape(n, -1)
        self.pending.append((False, w2d, _bias(bias), pool))

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

    cdef _set_tail(self, tuple tail, pool):
        cdef Chain* c = &self.c
        filt, bias, lo, hi = tail
        filt = np.ascontiguousarray(filt, np.float32)
        if filt.ndim != 2 or filt.shape[1] != c.ce:
            raise ValueError(f"tail filter {filt.shape} does not take {c.ce} channels")
        c.tail = Gemm(NULL, NULL, lo, hi, filt.shape[0], c.ce)
        self.pending.append((True, filt, _bias(bias), pool))

    cdef _pack(self):
        # Weights are packed at the first run, not at load (as ruy packs lazily): load
        # stays as quick as the unfused kernels', which use the model's weights in place.
        cdef Gemm* stage
        cdef const float32_t[::1] weights
        cdef const float32_t[::1] bias
        for is_tail, w, b, pool in self.pending:
            packed = pack_weights(w, b, pool)
            self.keep.append(packed)
            weights, bias = packed[0], packed[1]
            stage = &self.c.tail if is_tail else &self.c.head
            stage.packed, stage.bias = &weights[0], &bias[0]
        self.pending = []

    cdef _check_output(self):
        cdef Chain* c = &self.c
        cdef Py_ssize_t oc = c.tail.n if c.has_tail else c.ce
        if self.out_shape[0] != self.in_shape[0] or c.oc != oc:
            raise ValueError(f"output shape {self.out_shape} does not match the chain")
        if not c.has_dw and (c.oh != c.eh or c.ow != c.ew):
            raise ValueError(f"output shape {self.out_shape} does not match the head")

    cdef _size_buffers(self, int num_threads):
        cdef Chain* c = &self.c
        cdef Py_ssize_t rows
        work = <double>self.in_shape[0] * c.oh * c.ow * max(1, c.ce) * max(1, c.cin)
        self.threads = max(1, min(threads_for(work, num_threads), c.oh))
        # Room for the rows of two bands: see _run_rows.
        rows = min(c.eh, (c.band - 1) * c.g.sh + (c.g.kh - 1) * c.g.dh + 1)
        c.ebuf_rows = min(c.eh, rows + c.band * c.g.sh)
        c.ebuf = c.ebuf_rows * c.ew * c.ce if c.has_head and c.has_dw else 0
        c.dbuf = c.band * c.ow * c.ce if c.has_tail else 0
        c.cols = 0 if not c.has_head or c.head_pointwise else c.cols_rows * c.ew * c.head.k
        # 16 spare floats between the threads' buffers keep them on separate cache lines.
        self.scratch_floats = max(1, self.threads * (c.ebuf + c.dbuf + c.cols + 16))

    def use_scratch(self, scratch):
        """Run in ``scratch`` (float32, at least ``scratch_floats`` long) from now on."""
        cdef float32_t[::1] view = scratch
        if view.shape[0] < self.scratch_floats:
            raise ValueError(f"scratch of {view.shape[0]} floats; {self.scratch_floats} needed")
        self.scratch, self.buffers = scratch, view

    def run(self, x, res, out):
        """Compute the chain for input ``x`` (and residual ``res`` or None) into ``out``."""
        cdef const float32_t[:, :, :, ::1] xv = x
        cdef float32_t[:, :, :, ::1] ov = out
        cdef const float32_t[:, :, :, ::1] rv
        cdef const float32_t* r = NULL
        if not (_same_shape(xv.shape, self.in_shape) and _same_shape(ov.shape, self.out_shape)):
            raise ValueError(f"fused chain built for {self.in_shape} -> {self.out_shape}, "
                             f"got {tuple(x.shape)} -> {tuple(out.shape)}")
        if res is not None:
            rv = res
            if not _same_shape(rv.shape, self.out_shape):
                raise ValueError(f"residual {tuple(res.shape)} is not {self.out_shape}")
            r = &rv[0, 0, 0, 0]
        if self.scratch is None:
            self.use_scratch(np.empty(self.scratch_floats, np.float32))
        if self.pending:
            self._pack()
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


cdef bint _same_shape(Py_ssize_t* shape, tuple want):
    return (shape[0] == <Py_ssize_t>want[0] and shape[1] == <Py_ssize_t>want[1]
            and shape[2] == <Py_ssize_t>want[2] and shape[3] == <Py_ssize_t>want[3])


def _bias(bias):
    if bias is None:
        return np.zeros(0, np.float32)
    return np.ascontiguousarray(bias, np.float32).reshape(-1)


cdef const float32_t* _address(b):
    cdef const float32_t[::1] view = b
    return &view[0]
