"""gpufin's performance targets, each measured once and checked: one table, PASS or FAIL.

Rows (targets 1-3 reuse bench_kernels, target 5 reuses bench_portfolio):
1. GBM arithmetic-Asian kernel (252 fixings), 1 thread: >= 150 M path-steps/s per core;
   QuantLib's MCDiscreteArithmeticAPEngine and plain numpy run alongside as baselines.
2. the same kernel at 2 numba threads: >= 1.8 x its 1-thread throughput.
3. Schwartz-Smith kernel with jumps, 1 thread: within a factor 1.5 of the GBM kernel.
4. DDTL-style loan on the default H100 gpu-fleet (income valuation, covenants, cash
   sweep), 100,000 paths, 5 years monthly: one warm `gpufin.price` call <= 2 s (best of 3,
   in a subprocess); the revision `--loan-base` (default HEAD), checked out into a temporary
   git worktree, runs alongside as the baseline (bench_loan_speed).
5. 10,000-position book valued with Greeks (`value_book`) <= 60 s and <= 1/3 of the time of
   the revision `--book-base` (default 04c7cd0), checked out into a temporary git worktree and
   timed in the same run (bench_var.run_case: a subprocess per tree, after a warm-up). --quick
   values a 1,000-position book against a target scaled to 6 s and says so in the row.
6. `gpufin --help` wall time <= 0.3 s (best of 5).
7. `gpufin price data/examples/european.toml`, warm, <= 1 s (best of 3).
8. `gpufin price data/examples/asian.toml` with GPUFIN_CACHE=0 (compiles from scratch) <= 15 s.
9. peak RSS of `gpufin price` on a 12-fixing GBM Asian (mc.method = "mc") grows <= 10%
   from 100,000 to 10,000,000 paths (max RSS from /usr/bin/time -f %M).
Kernel paths: 1,000,000 (--quick: 200,000). Rows 6-9 run the `gpufin` command of this
interpreter's environment in subprocesses.

    PYTHONPATH=. python bench/bench_targets.py [--quick] [--loan-base REV]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kernels as bk  # noqa: E402
import bench_loan_speed as bls  # noqa: E402
import bench_portfolio as bp  # noqa: E402
import bench_var as bv  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"
GPUFIN = shutil.which("gpufin", path=str(Path(sys.executable).parent)) or "gpufin"


def asian_spec(paths: int) -> dict:
    return {"model": bk.GBM,
            "instrument": {"kind": "asian", "option": "call", "strike": 100.0, "maturity": 1.0,
                           "fixings": 12},
            "mc": {"paths": paths, "seed": 1, "method": "mc"}}


def wall(args: list[str], env: dict | None = None) -> float:
    """Wall seconds of one subprocess; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env={**os.environ, **(env or {})},
                   cwd=ROOT)
    return time.perf_counter() - start


def peak_rss_kib(args: list[str], folder: Path) -> int:
    """Max RSS of one subprocess, from /usr/bin/time -f %M. (The rusage that os.wait4 or
    RUSAGE_CHILDREN report here would carry this process's own, larger, high-water mark:
    the child is spawned from it and Linux keeps the pre-exec peak.)"""
    out = folder / "rss.txt"
    subprocess.run([TIME, "-f", "%M", "-o", str(out), *args], stdout=subprocess.DEVNULL,
                   check=True, cwd=ROOT)
    return int(out.read_text().split()[-1])


def best_wall(args: list[str], n: int) -> float:
    return min(wall(args) for _ in range(n))


