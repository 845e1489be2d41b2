"""Optimized GATHER (batch_dims = 0) and EMBEDDING_LOOKUP: row copies by index.

The params tensor is seen as (outer, rows, row bytes) and each index selects one
row per outer position, so any dtype is a memcpy. Indices are all checked
before anything is written; ``run`` returns the flat position of the first bad
one (or -1) and the caller raises.
"""

from cython.parallel cimport prange
from libc.stdint cimport int16_t, int32_t, int64_t
from libc.string cimport memcpy

import numpy as np

ctypedef fused index_t:
    int16_t
    int32_t
    int64_t


cdef Py_ssize_t _first_bad(const index_t* idx, Py_ssize_t count, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(count):
        if idx[t] < 0 or idx[t] >= rows:
            return t
    return -1


cdef void _copy_rows(const char* src, char* dst, const index_t* idx, Py_ssize_t count,
                     Py_ssize_t outer, Py_ssize_t rows, Py_ssize_t row_bytes,
                     int threads) noexcept nogil:
    cdef Py_ssize_t task, o, t
    for task in prange(outer * count, num_threads=threads, schedule="static"):
        o = task // count
        t = task % count
        memcpy(dst + task * row_bytes, src + (o * rows + idx[t]) * row_bytes, row_bytes)


cdef Py_ssize_t _gather(const index_t[::1] idx, const unsigned char[::1] src,
                        unsigned char[::1] dst, Py_ssize_t outer, Py_ssize_t rows,
                        Py_ssize_t row_bytes, int threads):
    cdef Py_ssize_t count = idx.shape[0]
    cdef Py_ssize_t bad
    if count == 0:
        return -1
    with nogil:
        bad = _first_bad(&idx[0], count, rows)
        if bad < 0 and dst.shape[0]:
            _copy_rows(<const char*>&src[0], <char*>&dst[0], &idx[0], count, outer, rows,
                       row_bytes, threads)
    return bad


def run(params, indices, out, Py_ssize_t outer, Py_ssize_t rows, int num_threads=1):
    """out[o, t] = params[o, indices[t]] over (outer, rows, ...) rows; -1 or a bad position."""
    if not (params.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("gather needs C-contiguous params and output")
    if params.dtype != out.dtype or outer < 1 or rows < 0:
        raise ValueError(f"bad gather of {params.dtype} into {out.dtype} over {outer} x {rows}")
    row = params.size // (outer * rows) if rows else 0
    flat_idx = np.ascontiguousarray(indices).reshape(-1)
    if params.size != outer * rows * row or out.size != outer * flat_idx.size * row:
        raise ValueError(f"gather shapes do not match {outer} x {rows} rows of {row}")
    src = params.reshape(-1).view(np.uint8)
    dst = out.reshape(-1).view(np.uint8)
    row_bytes = row * params.dtype.itemsize
    threads = max(num_threads, 1)
    if flat_idx.dtype == np.int16:
        return _gather[int16_t](flat_idx, src, dst, outer, rows, row_bytes, threads)
    if flat_idx.dtype == np.int32:
        return _gather[int32_t](flat_idx, src, dst, outer, rows, row_bytes, threads)
    if flat_idx.dtype == np.int64:
        return _gather[int64_t](flat_idx, src, dst, outer, rows, row_bytes, threads)
    raise ValueError(f"gather indices of type {flat_idx.dtype} are not supported")
