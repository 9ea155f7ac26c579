"""Empty-cache compile cost of the first price of every shipped example, at a base revision
and on this working tree, in one run (the examples with an instrument: fleet.toml is simulated,
not priced).

The base revision is exported with `git archive` into a temporary folder (the repository is
not touched). For each data/examples/*.toml, `gpufin price FILE` runs in a fresh process with
GPUFIN_CACHE=0 (every kernel compiles) and one numba thread, alternating between the two
trees, `--repeats` times; the table keeps each tree's best wall time and best CPU time (user +
system of the child: compiling is single-threaded, and CPU time drifts less than wall time
on a shared machine). The ratio columns are tree / base: below 1 the tree compiles faster.
Examples priced in closed form compile nothing but the import; they show the floor.

    python bench/bench_compile.py [--base REV] [--repeats 2] [--examples asian,cap]
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numba
from textable import format_table

ROOT = Path(__file__).resolve().parent.parent
GPUFIN = Path(sys.executable).with_name("gpufin")


def export(revision: str, folder: Path) -> Path:
    """The files of `revision` written under folder/base (git archive: no checkout, no worktree)."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder / "base", filter="data")
    return folder / "base"


def cold_run(tree: Path, args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of `gpufin ARGS` on `tree` with an empty kernel cache (GPUFIN_CACHE=0,
    one numba thread)."""
    env = dict(os.environ, PYTHONPATH=str(tree), GPUFIN_CACHE="0", NUMBA_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(GPUFIN), *args], cwd=tree, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def price_cold(tree: Path, example: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `gpufin price example` on `tree` with an empty kernel cache."""
    return cold_run(tree, ["price", str(example)])


def best_cold(trees: dict, files: list[str], repeats: int) -> dict:
    """{(tree label, file): (best wall, best CPU)} of `gpufin price` on each file (a path
    relative to the tree), the trees alternating, `repeats` rounds."""
    best = {(t, f): (float("inf"), float("inf")) for t in trees for f in files}
    for _ in range(repeats):
        for file in files:
            for label, tree in trees.items():
                wall, cpu = price_cold(tree, tree / file)
                old = best[label, file]
                best[label, file] = (min(old[0], wall), min(old[1], cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--examples", help="comma-separated example names (default: all)")
    args = parser.parse_args()
    names = args.examples.split(",") if args.examples else sorted(
        p.stem for p in (ROOT / "data" / "examples").glob("*.toml") if "[instrument]" in p.read_text())
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"base": export(args.base, Path(tmp)), "tree": ROOT}
        best = {(t, Path(f).stem): v for (t, f), v in best_cold(
            trees, [f"data/examples/{n}.toml" for n in names], args.repeats).items()}
    rows = [["example", "base wall (s)", "tree wall (s)", "wall ratio", "base CPU (s)", "tree CPU (s)",
             "CPU ratio"]]
    totals = {t: [0.0, 0.0] for t in trees}
    for name in names:
        (bw, bc), (hw, hc) = best["base", name], best["tree", name]
        rows.append([name, f"{bw:.2f}", f"{hw:.2f}", f"{hw / bw:.2f}", f"{bc:.2f}", f"{hc:.2f}",
                     f"{hc / bc:.2f}"])
        for t, (w, c) in (("base", (bw, bc)), ("tree", (hw, hc))):
            totals[t][0] += w
            totals[t][1] += c
    (bw, bc), (hw, hc) = totals["base"], totals["tree"]
    rows.append(["all", f"{bw:.2f}", f"{hw:.2f}", f"{hw / bw:.2f}", f"{bc:.2f}", f"{hc:.2f}", f"{hc / bc:.2f}"])
    end = os.getloadavg()
    print(f"gpufin price FILE with GPUFIN_CACHE=0, one numba thread: base {args.base} against the working "
          f"tree; numba {numba.__version__}, {os.cpu_count()} CPUs, load average {load[0]:.2f} at start, "
          f"{end[0]:.2f} at end; best of {args.repeats}")
    print(format_table(rows))


if __name__ == "__main__":
    main()