def book_seconds(size: int, folder: Path, base: str) -> tuple[float, float]:
    """(head, base) seconds of value_book with Greeks on the size-position book, each tree in
    its own subprocess after a warm-up (bench_var.run_case)."""
    books = bv.books(folder, size)
    job = {"kind": "value", "book": str(books["large"]), "kwargs": {}, "warm": str(books["warm"])}
    with bls.worktree(base) as base_tree:
        base_seconds = bv.run_case(base_tree, job)["seconds"]
    return bv.run_case(ROOT, job)["seconds"], base_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="200,000 kernel paths; 1,000-position book against a scaled target")
    parser.add_argument("--loan-base", default="HEAD",
                        help="git revision timed alongside the loan of row 4 (default HEAD)")
    parser.add_argument("--book-base", default=bv.BASE,
                        help=f"git revision timed alongside the book of row 5 (default {bv.BASE})")
    args = parser.parse_args()
    quick = args.quick
    paths = 200_000 if quick else 1_000_000
    rows = []  # (target, measured, baseline, ratio, ok)

    def add(target, measured, baseline, ratio, ok):
        rows.append((target, measured, baseline, ratio, "PASS" if ok else "FAIL"))

    gbm = {r.threads: r.rate for r in bk.gpufin_rows("GBM", bk.GBM, paths, True)}
    ss = {r.threads: r.rate for r in bk.gpufin_rows("SS", bk.SCHWARTZ_SMITH, paths, False)}
    ql_rate, np_rate = bk.quantlib_row().rate, bk.numpy_row(paths).rate
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    add(f"1 GBM Asian kernel, 1 thread, {paths:,} paths >= 150 M path-steps/s",
        f"{gbm[1] / 1e6:.1f} M/s", f"QuantLib {ql_rate / 1e6:.2f}, numpy {np_rate / 1e6:.1f} M/s",
        f"{gbm[1] / ql_rate:.0f}x QL, {gbm[1] / np_rate:.1f}x numpy", gbm[1] >= 150e6)
    if 2 in gbm:
        add("2 same kernel, 2 threads >= 1.8 x 1 thread", f"{gbm[2] / 1e6:.1f} M/s",
            f"{gbm[1] / 1e6:.1f} M/s (1 thread)", f"{gbm[2] / gbm[1]:.2f}x", gbm[2] >= 1.8 * gbm[1])
    else:
        rows.append(("2 same kernel, 2 threads >= 1.8 x 1 thread", "not run", "-", "-",
                     f"n/a ({numba.config.NUMBA_NUM_THREADS} numba thread)"))
    add("3 Schwartz-Smith+jumps kernel, 1 thread >= GBM / 1.5", f"{ss[1] / 1e6:.1f} M/s",
        f"{gbm[1] / 1e6:.1f} M/s (GBM)", f"GBM is {gbm[1] / ss[1]:.2f}x", gbm[1] <= 1.5 * ss[1])

    loan = bls.compare(args.loan_base, repeats=3, rounds=1)
    seconds, base = loan["head"]["seconds"], loan["base"]["seconds"]
    add("4 DDTL loan, H100 fleet, 100,000 paths, 5y monthly <= 2 s", f"{seconds:.2f} s",
        f"{args.loan_base} ({bls.short_revision(args.loan_base)}) {base:.2f} s",
        f"{seconds / 2:.2f} x target, {seconds / base:.2f} x base", seconds <= 2)

    with tempfile.TemporaryDirectory(prefix="gpufin-targets-") as tmp:
        folder = Path(tmp)
        size, limit = (1_000, 6.0) if quick else (10_000, 60.0)
        seconds, base = book_seconds(size, folder, args.book_base)
        target = ("5 10,000-pos book + Greeks <= 60 s, <= 1/3 base: NOT RUN (--quick); 1,000 pos vs "
                  "scaled 6 s" if quick else "5 10,000-position book with Greeks <= 60 s, <= 1/3 base")
        ok = seconds <= limit and seconds <= base / 3
        rows.append((target, f"{seconds:.1f} s",
                     f"{args.book_base} ({bls.short_revision(args.book_base)}) {base:.1f} s",
                     f"{seconds / limit:.2f} x target, {seconds / base:.2f} x base",
                     ("PASS" if ok else "FAIL") + (" (scaled)" if quick else "")))

        seconds = best_wall([GPUFIN, "--help"], 5)
        add("6 `gpufin --help` <= 0.3 s (best of 5)", f"{seconds:.2f} s", "-",
            f"{seconds / 0.3:.2f} x target", seconds <= 0.3)
        european = [GPUFIN, "price", "data/examples/european.toml"]
        wall(european)
        seconds = best_wall(european, 3)
        add("7 `gpufin price european.toml`, warm <= 1 s (best of 3)", f"{seconds:.2f} s", "-",
            f"{seconds / 1:.2f} x target", seconds <= 1)
        seconds = wall([GPUFIN, "price", "data/examples/asian.toml"], {"GPUFIN_CACHE": "0"})
        add("8 `gpufin price asian.toml`, GPUFIN_CACHE=0 <= 15 s", f"{seconds:.1f} s", "-",
            f"{seconds / 15:.2f} x target", seconds <= 15)

        rss = {}
        for n in (100_000, 100_000, 10_000_000):   # the first run only warms the cache
            spec = folder / f"asian-{n}.json"
            spec.write_text(json.dumps(asian_spec(n)))
            rss[n] = peak_rss_kib([GPUFIN, "price", str(spec)], folder)
        growth = rss[10_000_000] / rss[100_000] - 1
        add("9 peak RSS, 12-fixing Asian, 1e5 -> 1e7 paths, growth <= 10%",
            f"{rss[10_000_000] / 1024:.0f} MiB", f"{rss[100_000] / 1024:.0f} MiB (1e5 paths)",
            f"{growth:+.1%}", growth <= 0.10)

    print(f"gpufin performance targets{' (--quick)' if quick else ''}; {os.cpu_count()} CPUs, "
          f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} numba threads, "
          f"1-min load average {os.getloadavg()[0]:.2f}")
    header = ("target", "measured", "baseline (same run)", "ratio", "result")
    cells = [header] + rows
    print(format_table(cells))


if __name__ == "__main__":
    main()
