"""Kernels over independent work items (blocks of paths, lane groups, paths) on numba's thread
count, run by Python threads.

Each kernel has serial loops, is compiled with nogil=True and takes a range lo .. hi - 1 of
its items, writing only those items' rows of an output its caller allocates. run_ranges
splits the items into a few ranges per thread and runs them on a pool of
numba.get_num_threads() threads. An item's arithmetic does not depend on which range or
thread runs it, so a result is the same bit for bit whatever the thread count. Without a
prange loop numba builds no gufunc around the kernel's body: the GBM Asian's first price
compiles in about two thirds of the CPU time (5.9 s against 9.3 s).

A range kernel still goes through numba's parallel pipeline (pricing_kernels.PRANGE): with
no prange loop it builds no gufunc and starts no threads of its own, and compiled without
that pipeline the same GBM Asian kernel ran 3.4 times slower (one thread, measured).
numba's warning that such a kernel has nothing to run in parallel is expected, and silenced.
"""
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from pricing_kernels import CACHE, PRANGE

RANGES_PER_THREAD = 4          # a few ranges per thread, so a slow one does not hold the rest

warnings.filterwarnings("ignore", message=r"\s*The keyword argument 'parallel=True' was specified",
                        category=numba.NumbaPerformanceWarning)


def range_kernel(function=None, *, error_model: str = "numpy"):
    """A kernel over a range of items: serial loops, cached, run without the GIL (as
    @range_kernel, or @range_kernel(error_model=...))."""
    if function is None:
        return lambda f: range_kernel(f, error_model=error_model)
    return numba.njit(cache=CACHE, parallel=PRANGE, nogil=True, error_model=error_model)(function)


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of `threads` threads, started once per process and thread count (a call costs
    no thread start-up: many small kernel calls, as a book's, would pay it each time)."""
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="gpufin-kernel")
    return _pools[threads]


os.register_at_fork(after_in_child=_pools.clear)    # a forked child has none of the threads


def run_ranges(kernel, n_items: int, *args) -> None:
    """Call kernel(lo, hi, *args) on ranges that cover items 0 .. n_items - 1 once each, on
    numba.get_num_threads() threads (in this thread when there is one, or one item)."""
    threads = min(numba.get_num_threads(), n_items)
    if threads <= 1:
        if n_items > 0:
            kernel(0, n_items, *args)
        return
    bounds = np.linspace(0, n_items, min(n_items, threads * RANGES_PER_THREAD) + 1).astype(np.int64)
    pool = _pool(threads)
    for done in [pool.submit(kernel, int(lo), int(hi), *args) for lo, hi in zip(bounds[:-1], bounds[1:])]:
        done.result()


def map_threads(function, items: list) -> list:
    """[function(item) for item in items], the items shared out over numba.get_num_threads()
    threads: for NumPy work that releases the GIL (sorting, partitioning), whose result does
    not depend on the thread that computes it."""
    threads = min(numba.get_num_threads(), len(items))
    if threads <= 1:
        return [function(item) for item in items]
    return list(_pool(threads).map(function, items))


def block_sums(kernel, n_sums: int, n_blocks: int, seed, n_paths, first_block, antithetic, model, payoff,
               *extra) -> np.ndarray:
    """stats[payoff, block, sum] of a price kernel over blocks 0 .. n_blocks - 1 (a block with
    no paths sums to zero): kernel(lo, hi, stats, seed, n_paths, first_block, antithetic,
    model, payoff, *extra) adds the sums of blocks lo .. hi - 1."""
    stats = np.zeros((payoff.flags.shape[0], n_blocks, n_sums))
    run_ranges(kernel, n_blocks, stats, seed, n_paths, first_block, antithetic, model, payoff, *extra)
    return stats
