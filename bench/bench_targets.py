"""The speed targets of issue 15, each a ratio measured in one run: one table, PASS or FAIL.

Every row times gpufin on this working tree next to its baseline in the same run (on a shared
machine absolute figures drift 10-20% and differ between machines; ratios hold). The rows,
by item of the issue, reuse the benches that measure them:
1. `gpufin.price` of a 252-fixing GBM Asian over the speed-of-light kernel of bench_light, per
   core, the worse of 1 and 2 numba threads, wall time (>= 0.85); `gpufin.price` at 2 threads
   over 1 thread (>= 1.85). 1,000,000 paths.
2. the DDTL loan of bench/cases.py (100,000 paths) against `--loan-base` (default c73aa5b) in a
   temporary git worktree, best warm call in fresh subprocesses (bench_loan_speed; <= 1/3).
3. empty-cache `gpufin price FILE` (GPUFIN_CACHE=0, one numba thread, CPU seconds of the
   child; bench_compile), one row per shipped example priced by both trees and one per deal,
   against `--base` (default 04c7cd0; <= 1/2 each); `gpufin simulate` of the fleet example,
   `gpufin portfolio value`, `stress` and `var` of the sample book, `gpufin calibrate` of a
   synthetic daily history with the long factor's volatility fixed (the base fits one series
   of at least 25 dates, which the shipped history has for no SKU and basis, and does not
   identify that volatility from 400 dates) and `gpufin warmup` likewise (<= 1/2 each; warmup
   once, the rest best of 2).
4. `var_book` (100 scenarios, default moves) and `stress_book` (data/scenarios.toml) on the
   227-position sample book against `--base` (bench_var; <= 1/10 each).
5. pathwise Greeks over one price, the worst of bench_greeks' four Asians, warm (<= 1.5);
   `value_book` with Greeks on the 10,000-position book of bench_portfolio against `--base`
   (bench_var; <= 1/3).
The `--base` worktree is shared by items 3-5 and removed at the end. A base that cannot be
checked out or run gives its rows NOT RUN with the reason; the other rows still run.

`--quick` (rows marked [quick]): 200,000 kernel paths, the loan best of 2 warm calls in one
round, the compile of asian and floor only (no deal, command or warmup: their rows say so), VaR and
stress at 2,000 paths a position, a 1,000-position book. `--only 1,4` runs those items.

    PYTHONPATH=. python bench/bench_targets.py [--quick] [--only 1,2,3,4,5] [--base REV] [--loan-base REV]
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_compile as bc  # noqa: E402
import bench_greeks as bg  # noqa: E402
import bench_light as bl  # noqa: E402
import bench_loan_speed as bls  # noqa: E402
import bench_var as bv  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOAN_BASE = "c73aa5b"
DEAL = "data/deals/non_ig_ddtl.toml"
QUICK_EXAMPLES = ("asian", "floor")
COMMANDS = (("simulate", "data/examples/fleet.toml"),
            *(("portfolio", command, "data/sample_book.csv") for command in ("value", "stress", "var")))
HISTORY_DAYS = 400
CALIBRATE_FIX = ("--fix", "sigma_xi=0.15")     # the long factor's volatility of synthetic_history
ITEMS = ("1", "2", "3", "4", "5")


class Limit(NamedTuple):
    """A ratio's bound: `value`, written `text`; `at_least` for speeds (higher is better)."""
    value: float
    text: str
    at_least: bool = False

    def verdict(self, ratio: float) -> str:
        ok = ratio >= self.value if self.at_least else ratio <= self.value
        return "PASS" if ok else "FAIL"

    def label(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.text}"


HALF, THIRD, TENTH = Limit(0.5, "1/2"), Limit(1 / 3, "1/3"), Limit(0.1, "1/10")


class Options(NamedTuple):
    """What every item's rows read: the command line, the books and the `--base` tree."""
    quick: bool
    base: str
    loan_base: str
    books: Callable[[], dict]  # bench_var's books, written on first use
    history: Callable[[], Path]  # synthetic_history's file, written on first use
    base_tree: Callable[[], Path]


def row(target: str, measured: str, baseline: str, ratio: float, limit: Limit) -> tuple:
    return (target, measured, baseline, f"{ratio:.3f}", limit.label(), limit.verdict(ratio))


def not_run(target: str, limit: Limit, why: str) -> tuple:
    return (target, "-", "-", "-", limit.label(), f"NOT RUN: {why}")


def reason(exc: Exception) -> str:
    """The last line of a failed subprocess's error output, or the exception's text."""
    text = getattr(exc, "stderr", None) or str(exc)
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:100] if lines else type(exc).__name__


