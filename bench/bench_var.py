"""Book risk at two revisions, timed in one run: `var_book` and `stress_book` on the sample book
(227 positions, 100 VaR scenarios), and `value_book` with Greeks on a 10,000-position book.

The base revision (default 04c7cd0, the last one that revalued every moved document in full)
is checked out with `git worktree` into a temporary folder, removed at the end; the head is
this working tree. Each case runs in a fresh subprocess on one tree (PYTHONPATH = that tree,
numba's default thread count) after a warm-up on a small book of one position of each kind
and the three loans (kernels compiled or loaded, QuantLib and data read). Trees alternate
case by case, so both see the same load. Cases:
- var, as a user runs it: each tree's default moves (the head draws them from the models);
- var with --vol 0.5 --correlation 0.8 --rate-vol 0.01: the same moves in both trees, so the
  figures agree to rounding (where the loans' engines are the same in both trees); then the
  same on the 224 non-loan rows alone and on the 3 loans alone, to show where the time goes;
- stress with data/scenarios.toml;
- value_book with Greeks on the 10,000-position book of bench_portfolio (the three loans once,
  the non-loan rows repeated with strikes moved by up to +-1%); --quick: 1,000 positions.
Targets: var <= 1/10 and the 10,000-position book <= 1/3 of the base's time.

    PYTHONPATH=. python bench/bench_var.py [--base REV] [--quick]
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
import bench_portfolio as bp  # noqa: E402
from bench_loan_speed import cpu_model, short_revision, worktree  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE = "04c7cd0"
OVERRIDES = {"vol": 0.5, "correlation": 0.8, "rate_vol": 0.01}
TARGETS = {"var": 0.1, "book": 1.0 / 3.0}

TIMER = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import gpufin
job = json.loads(sys.argv[1])
gpufin.value_book(job["warm"], paths=64, allow_outside=True)
gpufin.stress_book(job["warm"], paths=64, allow_outside=True)
gpufin.var_book(job["warm"], scenarios=2, paths=64, allow_outside=True)
start = time.perf_counter()
if job["kind"] == "var":
    r = gpufin.var_book(job["book"], allow_outside=True, **job["kwargs"])
    figures = {"var": r["var"], "es": r["es"]}
elif job["kind"] == "stress":
    table = gpufin.stress_book(job["book"], allow_outside=True, **job["kwargs"])
    figures = {"total pnl": float(table.iloc[:, list(table.columns).index("error") + 1:].sum().sum())}
else:
    results, summary = gpufin.value_book(job["book"], allow_outside=True)
    total = summary[summary["by"] == "total"].iloc[0]
    figures = {k: float(total[k]) for k in ("value", "delta", "gamma", "dv01")}
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "figures": figures}))
"""


def run_case(tree: Path, job: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", TIMER, json.dumps(job)], cwd=tree, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{tree}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def books(folder: Path, size: int) -> dict:
    """The case books, written into `folder` (loan rows name the shipped deals)."""
    columns, loans, others = bp.read_sample()
    kinds = {}
    for row in others:
        kinds.setdefault(row["instrument.kind"], row)
    return {"warm": bp.write_book(folder, "warm", columns, loans + list(kinds.values())),
            "sample": bp.write_book(folder, "sample", columns, loans + others),
            "no-loans": bp.write_book(folder, "no-loans", columns, others),
            "loans": bp.write_book(folder, "loans", columns, loans),
            "large": bp.write_book(folder, f"book-{size}", columns, bp.scaled_rows(loans, others, size))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help=f"git revision to compare against (default {BASE})")
    parser.add_argument("--quick", action="store_true", help="a 1,000-position book instead of 10,000")
    args = parser.parse_args()
    size = 1_000 if args.quick else 10_000
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gpufin-bench-var-") as tmp:
        paths = {k: str(v) for k, v in books(Path(tmp), size).items()}
        cases = [("var, sample book, default moves", "var", "sample", {}, "var"),
                 ("var, sample book, --vol 0.5 --correlation 0.8 --rate-vol 0.01", "var", "sample",
                  OVERRIDES, None),
                 ("  the same, 224 non-loan rows only", "var", "no-loans", OVERRIDES, None),
                 ("  the same, 3 loans only", "var", "loans", OVERRIDES, None),
                 ("stress, sample book, 6 scenarios", "stress", "sample", {}, None),
                 (f"value with Greeks, {size:,}-position book", "value", "large", {}, "book")]
        rows = []
        with worktree(args.base) as base_tree:
            for label, kind, book, kwargs, target in cases:
                job = {"kind": kind, "book": paths[book], "kwargs": kwargs, "warm": paths["warm"]}
                base = run_case(base_tree, job)
                head = run_case(ROOT, job)
                rows.append((label, base, head, target))
    load = os.getloadavg()
    print(f"Book risk: base {args.base} ({short_revision(args.base)}) against the working tree, one "
          f"run per case and tree, alternating; {cpu_model()}, {os.cpu_count()} CPUs, numba "
          f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads); load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} at start, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end")
    cells = [("case", "base (s)", "head (s)", "head / base", "target")]
    for label, base, head, target in rows:
        ratio = head["seconds"] / base["seconds"]
        verdict = (f"{'PASS' if ratio <= TARGETS[target] else 'FAIL'} (<= {TARGETS[target]:.2g})"
                   if target else "-")
        cells.append((label, f"{base['seconds']:.1f}", f"{head['seconds']:.1f}", f"{ratio:.3f}", verdict))
    print(format_table(cells))
    for label, base, head, _ in rows:
        print(f"{label.strip()}: base {base['figures']}, head {head['figures']}")


if __name__ == "__main__":
    main()
