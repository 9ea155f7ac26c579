"""The DDTL loan of bench/cases.py (100,000 paths on the default H100 fleet, 5 years monthly,
income valuation, covenants, sweep) at two revisions, timed in one run.

The base revision (default HEAD) is checked out with `git worktree` into a temporary folder;
the head is this working tree. Each measurement is a fresh subprocess on one tree
(PYTHONPATH = that tree, numba's default thread count): a 1,000-path call first compiles or
loads the tree's kernels, then `--repeats` warm `gpufin.price` calls are timed and the best
kept, in wall seconds and in CPU seconds of the process (all its threads; steadier than wall
time on a shared machine). Rounds alternate between the trees so that both see the same load;
the best over the rounds is reported. Target: head <= base / 3 in wall time. Both trees' loan
values are printed: a change that keeps the arithmetic exact gives the same figures.

    python bench/bench_loan_speed.py [--base REV] [--repeats 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import DDTL_LOAN  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.0 / 3.0              # head / base

TIMER = """
import json, sys, time
import gpufin
spec, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
gpufin.price(dict(spec, mc=dict(spec["mc"], paths=1_000)))
best, best_cpu = float("inf"), float("inf")
for _ in range(repeats):
    start, start_cpu = time.perf_counter(), time.process_time()
    result = gpufin.price(spec)
    best = min(best, time.perf_counter() - start)
    best_cpu = min(best_cpu, time.process_time() - start_cpu)
print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "value": result["value"],
                  "price_pct": result["price_pct"]}))
"""


@contextlib.contextmanager
def worktree(revision: str):
    """A temporary detached checkout of `revision` (a Path), removed on exit."""
    with tempfile.TemporaryDirectory(prefix="gpufin-base-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=True, capture_output=True)


def loan_seconds(tree: Path, repeats: int, paths: int = DDTL_LOAN["mc"]["paths"]) -> dict:
    """Best warm wall and CPU seconds of the DDTL loan at `paths` paths on `tree` over `repeats`
    calls, with its value and price (one subprocess)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    spec = dict(DDTL_LOAN, mc=dict(DDTL_LOAN["mc"], paths=paths))
    out = subprocess.run([sys.executable, "-c", TIMER, json.dumps(spec), str(repeats)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(base: str, repeats: int, rounds: int, paths: int = DDTL_LOAN["mc"]["paths"]) -> dict:
    """{"base": ..., "head": ...}: each tree's best over `rounds` alternating subprocesses."""
    with worktree(base) as base_tree:
        trees = {"base": base_tree, "head": ROOT}
        runs = {name: [] for name in trees}
        for _ in range(rounds):
            for name, tree in trees.items():
                runs[name].append(loan_seconds(tree, repeats, paths))
    return {name: dict(min(r, key=lambda x: x["seconds"]), cpu_seconds=min(x["cpu_seconds"] for x in r))
            for name, r in runs.items()}


def short_revision(revision: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per subprocess")
    parser.add_argument("--rounds", type=int, default=2, help="subprocesses per tree, alternating")
    args = parser.parse_args()
    result = compare(args.base, args.repeats, args.rounds)
    base, head = result["base"], result["head"]
    ratio = head["seconds"] / base["seconds"]
    load = os.getloadavg()
    cells = [("machine", "numba", "load average", f"{args.base} (s)", "head (s)", "head / base",
              f"{args.base} CPU (s)", "head CPU (s)", "CPU head / base", "result"),
             (f"{cpu_model()}, {os.cpu_count()} CPUs, {numba.config.NUMBA_NUM_THREADS} threads",
              numba.__version__, f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
              f"{base['seconds']:.3f}", f"{head['seconds']:.3f}", f"{ratio:.3f}",
              f"{base['cpu_seconds']:.3f}", f"{head['cpu_seconds']:.3f}",
              f"{head['cpu_seconds'] / base['cpu_seconds']:.3f}",
              f"{'PASS' if ratio <= TARGET else 'FAIL'} (<= 1/3)")]
    print(f"DDTL loan, {DDTL_LOAN['mc']['paths']:,} paths; base {args.base} "
          f"({short_revision(args.base)}) against the working tree; best of {args.repeats} warm "
          f"calls x {args.rounds} rounds")
    print(format_table(cells))
    for name, r in result.items():
        print(f"{name}: value {r['value']!r} USD, price {r['price_pct']!r} %")


if __name__ == "__main__":
    main()
