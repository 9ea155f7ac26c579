"""Throughput of gpufin's CPU path kernels against QuantLib and plain numpy, in one run.

Measures path-steps per second (paths x time steps) on an arithmetic-Asian call with
252 fixings over one year, fixing k on day round(k * 365 / 252) as gpufin schedules it:
- gpufin's GBM kernel (spot 100, strike 100, vol 0.3, rate 0.05; geometric-average
  control variate on, antithetic off) at 1 and 2 numba threads;
- gpufin's Schwartz-Smith kernel with launch jumps and shortage spikes (spot 2.4,
  at-the-money strike), same 252 steps, at 1 and 2 numba threads;
- QuantLib's MCDiscreteArithmeticAPEngine on the GBM Asian (pseudorandom, no variance
  reduction, 20,000 samples), single-threaded;
- a vectorized numpy version of the GBM Asian (chunks of 20,000 paths), single-threaded.
Each case is warmed up (JIT compile or cache load) and timed as the best of 3 runs
(one run for a case slower than 2 s, where timer noise no longer matters).
Ratios compare throughputs within this run; per-core ratios divide by the thread count.
Prices and standard errors are printed alongside, to show the cases agree.
Last, one warm `gpufin.price` call (European on GBM, 100,000 paths, Monte Carlo) is
timed; end-to-end CLI timing (process start, imports) is not measured here.

    PYTHONPATH=. python bench/bench_kernels.py [--paths N] [--quick]

--paths sets the paths of the gpufin and numpy cases (default 1,000,000; --quick: 100,000).
"""
from __future__ import annotations

import argparse
import math
import os
import time
from typing import NamedTuple

import numba
import numpy as np
import QuantLib as ql
from textable import format_table

import gpufin
from gpufin.engines.analytic import gbm_process, geometric_strip_mean
from gpufin.engines.montecarlo import estimate, kernel_call, simulate_sums, time_grid
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.index import build_model
from gpufin.spec.reader import load_spec
from gpufin.spec.times import DAYS_PER_YEAR
from pricing_kernels.payoff import BLOCK

GBM = {"kind": "gbm", "spot": 100.0, "vol": 0.3, "rate": 0.05}
SCHWARTZ_SMITH = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0,
                  "short_vol": 0.5, "long_vol": 0.2, "correlation": 0.3, "long_drift": -0.29,
                  "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
                  "spike_intensity": 0.5, "spike_jump_mean": 0.18, "spike_jump_vol": 0.1}
FIXINGS = 252
QL_SAMPLES = 20_000
NUMPY_CHUNK = 20_000
REPEATS = 3
SLOW_SECONDS = 2.0
SEED = 1
THREADS = [n for n in (1, 2) if n <= numba.config.NUMBA_NUM_THREADS]


class Row(NamedTuple):
    case: str
    threads: int
    paths: int
    steps: int
    seconds: float
    price: float
    stderr: float

    @property
    def rate(self) -> float:
        """Path-steps per second."""
        return self.paths * self.steps / self.seconds


def asian(model: dict, paths: int):
    """Market, model and payoff plan of an at-the-money 1-year Asian call on `model`."""
    spec = load_spec({"model": model,
                      "instrument": {"kind": "asian", "option": "call", "strike": model["spot"],
                                     "maturity": 1.0, "fixings": FIXINGS},
                      "mc": {"paths": paths, "seed": SEED, "antithetic": False}})
    market = build_market(spec.market, spec.model.rate)
    model = build_model(spec.model, spec.timeline)
    return market, model, build_plan(spec.instrument, spec.model.spot, spec.timeline)


