"""A hedge run against a plain price of its exposure, timed in one run, warm.

Exposure: the shipped non-IG deal (data/deals/non_ig_ddtl.toml, a loan on a 10,000-GPU H200
fleet); candidates: the four quarters of the 12-month H200 strip (data/examples/hedges/
h200_strip_q*.toml). Cases, each at --paths paths (default 100,000), after a warm-up of every
case at 2,000 paths in the same process (kernels compiled or loaded, QuantLib and data read):
- price: gpufin.price of the deal (the baseline);
- hedge, variance: gpufin.hedge.run.hedge with the four candidates, minimum variance;
- hedge, es: the same, minimum 99% ES (the linear programme).
Each case runs --repeats times; the table shows the fastest and its ratio to the baseline.

    PYTHONPATH=. python bench/bench_hedge.py [--paths N] [--repeats R]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loan_speed import cpu_model  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEAL = str(ROOT / "data/deals/non_ig_ddtl.toml")
STRIPS = [str(ROOT / f"data/examples/hedges/h200_strip_q{q}.toml") for q in (1, 2, 3, 4)]


def cases(paths: int) -> dict:
    """Name -> a call running the case at `paths` paths."""
    import gpufin
    from gpufin.hedge.run import hedge
    overrides = [f"mc.paths={paths}"]
    return {"price": lambda: gpufin.price(DEAL, overrides),
            "hedge, variance": lambda: hedge(DEAL, STRIPS, "1Y", "variance", overrides),
            "hedge, es": lambda: hedge(DEAL, STRIPS, "1Y", "es", overrides)}


def fastest(call, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    for call in cases(2_000).values():
        call()
    load_before = os.getloadavg()
    seconds = {name: fastest(call, args.repeats) for name, call in cases(args.paths).items()}
    load = os.getloadavg()
    print(f"Hedge against price, non-IG deal and four H200 strip quarters, {args.paths:,} paths, fastest "
          f"of {args.repeats}; {cpu_model()}, {os.cpu_count()} CPUs, numba {numba.__version__} "
          f"({numba.config.NUMBA_NUM_THREADS} threads); load average {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f} at start, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end")
    base = seconds["price"]
    cells = [["case", "seconds", "x price"]]
    cells += [[name, f"{s:.2f}", f"{s / base:.2f}"] for name, s in seconds.items()]
    print(format_table(cells))


if __name__ == "__main__":
    main()
