"""Throughput of `value_book` with Greeks: in-process, on a local Dask cluster, and by book size.

Every case values a book with `gpufin.portfolio.value_book(..., greeks=True)` (base value
plus four bumped revaluations per position) and reports positions per second:
- the sample book (data/sample_book.csv, 227 positions: 3 loan deals, futures,
  swaps, floors, European and Asian options on two Schwartz-Smith indices), in-process,
  then split into its 224 non-loan rows and its 3 loans, to show where the time goes;
- a tiny book (2 futures) on a fresh local Dask cluster (`workers`, default 2, one thread
  and NUMBA_NUM_THREADS=1 each): `value_book` starts and stops a cluster on every call, so
  this row is the start-up and shut-down cost; then the sample book on such a cluster,
  and its time less that start-up cost (derived, not measured);
- larger books, in-process: the 3 loan rows once, then the sample's non-loan rows
  repeated (ids suffixed -r001, -r002, ...; strikes and swap fixed rates moved by up to
  +-1% per repetition); a partial repetition takes evenly spaced rows, so each size keeps
  the sample's mix of instrument kinds.
A size whose predicted time (linear in the positions, from the sizes already measured)
exceeds --max-seconds is not run; its row is an extrapolation and is labelled as such.
Numba kernels are warmed up (one position of each kind and the three loans) before any
timing. Each case is timed once, wall clock; the ratio column divides by the time of the
first in-process sample-book run of this same invocation. The sample book is valued again
at the end: the gap between the two runs, and the load averages printed in the header,
show how much other work on the machine moved the numbers. Books and outputs are written to a
temporary directory that is removed at the end.

    PYTHONPATH=. python bench/bench_portfolio.py [--quick] [--sizes 200,1000,10000] [--workers 2]

Default sizes: 227, 1,000, 3,000, 10,000 (--quick: 227 and 1,000).
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numba
from textable import format_table

from gpufin.portfolio.value import value_book

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample_book.csv"
SIZES = [227, 1_000, 3_000, 10_000]
QUICK_SIZES = [227, 1_000]
MAX_SECONDS = 600.0
TINY = 2
VARIED = ("instrument.strike", "instrument.fixed_rate")


class Row(NamedTuple):
    case: str
    positions: int
    workers: str
    seconds: float
    rate: bool = True            # False: positions/s is not meaningful (start-up row)


# ---- books -------------------------------------------------------------------------------------

def read_sample() -> tuple[list[str], list[dict], list[dict]]:
    """Columns, loan rows (spec paths made absolute) and non-loan rows of the sample book."""
    with SAMPLE.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames)
    loans, others = [], []
    for row in rows:
        if row.get("spec"):
            loans.append({**row, "spec": str((SAMPLE.parent / row["spec"]).resolve())})
        else:
            others.append(row)
    return columns, loans, others


def repeated(row: dict, k: int) -> dict:
    """Repetition k of a non-loan row: new id and strikes moved by up to +-1% (k=0: as is)."""
    if k == 0:
        return row
    factor = 1 + 0.002 * ((k * 7) % 11 - 5)
    out = {**row, "id": f"{row['id']}-r{k:03d}"}
    for column in VARIED:
        if out.get(column):
            out[column] = f"{float(out[column]) * factor:.4f}"
    return out


def scaled_rows(loans: list[dict], others: list[dict], size: int) -> list[dict]:
    """The loans once, then `size - len(loans)` non-loan rows (full repetitions of the
    sample's, then evenly spaced ones)."""
    wanted = size - len(loans)
    full, rest = divmod(wanted, len(others))
    rows = list(loans)
    for k in range(full):
        rows += [repeated(r, k) for r in others]
    rows += [repeated(others[i * len(others) // rest], full) for i in range(rest)] if rest else []
    return rows


def write_book(folder: Path, name: str, columns: list[str], rows: list[dict]) -> Path:
    path = folder / f"{name}.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---- timing ------------------------------------------------------------------------------------

def timed(book: Path, folder: Path, workers: int | None = None) -> tuple[float, int, int]:
    """(seconds, positions, rows in error) of one `value_book` call with Greeks (its loan rows
    name the shipped deals, outside the book's temporary folder)."""
    start = time.perf_counter()
    results, _ = value_book(book, folder / f"{book.stem}-{workers or 0}.out.csv", greeks=True,
                            workers=workers, allow_outside=True)
    seconds = time.perf_counter() - start
    return seconds, len(results), int(results["error"].notna().sum())


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(intercept, slope) of seconds against positions: least squares over two or more
    sizes, proportional through the origin for one."""
    if len(points) == 1:
        n, t = points[0]
        return 0.0, t / n
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def table(rows: list[Row], base: float) -> str:
    """Aligned text table; ratio = seconds over the in-process sample-book seconds."""
    header = ("case", "positions", "workers", "seconds", "positions/s", "s per 1,000 pos",
              "x time of 227 run")
    cells = [header] + [
        (r.case, f"{r.positions:,}", r.workers, f"{r.seconds:.1f}",
         f"{r.positions / r.seconds:.1f}" if r.rate else "-",
         f"{r.seconds / r.positions * 1000:.1f}" if r.rate else "-",
         f"{r.seconds / base:.2f}") for r in rows]
    return format_table(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 227 and 1,000 only")
    parser.add_argument("--sizes", help="comma-separated book sizes, e.g. 200,1000,10000")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help=f"extrapolate sizes predicted to take longer (default {MAX_SECONDS:g})")
    opts = parser.parse_args()
    sizes = ([int(s.replace("_", "")) for s in opts.sizes.split(",")] if opts.sizes
             else QUICK_SIZES if opts.quick else SIZES)
    logging.getLogger("distributed").setLevel(logging.ERROR)

    columns, loans, others = read_sample()
    sample_size = len(loans) + len(others)
    if min(sizes) <= len(loans):
        parser.error(f"sizes must exceed the {len(loans)} loan rows")
    errors = 0
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gpufin-bench-") as tmp:
        folder = Path(tmp)
        kinds = {}
        for row in others:
            kinds.setdefault(row["instrument.kind"], row)
        warm = write_book(folder, "warmup", columns, loans + list(kinds.values()))
        value_book(warm, folder / "warmup.out.csv", greeks=True, allow_outside=True)

        rows: list[Row] = []

        def run(case, book, workers=None, rate=True):
            nonlocal errors
            seconds, n, bad = timed(book, folder, workers)
            errors += bad
            rows.append(Row(case, n, str(workers) if workers else "in-proc", seconds, rate))
            return seconds

        base = run("sample book", write_book(folder, "sample", columns, loans + others))
        run("sample book, non-loan rows only", write_book(folder, "no-loans", columns, others))
        run("sample book, loans only", write_book(folder, "loans", columns, loans))
        startup = run(f"Dask start-up + shut-down ({TINY} futures)",
                      write_book(folder, "tiny", columns, others[:TINY]), opts.workers, rate=False)
        dask = run("sample book, Dask (incl. start-up)", write_book(folder, "sample-dask", columns,
                                                                     loans + others), opts.workers)
        rows.append(Row("sample book, Dask, less start-up (derived)", sample_size,
                        str(opts.workers), dask - startup))

        measured = [(sample_size, base)]
        extrapolated = []
        for size in sorted(set(sizes)):
            if size == sample_size:
                continue
            intercept, slope = linear_fit(measured)
            if intercept + slope * size > opts.max_seconds:
                extrapolated.append(size)
                continue
            book = write_book(folder, f"book-{size}", columns, scaled_rows(loans, others, size))
            measured.append((size, run(f"{size:,}-position book", book)))
        run("sample book, again at the end (drift check)",
            write_book(folder, "sample-again", columns, loans + others))
        intercept, slope = linear_fit(measured)
        for size in extrapolated:
            rows.append(Row(f"{size:,}-position book, EXTRAPOLATED (not run)", size, "in-proc",
                            intercept + slope * size))

    print(f"value_book with Greeks (base + 4 bumped revaluations per position); one run per case; "
          f"{os.cpu_count()} CPUs (1-min load average {load_before:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end); in-proc: numba {numba.get_num_threads()} threads; Dask: "
          f"{opts.workers} worker processes x 1 thread, NUMBA_NUM_THREADS=1; numba {numba.__version__}")
    print(table(rows, base))
    print(f"x time of 227 run: seconds over the in-process sample-book run ({base:.1f} s). "
          f"Rows in error across all runs: {errors}.\n"
          f"Larger books: the {len(loans)} loans once, the {len(others)} non-loan rows repeated "
          f"with strikes moved by up to +-1%.\nThe Dask start-up row values a {TINY}-position "
          f"book; value_book starts a new cluster on every call, so each Dask run pays it.")
    if extrapolated:
        print(f"EXTRAPOLATED rows were predicted to exceed {opts.max_seconds:g} s and were not run: "
              f"seconds = {intercept:.2f} + {slope * 1000:.2f} x positions / 1,000, a least-squares "
              f"line through the measured in-process sizes ({', '.join(f'{n:,}' for n, _ in measured)}).")


if __name__ == "__main__":
    main()
