"""A fixed set of whole-run results (every example, the three deals, a spread solve, a fleet
simulation, a calibration and a book valued, stressed and put through VaR), stored as exact
hexadecimal floats in tests/data/golden.json.

`python tests/golden.py --check` recomputes them and reports every figure whose bits moved;
`--write` stores a new set (after a change that is meant to move figures, with the reason in
the commit). tests/test_golden.py holds the same figures to 1e-12 relative, which survives
a change of machine (NumPy's vector math differs in the last bit between CPUs).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import gpufin
from gpufin.market.data import load_market_data

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
STORE = Path(__file__).resolve().parent / "data" / "golden.json"
MC_PATHS = 20_000
LOAN_PATHS = 2_000
BOOK_PATHS = 1_000


def _history() -> tuple[np.ndarray, np.ndarray]:
    """A deterministic daily Schwartz-Smith history (exact transition, seed 5)."""
    rng = np.random.default_rng(5)
    n, k, sc, sx, h = 400, 8.0, 0.5, 0.3, 1.0 / 365.0
    dates = np.datetime64("2024-01-01") + np.arange(n)
    chi, xi, levels = 0.0, np.log(2.4), np.empty(n)
    for i in range(n):
        levels[i] = np.exp(chi + xi + 0.02 * rng.standard_normal())
        chi = chi * np.exp(-k * h) + sc * np.sqrt((1 - np.exp(-2 * k * h)) / (2 * k)) * rng.standard_normal()
        xi += -0.2 * h + sx * np.sqrt(h) * rng.standard_normal()
    return dates, levels


def _loan_fields(result: dict) -> dict:
    keys = ("value", "stderr", "price_pct", "pd", "expected_loss", "lgd", "wal", "loss_var99",
            "loss_es99")
    return {k: result[k] for k in keys}


def compute() -> dict[str, float]:
    """Every figure of the set, by name."""
    out: dict[str, float] = {}
    for path in sorted((DATA / "examples").glob("*.toml")):
        if path.stem == "fleet":
            continue
        out[f"price/{path.stem}"] = gpufin.price(path)["value"]
        mc = gpufin.price(path, ['mc.method="mc"', f"mc.paths={MC_PATHS}"])
        out[f"price-mc/{path.stem}"] = mc["value"]
        out[f"price-mc-stderr/{path.stem}"] = mc["stderr"]
    for path in sorted((DATA / "deals").glob("*.toml")):
        result = gpufin.price(path, [f"mc.paths={LOAN_PATHS}"])
        out.update({f"deal/{path.stem}/{k}": v for k, v in _loan_fields(result).items()})
    solved = gpufin.solve_spread(DATA / "deals" / "non_ig_ddtl.toml", [f"mc.paths={LOAN_PATHS}"])
    out["deal/non_ig_ddtl/fair_spread"] = solved["spread"]
    sim = gpufin.simulate(DATA / "examples" / "fleet.toml", ["mc.paths=500"])
    for series, frame in sim.quantiles.groupby("series"):
        out[f"simulate/{series}/mean-sum"] = float(np.sum(frame["mean"].to_numpy()))
        out[f"simulate/{series}/q05-last"] = float(frame["q05"].to_numpy()[-1])
    cal = gpufin.calibrate(_history(), {"rho": 0.0, "sigma_xi": 0.3})
    out.update({f"calibrate/{k}": v for k, v in cal.estimates.items()})
    out["calibrate/loglik"] = cal.loglik
    book = DATA / "sample_book.csv"
    with tempfile.TemporaryDirectory() as tmp:
        results, summary = gpufin.value_book(book, Path(tmp) / "values.csv", paths=BOOK_PATHS)
    total = summary[summary["by"] == "total"].iloc[0]
    for column in ("value", "delta", "gamma", "vega", "dv01", "util", "jump", "opex"):
        out[f"book/total/{column}"] = float(total[column])
    out["book/loan-001/value"] = float(results.loc[results["id"] == "LOAN-001", "value"].iloc[0])
    stress = gpufin.stress_book(book, paths=BOOK_PATHS)
    names = list(load_market_data().scenarios)
    out.update({f"stress/{n}": float(stress[n].sum(skipna=True)) for n in names})
    var = gpufin.var_book(book, scenarios=20, paths=BOOK_PATHS)
    out.update({"var/var": var["var"], "var/es": var["es"]})
    return {k: float(v) for k, v in out.items()}


def load() -> dict[str, float]:
    return {k: float.fromhex(v) for k, v in json.loads(STORE.read_text()).items()}


def main(argv: list[str]) -> int:
    figures = compute()
    if "--write" in argv:
        STORE.parent.mkdir(exist_ok=True)
        STORE.write_text(json.dumps({k: v.hex() for k, v in figures.items()}, indent=1) + "\n")
        print(f"{len(figures)} figures written to {STORE.relative_to(ROOT)}")
        return 0
    stored = load()
    moved = [k for k in stored if k not in figures or figures[k].hex() != stored[k].hex()]
    moved += [k for k in figures if k not in stored]
    table = pd.DataFrame([{"figure": k, "stored": stored.get(k), "now": figures.get(k)} for k in moved])
    print(f"{len(figures)} figures, {len(moved)} moved (bit for bit)")
    if moved:
        print(table.to_string(index=False))
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
