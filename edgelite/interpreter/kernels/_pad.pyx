"""Optimized constant PAD / PADV2 on raw 1, 2, 4 or 8-byte elements (every dtype).

The numpy reference fills the whole output and then copies the input over its
middle, touching the interior twice. Here each output row (all axes but the
last) is written once: a fill, or fill + input row + fill. ``plan`` (prepare
time) folds unpadded trailing axes into the one before, so an NHWC pad of H and
W becomes rows of W*C elements.
"""

from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

import math

import numpy as np

ctypedef fused word:
    uint8_t
    uint16_t
    uint32_t
    uint64_t

cdef enum:
    MAX_DIMS = 8

_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def plan(tuple shape, tuple pairs):
    """(shape, befores, afters) with unpadded trailing axes folded into their left neighbour."""
    dims = [int(d) for d in shape]
    befores = [int(b) for b, _ in pairs]
    afters = [int(a) for _, a in pairs]
    while len(dims) > 1 and befores[len(dims) - 1] == 0 and afters[len(dims) - 1] == 0:
        inner = dims.pop()
        befores.pop()
        afters.pop()
        last = len(dims) - 1
        dims[last] *= inner
        befores[last] *= inner
        afters[last] *= inner
    return tuple(dims), tuple(befores), tuple(afters)


cdef inline void _fill(word* dst, Py_ssize_t n, word value) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = value


cdef void _pad_rows(const word* src, word* dst, word value, Py_ssize_t ndims,
                    const Py_ssize_t* in_dims, const Py_ssize_t* out_dims,
                    const Py_ssize_t* befores, const Py_ssize_t* in_strides,
                    Py_ssize_t rows, int threads) noexcept nogil:
    cdef Py_ssize_t last = ndims - 1
    cdef Py_ssize_t row_in = in_dims[last], row_out = out_dims[last], lead = befores[last]
    cdef Py_ssize_t r, d, rest, coord, src_row
    cdef bint inside
    cdef word* out
    for r in prange(rows, num_threads=threads, schedule="static"):
        out = dst + r * row_out
        rest = r
        src_row = 0
        inside = True
        for d in range(last - 1, -1, -1):
            coord = rest % out_dims[d] - befores[d]
            rest = rest // out_dims[d]
            if coord < 0 or coord >= in_dims[d]:
                inside = False
            src_row = src_row + coord * in_strides[d]
        if inside and row_in:
            _fill(out, lead, value)
            memcpy(out + lead, src + src_row, row_in * sizeof(word))
            _fill(out + lead + row_in, row_out - lead - row_in, value)
        else:
            _fill(out, row_out, value)


cdef void _dispatch(const word[::1] src, word[::1] dst, word value, tuple shape,
                    tuple befores, tuple afters, int threads):
    cdef Py_ssize_t n = len(shape)
    cdef Py_ssize_t in_dims[MAX_DIMS]
    cdef Py_ssize_t out_dims[MAX_DIMS]
    cdef Py_ssize_t pre[MAX_DIMS]
    cdef Py_ssize_t strides[MAX_DIMS]
    cdef Py_ssize_t i, rows = 1
    for i in range(n):
        in_dims[i] = shape[i]
        pre[i] = befores[i]
        out_dims[i] = in_dims[i] + pre[i] + <Py_ssize_t>afters[i]
    strides[n - 1] = 1
    for i in range(n - 2, -1, -1):
        strides[i] = strides[i + 1] * in_dims[i + 1]
    for i in range(n - 1):
        rows *= out_dims[i]
    # An empty input leaves nothing to copy; the row loop would still index it.
    cdef const word* src_ptr = &src[0] if src.shape[0] else NULL
    with nogil:
        _pad_rows(src_ptr, &dst[0], value, n, in_dims, out_dims, pre, strides, rows, threads)


def run(src, dst, fill, tuple shape, tuple befores, tuple afters, int num_threads=1):
    """dst = src padded with ``fill`` (a plan() result for src's element count)."""
    if not (src.flags.c_contiguous and dst.flags.c_contiguous):
        raise ValueError("pad needs C-contiguous input and output")
    if src.dtype != dst.dtype or src.dtype.itemsize not in _WORDS:
        raise ValueError(f"pad of {src.dtype} into {dst.dtype} is not supported")
    n = len(shape)
    if not 1 <= n <= MAX_DIMS or len(befores) != n or len(afters) != n:
        raise ValueError(f"bad pad plan {shape} {befores} {afters}")
    out_size = math.prod([d + b + a for d, b, a in zip(shape, befores, afters)])
    if math.prod(shape) != src.size or out_size != dst.size:
        raise ValueError(f"pad plan {shape} does not match {src.size} -> {dst.size} elements")
    if dst.size == 0:
        return
    word_type = _WORDS[src.dtype.itemsize]
    bits = np.array(fill, dtype=src.dtype).view(word_type)[()]
    flat_src = src.reshape(-1).view(word_type)
    flat_dst = dst.reshape(-1).view(word_type)
    threads = max(num_threads, 1)
    if word_type is np.uint8:
        _dispatch[uint8_t](flat_src, flat_dst, bits, shape, befores, afters, threads)
    elif word_type is np.uint16:
        _dispatch[uint16_t](flat_src, flat_dst, bits, shape, befores, afters, threads)
    elif word_type is np.uint32:
        _dispatch[uint32_t](flat_src, flat_dst, bits, shape, befores, afters, threads)
    else:
        _dispatch[uint64_t](flat_src, flat_dst, bits, shape, befores, afters, threads)
