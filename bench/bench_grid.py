"""Wall time of a 5 x 5 sensitivity grid against single prices of the same deal, in one run.

The deal is data/deals/non_ig_ddtl.toml at 20,000 paths; the grid varies the H200 rental
index (model.index.spot, 2.4 to 4.4 USD/GPU-hr) and merchant utilization
(model.utilization.level, 60% to 80%) and values `price_pct` with `gpufin.grid` (25 points
in one price_many call, the principal schedule fixed first). Everything is warmed up first
(kernels compiled or loaded from the cache, one grid and one price run untimed); then one
single `gpufin.price` is timed before the grid and one after it, so their gap shows how much
the machine drifted during the run. The ratio is the grid's time over the mean of the two
single prices: 25 would mean a grid point costs what a single price does.

    PYTHONPATH=. python bench/bench_grid.py
"""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
from textable import format_table

import gpufin

DEAL = str(Path(__file__).resolve().parent.parent / "data" / "deals" / "non_ig_ddtl.toml")
PATHS = 20_000
VARY = ["model.index.spot=2.4:4.4:5", "model.utilization.level=0.6:0.8:5"]
POINTS = 25


def machine() -> str:
    """The CPU's model name (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def timed(fn) -> float:
    """Seconds of one call of fn, wall clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def command_seconds(args: list[str]) -> float:
    """Wall seconds of one `gpufin` command in a fresh process (output discarded)."""
    cli = [sys.executable, "-c", "from cli import main; main()"]
    return timed(lambda: subprocess.run(cli + args, check=True, capture_output=True,
                                        cwd=Path(DEAL).parents[2]))


def command_table() -> None:
    """`gpufin grid` against `gpufin price`, each in its own process."""
    price = [*"price".split(), DEAL, "--paths", str(PATHS)]
    grid = ["grid", DEAL, "--paths", str(PATHS), "--field", "price_pct",
            *[arg for v in VARY for arg in ("--vary", v)]]
    command_seconds(price)                                            # warm the cache, untimed
    before, grid_seconds, after = command_seconds(price), command_seconds(grid), command_seconds(price)
    mean = (before + after) / 2
    cells = [["command", "prices", "seconds", "x gpufin price"],
             ["gpufin price, before the grid", "1", f"{before:.2f}", f"{before / mean:.2f}"],
             ["gpufin grid (5 x 5)", str(POINTS), f"{grid_seconds:.2f}", f"{grid_seconds / mean:.2f}"],
             ["gpufin price, after the grid", "1", f"{after:.2f}", f"{after / mean:.2f}"]]
    print()
    print(format_table(cells))
    print(f"gpufin grid / gpufin price = {grid_seconds / mean:.2f} for {POINTS} points")


def main() -> None:
    overrides = [f"mc.paths={PATHS}"]
    single = functools.partial(gpufin.price, DEAL, overrides)
    grid = functools.partial(gpufin.grid, DEAL, VARY, "price_pct", overrides)
    load_before = os.getloadavg()[0]
    single(), grid()                                                  # warm-up, untimed
    before, grid_seconds, after = timed(single), timed(grid), timed(single)
    mean = (before + after) / 2
    cells = [["case", "prices", "seconds", "s per price", "x single price"],
             ["single price, before the grid", "1", f"{before:.3f}", f"{before:.3f}", f"{before / mean:.2f}"],
             [f"grid {' x '.join(v.split('=')[0] for v in VARY)}", str(POINTS), f"{grid_seconds:.3f}",
              f"{grid_seconds / POINTS:.3f}", f"{grid_seconds / mean:.2f}"],
             ["single price, after the grid", "1", f"{after:.3f}", f"{after:.3f}", f"{after / mean:.2f}"]]
    print(f"non_ig_ddtl.toml, {PATHS:,} paths, warm, one run per case; {machine()}, "
          f"{os.cpu_count()} CPUs, numba {numba.__version__} ({numba.get_num_threads()} threads), "
          f"1-min load average {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print(format_table(cells))
    print(f"x single price: seconds over the mean of the two single prices ({mean:.3f} s); "
          f"grid / single = {grid_seconds / mean:.2f} for {POINTS} points "
          f"({grid_seconds / mean / POINTS:.2f} single prices per point)")
    command_table()


if __name__ == "__main__":
    main()
