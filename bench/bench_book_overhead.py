"""A 1,000-position book valued with Greeks at two revisions, timed in one run: the
per-position Python work of a book (reading its rows, validating each position's spec and
resolving its times) against the same book at a base revision.

The book is the sample's non-loan rows (data/sample_book.csv) repeated to 1,000 positions
with strikes moved by up to 1% (bench_portfolio.scaled_rows). The base revision (default
HEAD) is checked out with `git worktree` into a temporary folder; the head is this working
tree. Each measurement is a fresh subprocess on one tree (PYTHONPATH = that tree): a 50-row
book first compiles or loads the tree's kernels, then `--repeats` calls of
`value_book(book, greeks=True, allow_outside=True)` are timed and the best kept. Rounds
alternate between the trees so that both see the same load; the best over the rounds is
reported, with a digest of each tree's result rows (id, values, standard errors, Greeks,
errors; floats as Python writes them): equal digests mean equal bits.

    PYTHONPATH=. python bench/bench_book_overhead.py [--base REV] [--size 1000] [--repeats 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loan_speed import cpu_model, short_revision, worktree  # noqa: E402
from bench_portfolio import read_sample, scaled_rows, write_book  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WARM_ROWS = 50

TIMER = """
import hashlib, json, sys, time
from gpufin.portfolio.value import value_book
warm, book, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
value_book(warm, greeks=True, allow_outside=True)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    results, _ = value_book(book, greeks=True, allow_outside=True)
    best = min(best, time.perf_counter() - start)
columns = ["id", "unit_value", "value", "stderr", "delta", "gamma", "vega", "dv01", "error"]
rows = json.dumps(results[columns].values.tolist(), default=str)
print(json.dumps({"seconds": best, "positions": len(results),
                  "errors": int(results["error"].notna().sum()),
                  "digest": hashlib.sha256(rows.encode()).hexdigest()[:16]}))
"""


def book_seconds(tree: Path, warm: Path, book: Path, repeats: int) -> dict:
    """Best seconds of value_book on `book` over `repeats` calls on `tree` (one subprocess),
    with the positions, rows in error and the digest of the result rows."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", TIMER, str(warm), str(book), str(repeats)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(base: str, size: int, repeats: int, rounds: int) -> dict:
    """{"base": ..., "head": ...}: each tree's best over `rounds` alternating subprocesses."""
    columns, _, others = read_sample()
    with tempfile.TemporaryDirectory(prefix="gpufin-book-") as tmp, worktree(base) as base_tree:
        folder = Path(tmp)
        warm = write_book(folder, "warm", columns, others[:WARM_ROWS])
        book = write_book(folder, "book", columns, scaled_rows([], others, size))
        trees = {"base": base_tree, "head": ROOT}
        runs = {name: [] for name in trees}
        for _ in range(rounds):
            for name, tree in trees.items():
                runs[name].append(book_seconds(tree, warm, book, repeats))
    return {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against")
    parser.add_argument("--size", type=int, default=1_000, help="positions in the book")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per subprocess")
    parser.add_argument("--rounds", type=int, default=2, help="subprocesses per tree, alternating")
    args = parser.parse_args()
    before = os.getloadavg()
    result = compare(args.base, args.size, args.repeats, args.rounds)
    after = os.getloadavg()
    base, head = result["base"], result["head"]
    print(f"value_book with Greeks, {head['positions']:,} positions (the sample's non-loan rows); "
          f"base {args.base} ({short_revision(args.base)}) against the working tree; best of "
          f"{args.repeats} warm calls x {args.rounds} rounds")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {numba.config.NUMBA_NUM_THREADS} numba threads; "
          f"numba {numba.__version__}; load average {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} "
          f"at the start, {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} at the end")
    cells = [("tree", "seconds", "ms per position", "x base", "rows in error", "result digest")]
    for name, r in (("base", base), ("head", head)):
        cells.append((name, f"{r['seconds']:.3f}", f"{1e3 * r['seconds'] / r['positions']:.3f}",
                      f"{r['seconds'] / base['seconds']:.3f}", str(r["errors"]), r["digest"]))
    print(format_table(cells))
    print("results: " + ("the same bits" if base["digest"] == head["digest"] else "DIFFERENT"))


if __name__ == "__main__":
    main()
