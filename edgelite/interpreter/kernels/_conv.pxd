# The im2col row of _conv.pyx, shared with the fused convolution chains
# (_fused_block.pyx), which gather the patches of a few output rows at a time.

ctypedef float float32_t


cdef void _im2col_row(const float32_t* x, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                      float32_t* dst, Py_ssize_t oy, Py_ssize_t ow, Py_ssize_t kh,
                      Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                      Py_ssize_t dw, Py_ssize_t pad_t, Py_ssize_t pad_l, Py_ssize_t c0,
                      Py_ssize_t cg) noexcept nogil
