"""numba kernels over scalars and contiguous arrays. Compiled kernels are cached on disk
unless the environment sets GPUFIN_CACHE=0 (then every process compiles afresh)."""
import os

CACHE = os.environ.get("GPUFIN_CACHE", "1") != "0"
