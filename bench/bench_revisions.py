"""Compile time and kernel speed of two revisions of gpufin, measured in one run.

The base revision is exported with `git archive` into a temporary folder (bench_compile.export:
the repository is not touched); each
measurement runs in a fresh subprocess on one tree or the other (PYTHONPATH = that tree),
alternating between the two, and keeps the best of `--repeats`:
- compile: `gpufin.warm_up()` with GPUFIN_CACHE=0, per kernel family and in all (seconds);
- speed: one warm call (kernels loaded from the tree's own cache) of each case below, at
  one numba thread (seconds).
The ratio column is head / base: below 1 the head is faster.

    python bench/bench_revisions.py BASE [--head DIR] [--repeats 2] [--quick]
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
from bench_compile import export  # noqa: E402
from cases import DDTL_LOAN  # noqa: E402
from textable import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "GBM Asian, 252 fixings": {
        "model": {"kind": "gbm", "spot": 100.0, "vol": 0.3, "rate": 0.05},
        "instrument": {"kind": "asian", "option": "call", "strike": 100.0, "maturity": 1.0,
                       "fixings": 252},
        "mc": {"paths": 200_000, "seed": 1, "method": "mc"}},
    "Merton barrier, 252 steps": {
        "model": {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.5, "rate": 0.04,
                  "jump_intensity": 1.0, "jump_mean": -0.16, "jump_vol": 0.1},
        "instrument": {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0,
                       "barrier": 2.0, "barrier_type": "down-and-out"},
        "mc": {"paths": 100_000, "seed": 1}},
    "Schwartz-Smith cap, daily prints": {
        "model": {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0,
                  "short_vol": 0.45, "long_vol": 0.2, "launch_intensity": 1.0,
                  "launch_jump_mean": -0.16, "launch_jump_vol": 0.1, "spike_intensity": 0.5,
                  "spike_jump_mean": 0.18, "spike_jump_vol": 0.1},
        "instrument": {"kind": "cap", "strike": 2.4, "maturity": 1.0},
        "mc": {"paths": 100_000, "seed": 1, "method": "mc"}},
    "loan on a GPU fleet, 5y": dict(DDTL_LOAN, mc={"paths": 50_000, "seed": 1}),
    "loan on a GBM index, 5y": {
        "model": {"kind": "gbm", "spot": 2.0, "vol": 0.3, "rate": 0.04},
        "instrument": {"kind": "loan", "principal": 1.0, "maturity": 5.0, "spread": 0.03,
                       "payment_frequency": "1M", "ltv_trigger": 0.9},
        "mc": {"paths": 100_000, "seed": 1}},
}
SIMULATE = {"model": CASES["loan on a GPU fleet, 5y"]["model"],
            "mc": {"paths": 50_000, "seed": 1, "horizon": 5.0}}

SPEED = """
import json, sys, time
import gpufin
cases, simulate = json.loads(sys.argv[1]), json.loads(sys.argv[2])
jobs = {name: (lambda s=s: gpufin.price(s)) for name, s in cases.items()}
jobs["fleet simulation, 5y monthly"] = lambda: gpufin.simulate(simulate)
out = {}
for name, job in jobs.items():
    job()
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - start)
    out[name] = best
print(json.dumps(out))
"""
COMPILE = "import json, gpufin; print(json.dumps(dict(gpufin.warm_up())))"


def _run(tree: Path, code: str, *args, cache: bool = True) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS="1",
               GPUFIN_CACHE="1" if cache else "0")
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(runs: list[dict]) -> dict:
    return {k: min(r[k] for r in runs) for k in runs[0]}


def measure(trees: dict, repeats: int, quick: bool) -> dict:
    cases = {k: dict(v, mc=dict(v["mc"], paths=v["mc"]["paths"] // (4 if quick else 1)))
             for k, v in CASES.items()}
    results = {name: {"compile": [], "speed": []} for name in trees}
    for _ in range(repeats):
        for name, tree in trees.items():
            results[name]["compile"].append(_run(tree, COMPILE, cache=False))
            results[name]["speed"].append(_run(tree, SPEED, json.dumps(cases), json.dumps(SIMULATE)))
    return {name: {kind: _best(runs) for kind, runs in r.items()} for name, r in results.items()}


def table(results: dict) -> str:
    base, head = results["base"], results["head"]
    rows = [["measure", "base (s)", "head (s)", "head / base"]]
    for kind, label in (("compile", "compile"), ("speed", "warm run")):
        for key in base[kind]:
            rows.append([f"{label}: {key}", f"{base[kind][key]:.3f}", f"{head[kind][key]:.3f}",
                         f"{head[kind][key] / base[kind][key]:.3f}"])
        b, h = sum(base[kind].values()), sum(head[kind].values())
        rows.append([f"{label}: all", f"{b:.3f}", f"{h:.3f}", f"{h / b:.3f}"])
    return format_table(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision to compare against")
    parser.add_argument("--head", type=Path, default=ROOT, help="tree of the head (default: this one)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a quarter of the paths")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = measure({"base": export(args.base, Path(tmp)), "head": args.head}, args.repeats,
                          args.quick)
    load = os.getloadavg()
    print(f"base {args.base}, head {args.head}; numba {numba.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; best of {args.repeats}")
    print(table(results))


if __name__ == "__main__":
    main()
