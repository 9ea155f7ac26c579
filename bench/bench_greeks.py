"""Delta and vega at the cost of a few prices: pathwise Greeks against bump-and-revalue, in one run.

Tables:
1. one trade, warm, best of --repeats: `gpufin.price` alone, `gpufin.price(..., greeks=True)`
   (pathwise delta and vega in the same kernel pass) and bump-and-revalue (5 prices on common
   random numbers: base, spot x 1.01 and x 0.99, volatility +-0.01), for a GBM arithmetic Asian
   (12 and 252 fixings), a Merton Asian and a Schwartz-Smith Asian with launch jumps.
2. a 1,000-position book built from data/sample_book.csv as bench_portfolio.py builds it
   (3 loans, 997 index derivatives), and its 997 derivatives alone, valued with Greeks by
   `value_book`: delta and vega by bumps (the estimators switched off in this process: base +
   4 bumped revaluations per position, as before pathwise Greeks) and from the pathwise pass or
   the closed form (base + 3; loans keep their bumps), alternating, best of two each.
3. cold compile (GPUFIN_CACHE=0, fresh subprocesses) of a GBM Asian's price kernel and of its
   price-and-Greeks twin, each alone (a run compiles only the one it uses).
Ratios are within this run; the header prints the load average.

    PYTHONPATH=. python bench/bench_greeks.py [--quick] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_portfolio as bp  # noqa: E402
from textable import format_table  # noqa: E402

import gpufin  # noqa: E402
from gpufin.engines.pricing import price_many  # noqa: E402
from gpufin.portfolio import positions  # noqa: E402
from gpufin.risk.bumps import bump_vol, scale_index  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GBM = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}
MERTON = {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.3, "rate": 0.04, "jump_intensity": 1.0,
          "jump_mean": -0.16, "jump_vol": 0.1}
SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0, "short_vol": 0.45,
      "long_vol": 0.2, "correlation": -0.3, "long_drift": -0.13, "launch_intensity": 1.0,
      "launch_jump_mean": -0.16, "launch_jump_vol": 0.1}
CASES = [("GBM Asian, 12 fixings", GBM, 12), ("GBM Asian, 252 fixings", GBM, 252),
         ("Merton Asian, 52 fixings", MERTON, 52), ("Schwartz-Smith Asian, 252 fixings", SS, 252)]
BOOK_SIZE = 1_000
COMPILE = """
import time, gpufin
start = time.perf_counter()
gpufin.price({doc}, greeks={greeks})
print(time.perf_counter() - start)
"""


def asian(model: dict, fixings: int, paths: int) -> dict:
    return {"model": model, "instrument": {"kind": "asian", "option": "call", "strike": 2.4,
                                           "maturity": 1.0, "fixings": fixings},
            "mc": {"paths": paths, "seed": 1, "method": "mc"}}


def bump_and_revalue(doc: dict) -> None:
    """The 5 prices of central-difference delta and vega (each bump its own kernel pass)."""
    price_many([doc, scale_index(doc, 1.01), scale_index(doc, 0.99), bump_vol(doc, 0.01),
                bump_vol(doc, -0.01)])


def best(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def trade_seconds(doc: dict, small: dict, repeats: int) -> tuple[float, float, float]:
    """Best warm seconds of `doc` priced alone, with pathwise Greeks and by bump-and-revalue,
    after `small` (the same trade at few paths) has compiled or loaded the kernels."""
    gpufin.price(small, greeks=True)
    bump_and_revalue(small)
    return (best(lambda: gpufin.price(doc), repeats), best(lambda: gpufin.price(doc, greeks=True), repeats),
            best(lambda: bump_and_revalue(doc), repeats))


def trade_rows(paths: int, repeats: int) -> list[tuple]:
    rows = []
    for name, model, fixings in CASES:
        doc = asian(model, fixings, paths)
        small = asian(model, fixings, 2_048)
        alone, pathwise, bumps = trade_seconds(doc, small, repeats)
        rows.append((name, f"{alone:.3f}", f"{pathwise:.3f}", f"{bumps:.3f}",
                     f"{pathwise / alone:.2f}", f"{bumps / alone:.2f}", f"{bumps / pathwise:.1f}"))
    return rows


@contextmanager
def bumped_delta_and_vega():
    """value_book as before pathwise Greeks: no position has an estimator, so delta and vega
    come from the bumps (this process only)."""
    original = positions.has_greek_estimator
    positions.has_greek_estimator = lambda instrument, model: False
    try:
        yield
    finally:
        positions.has_greek_estimator = original


def book_rows(folder: Path) -> list[tuple]:
    columns, loans, others = bp.read_sample()
    kinds = {r["instrument.kind"]: r for r in others}
    warm = bp.write_book(folder, "warmup", columns, loans + list(kinds.values()))
    bp.timed(warm, folder)
    with bumped_delta_and_vega():
        bp.timed(warm, folder)
    rows = []
    for name, book_loans in ((f"{BOOK_SIZE:,}-position book", loans),
                             (f"its {BOOK_SIZE - len(loans)} derivatives", [])):
        book = bp.write_book(folder, f"book-{len(book_loans)}", columns,
                             bp.scaled_rows(book_loans, others, BOOK_SIZE - len(loans) + len(book_loans)))
        rows += book_pair(name, book, folder)
    return rows


def book_pair(name: str, book: Path, folder: Path) -> list[tuple]:
    """The book valued with bumped delta and vega, then with estimated ones, twice over."""
    times = {"bumps": [], "pathwise": []}
    for _ in range(2):
        with bumped_delta_and_vega():
            times["bumps"].append(bp.timed(book, folder)[0])
        times["pathwise"].append(bp.timed(book, folder)[0])
    bumps, pathwise = min(times["bumps"]), min(times["pathwise"])
    runs = {k: ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()}
    return [(f"{name}, delta and vega by bumps (base + 4)", f"{bumps:.1f}", runs["bumps"], "1.00"),
            (f"{name}, pathwise or closed form (base + 3)", f"{pathwise:.1f}", runs["pathwise"],
             f"{pathwise / bumps:.2f}")]


def compile_seconds(greeks: bool) -> float:
    """A fresh process pricing a small GBM Asian with an empty kernel cache."""
    script = COMPILE.format(doc=repr(asian(GBM, 12, 2_048)), greeks=greeks)
    env = {**os.environ, "GPUFIN_CACHE": "0"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=env, cwd=ROOT)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 paths a trade, not 1,000,000")
    parser.add_argument("--repeats", type=int, default=3, help="timings per trade case (best of)")
    opts = parser.parse_args()
    paths = 200_000 if opts.quick else 1_000_000
    load = os.getloadavg()[0]
    trades = trade_rows(paths, opts.repeats)
    with tempfile.TemporaryDirectory(prefix="gpufin-greeks-") as tmp:
        books = book_rows(Path(tmp))
    cold = {"price": compile_seconds(False), "greeks": compile_seconds(True)}
    print(f"Pathwise Greeks against bump-and-revalue; {os.cpu_count()} CPUs, numba {numba.__version__}, "
          f"{numba.get_num_threads()} numba threads, 1-min load average {load:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")
    print(f"\n1. one trade, {paths:,} paths, warm, best of {opts.repeats} (seconds)")
    print(format_table([("case", "price", "price+greeks", "bump (5 prices)", "greeks / price",
                         "bump / price", "bump / greeks")] + trades))
    print("\n2. value_book with Greeks (seconds; best of the runs listed)")
    print(format_table([("case", "seconds", "runs", "x bumps")] + books))
    print("\n3. cold compile, GBM Asian, a fresh process with GPUFIN_CACHE=0 (seconds, imports included)")
    print(format_table([("kernel", "seconds"), ("lognormal_stats (price)", f"{cold['price']:.1f}"),
                        ("lognormal_greek_stats (price and Greeks)", f"{cold['greeks']:.1f}")]))


if __name__ == "__main__":
    main()
