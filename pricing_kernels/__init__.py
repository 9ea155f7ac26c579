"""numba kernels over scalars and contiguous arrays. Compiled kernels are cached on disk
unless the environment sets GPUFIN_CACHE=0 (then every process compiles afresh).

PRANGE is the `parallel` option of every range kernel (pricing_kernels.threads, which runs
them on Python threads): numba's parallel pipeline with every array-expression rewrite off
(the kernels hold no whole-array NumPy expressions for numba to fuse, and no prange loop).
LLVM runs at
optimization level 2 unless NUMBA_OPT says otherwise: it vectorizes the lane loops as
level 3 does, and compiles a kernel in about two thirds of the time. With
GPUFIN_COMPILE_NOTICE=1 (set by the command line) a compilation says so on stderr
(pricing_kernels.notice).

CALLED is the option set of a function that only kernels call (a lane group's start and
settlement, the shared draws): numba builds it no wrapper for calls from Python, whose
argument unboxing would be compiled for nothing. Such a function cannot be called from Python
(a test calls it through a small @njit function)."""
import os

os.environ.setdefault("NUMBA_OPT", "2")     # read by numba on import, so set it first

from pricing_kernels.notice import announce_compiles  # noqa: E402  (numba after NUMBA_OPT)

CACHE = os.environ.get("GPUFIN_CACHE", "1") != "0"
if os.environ.get("GPUFIN_COMPILE_NOTICE") == "1":
    announce_compiles()
PRANGE = {"prange": True, "fusion": False, "numpy": False, "comprehension": False,
          "reduction": False, "setitem": False, "inplace_binop": False, "stencil": False}
CALLED = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
