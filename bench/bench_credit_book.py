"""Credit risk of a loan book (`gpufin portfolio credit`), timed in one run.

1. The sample book data/books/gpu_loans.csv (22 GPU loans) at 50,000 paths, in process, with
   Euler contributions: the joint simulation (gpufin.loanbook.run.book_losses) and the analytics
   (gpufin.loanbook.risk.credit_risk) timed apart. Target: under 60 s in all on 2 cores.
2. How the time grows with the number of loans: the sample book's rows repeated (new ids; the
   customers, platforms and SKUs stay shared) to 22, 44, 110 and 220 loans, each at the same
   path count (5,000; --quick: 2,000), with the ratio to the 22-loan book timed in the same run.

Kernels are compiled (or loaded from the cache) by a warm-up on a few paths first. One process,
numba's default thread count.

    PYTHONPATH=. python bench/bench_credit_book.py [--quick]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loan_speed import cpu_model  # noqa: E402
from textable import format_table  # noqa: E402

from gpufin.loanbook.book import load_loan_book  # noqa: E402
from gpufin.loanbook.risk import credit_risk  # noqa: E402
from gpufin.loanbook.run import book_losses  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "data" / "books" / "gpu_loans.csv"
PATHS, TARGET_S = 50_000, 60.0
COPIES = (1, 2, 5, 10)


def repeated_book(folder: Path, copies: int) -> Path:
    """The sample book's rows `copies` times (ids suffixed), spec paths made absolute."""
    with open(BOOK, newline="") as f:
        rows = list(csv.DictReader(f))
    path = folder / f"book-x{copies}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for k in range(copies):
            for row in rows:
                writer.writerow({**row, "id": f"{row['id']}-{k}", "spec": str(BOOK.parent / row["spec"])})
    return path


def timed(book, paths: int) -> tuple[float, float, dict]:
    """Seconds of the joint simulation and of the analytics (1-year horizon, 99%)."""
    start = time.perf_counter()
    losses = book_losses(book, paths, seed=1, horizon=1.0)
    middle = time.perf_counter()
    result, _ = credit_risk(losses, 0.99, 1.0)
    return middle - start, time.perf_counter() - middle, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 paths in the growth table")
    args = parser.parse_args()
    growth_paths = 2_000 if args.quick else 5_000
    load_before = os.getloadavg()
    sample = load_loan_book(BOOK)
    timed(sample, 200)                                    # warm-up: kernels compiled or loaded
    simulate, analytics, result = timed(sample, PATHS)
    growth = []
    with tempfile.TemporaryDirectory(prefix="gpufin-bench-credit-") as tmp:
        for copies in COPIES:
            book = load_loan_book(repeated_book(Path(tmp), copies), allow_outside=True)
            growth.append((len(book.ids), *timed(book, growth_paths)[:2]))
    load = os.getloadavg()
    print(f"Credit risk of a loan book; {cpu_model()}, {os.cpu_count()} CPUs, numba {numba.__version__} "
          f"({numba.config.NUMBA_NUM_THREADS} threads); load average {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f} at start, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end")
    total = simulate + analytics
    print(format_table([
        ("case", "simulate (s)", "analytics (s)", "total (s)", "target"),
        (f"{len(sample.ids)} loans, {PATHS:,} paths, with contributions", f"{simulate:.1f}", f"{analytics:.2f}",
         f"{total:.1f}", f"{'PASS' if total < TARGET_S else 'FAIL'} (< {TARGET_S:.0f} s)")]))
    print(f"  ES 99% (1 year) {result['es'] / 1e6:,.1f} +- {result['es_stderr'] / 1e6:,.1f} USD m, "
          f"EL {result['expected_loss'] / 1e6:,.2f} +- {result['expected_loss_stderr'] / 1e6:,.2f} USD m")
    print()
    base = growth[0][1] + growth[0][2]
    cells = [("loans", f"simulate (s, {growth_paths:,} paths)", "analytics (s)", "total (s)",
              f"total / {growth[0][0]} loans", "ms per loan per 1,000 paths")]
    for loans, sim, ana in growth:
        cells.append((str(loans), f"{sim:.1f}", f"{ana:.2f}", f"{sim + ana:.1f}", f"{(sim + ana) / base:.2f}",
                      f"{1e3 * (sim + ana) / loans / (growth_paths / 1e3):.0f}"))
    print(format_table(cells))


if __name__ == "__main__":
    main()