def best_of(run):
    """(fastest wall time of up to REPEATS calls, result of the last call); a case whose
    first call takes over SLOW_SECONDS is timed once."""
    times = []
    while len(times) < REPEATS and (not times or times[0] < SLOW_SECONDS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def gpufin_rows(case: str, model_spec: dict, paths: int, control_variate: bool) -> list[Row]:
    market, model, plan = asian(model_spec, paths)
    grid = time_grid(plan, model, None)
    kernel, args = kernel_call(model, grid, [plan], market)
    cv_mean = geometric_strip_mean(model, market, plan) if control_variate else None
    simulate_sums(kernel, args, BLOCK, SEED, False)
    rows = []
    for threads in THREADS:
        numba.set_num_threads(threads)
        seconds, sums = best_of(lambda: simulate_sums(kernel, args, paths, SEED, False))
        est = estimate(sums[0], cv_mean)
        rows.append(Row(case, threads, paths, grid.size - 1, seconds, est.value, est.stderr))
    return rows


def quantlib_row() -> Row:
    market, model, plan = asian(GBM, QL_SAMPLES)
    (period,) = plan.periods
    process = gbm_process(model, market)

    def run():
        option = ql.DiscreteAveragingAsianOption(
            ql.Average.Arithmetic, 0.0, 0, [market.ql_date(round(t * DAYS_PER_YEAR)) for t in period.print_times],
            ql.PlainVanillaPayoff(ql.Option.Call, period.strike),
            ql.EuropeanExercise(market.ql_date(round(period.pay_time * DAYS_PER_YEAR))))
        option.setPricingEngine(ql.MCDiscreteArithmeticAPEngine(
            process, "pseudorandom", requiredSamples=QL_SAMPLES, seed=SEED))
        return option.NPV(), option.errorEstimate()

    seconds, (value, stderr) = best_of(run)
    return Row("QuantLib MC, GBM", 1, QL_SAMPLES, len(period.print_times), seconds, value, stderr)


def numpy_asian(times: np.ndarray, paths: int) -> tuple[float, float]:
    """Discounted arithmetic-Asian call on GBM fixing at `times` (years): price and standard error."""
    spot, vol, rate = GBM["spot"], GBM["vol"], GBM["rate"]
    dt = np.diff(times, prepend=0.0)
    drift, scale = (rate - 0.5 * vol ** 2) * dt, vol * np.sqrt(dt)
    rng = np.random.default_rng(SEED)
    total = total_sq = 0.0
    for first in range(0, paths, NUMPY_CHUNK):
        logs = rng.standard_normal((min(NUMPY_CHUNK, paths - first), times.size))
        logs *= scale
        logs += drift
        np.cumsum(logs, axis=1, out=logs)
        payoff = np.maximum(spot * np.exp(logs).mean(axis=1) - spot, 0.0)
        total += payoff.sum()
        total_sq += np.square(payoff).sum()
    mean = total / paths
    var = (total_sq - paths * mean * mean) / (paths - 1)
    df = math.exp(-rate * times[-1])
    return df * mean, df * math.sqrt(var / paths)


def numpy_row(paths: int) -> Row:
    _, _, plan = asian(GBM, paths)
    times = np.array(plan.periods[0].print_times)
    seconds, (value, stderr) = best_of(lambda: numpy_asian(times, paths))
    return Row("numpy, GBM", 1, paths, times.size, seconds, value, stderr)


def table(rows: list[Row]) -> str:
    """Aligned text table, throughput ratios against the QuantLib and numpy rows."""
    ref = {r.case: r.rate for r in rows if r.case.startswith(("QuantLib", "numpy"))}
    ql_rate, np_rate = ref["QuantLib MC, GBM"], ref["numpy, GBM"]
    header = ("case", "threads", "paths", "steps", "seconds", "M path-steps/s", "x QuantLib",
              "x QuantLib/core", "x numpy", "x numpy/core", "price", "stderr")
    cells = [header] + [
        (r.case, str(r.threads), f"{r.paths:,}", str(r.steps), f"{r.seconds:.3f}",
         f"{r.rate / 1e6:.1f}", f"{r.rate / ql_rate:.1f}", f"{r.rate / ql_rate / r.threads:.1f}",
         f"{r.rate / np_rate:.2f}", f"{r.rate / np_rate / r.threads:.2f}",
         f"{r.price:.4f}", f"{r.stderr:.4f}") for r in rows]
    return format_table(cells)


def warm_price_seconds() -> float:
    """Wall time of a second `gpufin.price` call (the first one compiles and builds)."""
    spec = {"model": GBM,
            "instrument": {"kind": "european", "option": "call", "strike": 100.0, "maturity": 1.0},
            "mc": {"paths": 100_000, "seed": SEED, "method": "mc"}}
    gpufin.price(spec)
    start = time.perf_counter()
    gpufin.price(spec)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, help="paths of the gpufin and numpy cases")
    parser.add_argument("--quick", action="store_true", help="100,000 paths instead of 1,000,000")
    opts = parser.parse_args()
    paths = opts.paths or (100_000 if opts.quick else 1_000_000)

    rows = (gpufin_rows("gpufin GBM (CV)", GBM, paths, True)
            + gpufin_rows("gpufin Schwartz-Smith", SCHWARTZ_SMITH, paths, False)
            + [quantlib_row(), numpy_row(paths)])
    print(f"{FIXINGS}-fixing arithmetic-Asian call, 1 year; best of {REPEATS} (1 if over "
          f"{SLOW_SECONDS:g} s); {os.cpu_count()} CPUs, numba {numba.__version__}, "
          f"numpy {np.__version__}, QuantLib {ql.__version__}")
    print(table(rows))
    print("x REF: path-steps/s over REF's (single-threaded); /core: that ratio over threads.\n"
          "Schwartz-Smith (spot 2.4, jumps and spikes) has no reference: its ratios compare "
          "throughput only.\nOnly 'gpufin GBM (CV)' uses a control variate, hence its smaller stderr.")

    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    print(f"\ngpufin.price, European on GBM, 100,000 paths, mc, {numba.get_num_threads()} threads, "
          f"warm: {warm_price_seconds() * 1e3:.1f} ms (end-to-end CLI timing is not measured here)")


if __name__ == "__main__":
    main()