def against_base(target: str, limit: Limit, base_run: Callable[[], float],
                 head_run: Callable[[], float]) -> tuple:
    """A row of head seconds / base seconds, the base timed first; NOT RUN, naming the tree
    and its error, if either run fails."""
    seconds = {}
    for label, run in (("base", base_run), ("head", head_run)):
        try:
            seconds[label] = run()
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            return not_run(target, limit, f"{label}: {reason(exc)}")
    return row(target, f"{seconds['head']:.2f} s", f"{seconds['base']:.2f} s",
               seconds["head"] / seconds["base"], limit)


def tag(quick: bool) -> str:
    return " [quick]" if quick else ""


def light_rows(opts: Options) -> list[tuple]:
    paths = (200_000 if opts.quick else 1_000_000) // bl.LANES * bl.LANES
    timings = bl.measure(paths)
    per_core, scaling = bl.ratios(timings)
    walls = {threads: (t[0], t[3]) for threads, t in timings.items()}
    rows = [row(f"1 gpufin.price / speed-of-light kernel per core, GBM Asian {paths:,} paths x "
                f"{bl.FIXINGS}, worse of 1 and 2 threads{tag(opts.quick)}",
                ", ".join(f"{p:.3f} s ({n} thr)" for n, (_, p) in walls.items()),
                ", ".join(f"{s:.3f} s ({n} thr)" for n, (s, _) in walls.items()),
                per_core, Limit(0.85, "0.85", at_least=True))]
    target, limit = f"1 gpufin.price 2 threads / 1 thread{tag(opts.quick)}", Limit(1.85, "1.85", at_least=True)
    if numba.config.NUMBA_NUM_THREADS < 2:
        return rows + [not_run(target, limit, f"{numba.config.NUMBA_NUM_THREADS} numba thread")]
    return rows + [row(target, f"{walls[2][1]:.3f} s", f"{walls[1][1]:.3f} s (1 thread)", scaling, limit)]


def loan_rows(opts: Options) -> list[tuple]:
    repeats, rounds = (2, 1) if opts.quick else (3, 2)
    target = (f"2 DDTL loan, H100 fleet, 100,000 paths, best of {repeats} x {rounds} rounds / "
              f"{opts.loan_base}{tag(opts.quick)}")
    try:
        result = bls.compare(opts.loan_base, repeats, rounds)
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        return [not_run(target, THIRD, reason(exc))]
    head, base = result["head"]["seconds"], result["base"]["seconds"]
    return [row(target, f"{head:.3f} s", f"{base:.3f} s", head / base, THIRD)]


def cold_cpu(tree: Path, args: tuple, repeats: int) -> float:
    """Best CPU seconds of an empty-cache `gpufin ARGS` on `tree` (bench_compile.cold_run); a
    data file of ARGS missing from the tree is a RuntimeError."""
    missing = [arg for arg in args if arg.startswith("data/") and not (tree / arg).exists()]
    if missing:
        raise RuntimeError(f"no {missing[0]} in this tree")
    return min(bc.cold_run(tree, list(args))[1] for _ in range(repeats))


def command_row(opts: Options, args: tuple, repeats: int) -> tuple:
    shown = " ".join(Path(arg).name if Path(arg).is_absolute() else arg for arg in args)
    return against_base(f"3 empty-cache `gpufin {shown}` CPU / {opts.base}{tag(opts.quick)}", HALF,
                        lambda: cold_cpu(opts.base_tree(), args, repeats),
                        lambda: cold_cpu(ROOT, args, repeats))


def compile_rows(opts: Options) -> list[tuple]:
    names = QUICK_EXAMPLES if opts.quick else sorted(
        p.stem for p in (ROOT / "data" / "examples").glob("*.toml") if "[instrument]" in p.read_text())
    prices = [("price", f"data/examples/{name}.toml") for name in names]
    repeats = 1 if opts.quick else 2
    rows = [command_row(opts, args, repeats) for args in prices]
    slow = [("price", DEAL), *COMMANDS, ("calibrate", str(opts.history()), *CALIBRATE_FIX), ("warmup",)]
    if opts.quick:
        skipped = "--quick (every kernel compiles: minutes a tree)"
        return rows + [not_run(f"3 empty-cache `gpufin {' '.join(args)}` CPU / {opts.base}", HALF, skipped)
                       for args in slow]
    return rows + [command_row(opts, args, 1 if args == ("warmup",) else repeats) for args in slow]


def synthetic_history(folder: Path) -> Path:
    """A history both trees calibrate: HISTORY_DAYS business days of an index level (USD per
    GPU-hour) from a Schwartz-Smith path (seed 1): a short factor reverting at 3 per year with
    40% volatility, a long factor drifting -20% a year with 15% volatility from ln 2.5, and
    3% noise in each quote; a CSV of date and level_usd_per_gpu_hour."""
    rng = np.random.default_rng(1)
    dates = np.busday_offset("2025-01-02", np.arange(HISTORY_DAYS), roll="forward")
    dt, chi, xi, rows = 1.0 / 252.0, 0.0, np.log(2.5), []
    for date in dates:
        chi += -3.0 * chi * dt + 0.4 * np.sqrt(dt) * rng.standard_normal()
        xi += -0.2 * dt + 0.15 * np.sqrt(dt) * rng.standard_normal()
        rows.append(f"{date},{np.exp(chi + xi + 0.03 * rng.standard_normal()):.4f}")
    path = folder / "synthetic_history.csv"
    path.write_text("date,level_usd_per_gpu_hour\n" + "\n".join(rows) + "\n")
    return path


