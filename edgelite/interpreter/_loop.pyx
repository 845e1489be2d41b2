"""The invoke loop: run a precomputed execution plan with minimal per-node overhead.

A plan is a tuple of steps, each a tuple ``(invoke, data, inputs, outputs)``
built once per ``allocate_tensors``: the kernel's invoke function, its immutable
op data, and the lists of input/output arrays (views into the arena). The loop
only indexes tuples and calls; every decision was taken in prepare.

The GIL: steps are Python-level callables (numpy reference kernels and the
``def`` wrappers of Cython kernels), so the loop holds the GIL between nodes;
each optimized kernel releases it for its heavy loop (``with nogil`` inside its
wrapper), which is where the time goes.
"""

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


class StepFailed(Exception):
    """Step ``index`` raised; the original exception is ``__cause__``."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index


def run_steps(tuple steps):
    """Run every step in order; a failing step raises StepFailed(index) from its error."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = len(steps)
    cdef tuple step
    try:
        for i in range(n):
            step = <tuple>steps[i]
            step[0](step[1], step[2], step[3])
    except Exception as exc:
        raise StepFailed(i) from exc


cdef inline long long _now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


def run_steps_timed(tuple steps, long long[::1] elapsed_ns):
    """Like run_steps, adding each step's wall time (ns) to ``elapsed_ns[i]``."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = len(steps)
    cdef tuple step
    cdef long long start
    if elapsed_ns.shape[0] < n:
        raise ValueError(f"elapsed_ns has {elapsed_ns.shape[0]} slots for {n} steps")
    try:
        for i in range(n):
            step = <tuple>steps[i]
            start = _now_ns()
            step[0](step[1], step[2], step[3])
            elapsed_ns[i] += _now_ns() - start
    except Exception as exc:
        raise StepFailed(i) from exc
