"""gpufin.price against a speed-of-light kernel for the same GBM arithmetic Asian, in one run.

The baseline is the least a Monte Carlo kernel can do for this trade: lanes of paths, four
counter-based normals per Philox call (pricing_kernels.rng, the generator gpufin uses),
exact GBM log steps, a running sum of the fixings and the discounted payoff's sum and sum of
squares; no event lists, no variance reduction, no schedule bookkeeping. gpufin.price prices
the same trade (1,000,000 paths, 252 fixings over a year, at the money, GBM spot 100, vol
0.3, rate 0.05; Monte Carlo, antithetic and control variate off) end to end. Both are warmed
up (compiled or loaded), then timed best of 3 at 1 and 2 numba threads, in wall time and in
CPU time of the process (all threads: on a shared machine, CPU time drifts less than wall
time, and its ratio is the per-core ratio whatever the thread count).

Targets (issue "speed that holds"): gpufin.price >= 0.85 x the baseline per core, and 2
threads >= 1.85 x one thread. Prices are printed to show both price the same option.

    PYTHONPATH=. python bench/bench_light.py [--paths N]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange
from textable import format_table

import gpufin
from pricing_kernels.payoff import LANES
from pricing_kernels.rng import normals4_lane, split_seed
from pricing_kernels.vecmath import exp_vec

SPOT, STRIKE, VOL, RATE, FIXINGS, SEED = 100.0, 100.0, 0.3, 0.05, 252, 1
TRADE = {"model": {"kind": "gbm", "spot": SPOT, "vol": VOL, "rate": RATE},
         "instrument": {"kind": "asian", "option": "call", "strike": STRIKE, "maturity": 1.0,
                        "fixings": FIXINGS},
         "mc": {"seed": SEED, "method": "mc", "antithetic": False, "control_variate": False}}


@njit(parallel=True, cache=True, error_model="numpy")
def light_asian(seed, n_paths, log_spot, drift, vol, strike, discount):
    """(sum, sum of squares) of the discounted arithmetic-Asian call payoff over n_paths
    paths of `drift.size` equal log steps (a multiple of LANES paths)."""
    k0, k1 = split_seed(seed)
    groups = n_paths // LANES
    sums = np.zeros((groups, 2))
    for g in prange(groups):
        ids = np.empty(LANES, dtype=np.uint64)
        z = np.empty((4, LANES))
        log_s = np.full(LANES, log_spot)
        total = np.zeros(LANES)
        for lane in range(LANES):
            ids[lane] = np.uint64(g * LANES + lane)
        for step in range(drift.size):
            row = step % 4
            if row == 0:
                for lane in range(LANES):
                    z0, z1, z2, z3 = normals4_lane(k0, k1, ids[lane], 0, step // 4)
                    z[0, lane], z[1, lane], z[2, lane], z[3, lane] = z0, z1, z2, z3
            for lane in range(LANES):
                log_s[lane] += drift[step] + vol[step] * z[row, lane]
                total[lane] += exp_vec(log_s[lane])
        for lane in range(LANES):
            payoff = discount * max(total[lane] / drift.size - strike, 0.0)
            sums[g, 0] += payoff
            sums[g, 1] += payoff * payoff
    return sums.sum(axis=0)


def light_price(paths: int) -> tuple[float, float]:
    """Price and standard error of the baseline (fixings equally spaced over one year)."""
    dt = np.full(FIXINGS, 1.0 / FIXINGS)
    total, squares = light_asian(np.uint64(SEED), paths, math.log(SPOT), (RATE - 0.5 * VOL ** 2) * dt,
                                 VOL * np.sqrt(dt), STRIKE, math.exp(-RATE))
    mean = total / paths
    return mean, math.sqrt(max(squares / paths - mean * mean, 0.0) / paths)


def best_of_three(run) -> tuple[float, float, tuple]:
    """Best wall seconds, best CPU seconds (all threads of the process) and the result."""
    walls, cpus, result = [], [], None
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus), result


def machine() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def measure(paths: int) -> dict:
    """{threads: (light wall s, light CPU s, (light price, se), price wall s, price CPU s, result)}
    at 1 and 2 numba threads, each best of 3 after a warm-up call; `paths` a multiple of LANES."""
    trade = {**TRADE, "mc": {**TRADE["mc"], "paths": paths}}
    gpufin.price({**trade, "mc": {**trade["mc"], "paths": 1024}})       # compile or load
    light_price(1024)
    timings = {}
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        light_s, light_cpu, light = best_of_three(lambda: light_price(paths))
        price_s, price_cpu, result = best_of_three(lambda: gpufin.price(trade))
        timings[threads] = (light_s, light_cpu, light, price_s, price_cpu, result)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return timings


def ratios(timings: dict) -> tuple[float, float]:
    """(gpufin.price / speed of light per core, the worse of 1 and 2 threads, in wall time;
    gpufin.price 2 threads / 1 thread), both as speeds: higher is faster."""
    per_core = min(t[0] / t[3] for t in timings.values())
    return per_core, timings[1][3] / timings[2][3]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1_000_000)
    paths = parser.parse_args().paths // LANES * LANES
    load = os.getloadavg()[0]
    timings = measure(paths)
    rows = []
    for threads, (light_s, light_cpu, (light_value, light_se), price_s, price_cpu, result) in timings.items():
        steps = paths * FIXINGS / 1e6
        rows.append([f"{threads}", "speed of light", f"{light_s:.3f}", f"{light_cpu:.3f}",
                     f"{steps / light_s / threads:.1f}", f"{light_value:.4f} +- {light_se:.4f}", "", ""])
        rows.append([f"{threads}", "gpufin.price", f"{price_s:.3f}", f"{price_cpu:.3f}",
                     f"{steps / price_s / threads:.1f}", f"{result['value']:.4f} +- {result['stderr']:.4f}",
                     f"{light_s / price_s:.2f}", f"{light_cpu / price_cpu:.2f}"])
    print(f"GBM arithmetic Asian, {paths:,} paths x {FIXINGS} fixings; {machine()}, {os.cpu_count()} CPUs, "
          f"numba {numba.__version__}, 1-min load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    header = ["threads", "case", "seconds", "CPU seconds", "M path-steps/s per core", "price",
              "x speed of light", "x speed of light (CPU)"]
    print(format_table([header, *rows]))
    per_core, scaling = ratios(timings)
    print(f"gpufin.price / speed of light per core (worst of 1 and 2 threads): {per_core:.2f} "
          f"(target >= 0.85: {'PASS' if per_core >= 0.85 else 'FAIL'}); gpufin.price 2 threads / 1 thread: "
          f"{scaling:.2f} (target >= 1.85: {'PASS' if scaling >= 1.85 else 'FAIL'})")


if __name__ == "__main__":
    main()
