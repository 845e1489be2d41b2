# How many OpenMP threads a kernel should really use.
#
# Starting a parallel region costs a few microseconds on an idle machine, and when
# the cores are busy a worker that is not scheduled stalls the whole region for a
# scheduler tick (milliseconds). Small ops therefore run on one thread: each extra
# thread must get at least WORK_PER_THREAD units of work (multiply-adds or element
# operations), about 30-50 microseconds of single-core time for our kernels.

cdef enum:
    WORK_PER_THREAD = 262144


cdef inline int threads_for(double work, int wanted) noexcept nogil:
    cdef int useful = <int>(work / WORK_PER_THREAD)
    if useful < 1:
        return 1
    return useful if useful < wanted else max(wanted, 1)
