"""Build edgelite's Cython extensions (every edgelite/**/*.pyx).

Compiler directives are set once here. ``EDGELITE_DEBUG=1`` turns bounds checks,
wraparound and None checks back on (and -O0 -g) for debugging a kernel.
"""

import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("EDGELITE_DEBUG", "") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}
COMPILE_ARGS = ["-O0", "-g"] if DEBUG else ["-O3", "-fno-math-errno"]
# OpenMP for num_threads in the heavy kernels; builds without it still work single-threaded.
OPENMP = os.environ.get("EDGELITE_OPENMP", "1") != "0"


# EDGELITE_PYX=glob builds only matching modules (handy while working on one kernel).
ONLY = os.environ.get("EDGELITE_PYX", "*")


def extensions():
    exts = []
    for pyx in sorted(Path("edgelite").rglob("*.pyx")):
        if not pyx.match(ONLY):
            continue
        module = ".".join(pyx.with_suffix("").parts)
        exts.append(
            Extension(
                module,
                [str(pyx)],
                include_dirs=[np.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=COMPILE_ARGS + (["-fopenmp"] if OPENMP else []),
                extra_link_args=["-fopenmp"] if OPENMP else [],
            )
        )
    return cythonize(exts, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=extensions())