def book_job(opts: Options, kind: str, book: str, kwargs: dict) -> dict:
    books = opts.books()
    return {"kind": kind, "book": str(books[book]), "kwargs": kwargs, "warm": str(books["warm"])}


def book_row(opts: Options, target: str, limit: Limit, job: dict) -> tuple:
    return against_base(target, limit, lambda: bv.run_case(opts.base_tree(), job)["seconds"],
                        lambda: bv.run_case(ROOT, job)["seconds"])


def var_rows(opts: Options) -> list[tuple]:
    kwargs = {"paths": 2_000} if opts.quick else {}
    note = ", 2,000 paths a position" if opts.quick else ""
    return [book_row(opts, f"4 `portfolio var`, sample book, 100 scenarios{note} / {opts.base}{tag(opts.quick)}",
                     TENTH, book_job(opts, "var", "sample", kwargs)),
            book_row(opts, f"4 `portfolio stress`, sample book{note} / {opts.base}{tag(opts.quick)}",
                     TENTH, book_job(opts, "stress", "sample", kwargs))]


def greek_rows(opts: Options) -> list[tuple]:
    paths, repeats = (200_000, 2) if opts.quick else (1_000_000, 3)
    ratios = []
    for name, model, fixings in bg.CASES:
        alone, pathwise, _ = bg.trade_seconds(bg.asian(model, fixings, paths), bg.asian(model, fixings, 2_048),
                                              repeats)
        ratios.append((pathwise / alone, name, alone, pathwise))
    ratio, name, alone, pathwise = max(ratios)
    size = 1_000 if opts.quick else 10_000
    return [row(f"5 price with pathwise Greeks / price alone, worst of {len(bg.CASES)} Asians ({name}), "
                f"{paths:,} paths{tag(opts.quick)}", f"{pathwise:.3f} s", f"{alone:.3f} s", ratio,
                Limit(1.5, "1.5")),
            book_row(opts, f"5 {size:,}-position book with Greeks / {opts.base}{tag(opts.quick)}", THIRD,
                     book_job(opts, "value", "large", {}))]


GROUPS = {"1": light_rows, "2": loan_rows, "3": compile_rows, "4": var_rows, "5": greek_rows}


class BaseTree:
    """The `--base` worktree, checked out on first use; a failed checkout is raised again, as
    a RuntimeError with git's reason, by every later use."""

    def __init__(self, revision: str, stack: contextlib.ExitStack):
        self.revision, self.stack, self.tree, self.error = revision, stack, None, None

    def __call__(self) -> Path:
        if self.tree is None and self.error is None:
            try:
                self.tree = self.stack.enter_context(bls.worktree(self.revision))
            except subprocess.CalledProcessError as exc:
                self.error = f"{self.revision} cannot be checked out: {reason(exc)}"
        if self.error:
            raise RuntimeError(self.error)
        return self.tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every case shrunk: a few minutes")
    parser.add_argument("--only", default=",".join(ITEMS),
                        help="comma-separated items of the issue to run (default 1,2,3,4,5)")
    parser.add_argument("--base", default=bv.BASE, help=f"revision of items 3-5 (default {bv.BASE})")
    parser.add_argument("--loan-base", default=LOAN_BASE, help=f"revision of item 2 (default {LOAN_BASE})")
    args = parser.parse_args()
    only = args.only.split(",")
    if any(item not in GROUPS for item in only):
        parser.error(f"--only {args.only}: expected items among {','.join(ITEMS)}")
    load_before, start = os.getloadavg(), time.perf_counter()
    rows = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gpufin-targets-") as tmp:
        books = functools.cache(lambda: bv.books(Path(tmp), 1_000 if args.quick else 10_000))
        history = functools.cache(lambda: synthetic_history(Path(tmp)))
        opts = Options(args.quick, args.base, args.loan_base, books, history, BaseTree(args.base, stack))
        for item in ITEMS:
            if item in only:
                rows += GROUPS[item](opts)
    load = os.getloadavg()
    print(f"gpufin speed targets (issue 15){' --quick' if args.quick else ''}: this tree against {args.base} "
          f"and {args.loan_base}, in one run; {bls.cpu_model()}, {os.cpu_count()} cores, numba "
          f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads); load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} before, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after; {time.perf_counter() - start:.0f} s")
    print(format_table([("target", "measured", "baseline (same run)", "ratio", "limit", "result"), *rows]))


if __name__ == "__main__":
    main()
