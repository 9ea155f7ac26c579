"""Books under moved markets: P&L per position under named stress scenarios, and
full-revaluation VaR and ES under simulated index and rate moves (by default each SKU's index
moves as its own model says).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from gpufin.engines.pricing import horizon_factors
from gpufin.errors import SpecError
from gpufin.lazy import lazy_module
from gpufin.market.data import check_scenarios, load_market_data
from gpufin.output.excel import key_values
from gpufin.portfolio.positions import (in_book_order, in_chunks, position_row, position_spec,
                                        scenario_chunk, underlying_order)
from gpufin.portfolio.runner import book_options, check_output, digest, run_chunks, write_output
from gpufin.spec.book import load_book
from gpufin.spec.files import read_document
from gpufin.spec.schema import MarketSpec

plots = lazy_module("gpufin.output.plots")     # matplotlib: loaded when a histogram is drawn


def _scenario_pnl(positions, options, workers, scheduler, checkpoint, kind) -> pd.DataFrame:
    order = underlying_order(positions)
    rows = in_book_order(run_chunks(scenario_chunk, in_chunks(positions, order, options["chunk"]),
                                     options, workers, scheduler, checkpoint,
                                     digest(positions, options, kind) if checkpoint else "",
                                     label="scenarios"),
                          order)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "unit_values"} for r in rows])
    pnl = pd.DataFrame({name: [r["quantity"] * (r["unit_values"][name] - r["unit_values"]["base"])
                               if r["unit_values"] else math.nan for r in rows]
                        for name in options["scenarios"]}, index=table.index)
    return pd.concat([table, pnl], axis=1)


def stress_book(book, scenarios_file=None, out=None, market_file=None, paths=None, workers=None,
                scheduler=None, checkpoint=None, chunk=None, allow_outside=False) -> pd.DataFrame:
    """P&L (USD) of every position under each named scenario, full revaluation. With
    `allow_outside`, rows may name spec files outside the book's folder."""
    out = check_output(out) if out else None
    if scenarios_file:
        doc = read_document(scenarios_file)
        check_scenarios(Path(scenarios_file), doc)
    else:
        doc = load_market_data().scenarios
    scenarios = {name: {k: v for k, v in table.items() if k != "description"} for name, table in doc.items()}
    options = book_options(market_file, paths, chunk, scenarios=scenarios)
    table = _scenario_pnl(load_book(book, allow_outside), options, workers, scheduler, checkpoint, "stress")
    if out:
        write_output(out, table, {"command": "portfolio stress", "book": str(book),
                                  "scenarios": str(scenarios_file or "data/scenarios.toml"),
                                  "market": market_file, "paths": paths, "chunk": options["chunk"],
                                  "allow_outside": allow_outside},
                     stress_totals(table), aliases=dict.fromkeys(scenarios, "pnl"))
    return table


def stress_totals(table: pd.DataFrame) -> pd.DataFrame:
    """The book's P&L (USD) per scenario of a stress_book table: columns scenario and pnl;
    positions that could not be valued add nothing."""
    names = list(table.columns[table.columns.get_loc("error") + 1:])
    return pd.DataFrame({"scenario": names, "pnl": [float(table[n].sum(skipna=True)) for n in names]})


def var_book(book, horizon_days: int = 10, level: float = 0.99, scenarios: int = 100, seed: int = 1,
             vol: float | None = None, correlation: float | None = None, rate_vol: float | None = None,
             out=None, market_file=None, paths=None, workers=None, scheduler=None, checkpoint=None,
             plot=None, chunk=None, allow_outside=False) -> dict:
    """Full-revaluation VaR and ES of the book's P&L over `horizon_days` (calendar days; h in
    years is horizon_days / 365) under simulated moves of each SKU's index and of every rate
    (var_moves). `vol`, `correlation` and `rate_vol` override the model-implied numbers (None:
    the models' and data/market.toml's). With `allow_outside`, rows may name spec files outside
    the book's folder."""
    if not 0.5 < level < 1.0:
        raise SpecError("--level", f"got {level}; expected a level between 0.5 and 1")
    _check_moves(scenarios, vol, correlation, rate_vol)
    out = check_output(out) if out else None
    positions = load_book(book, allow_outside)
    options = book_options(market_file, paths, chunk)
    moves, used = var_moves(positions, options, horizon_days / 365.0, scenarios, seed, vol, correlation,
                            rate_vol)
    options["scenarios"] = moves
    table = _scenario_pnl(positions, options, workers, scheduler, checkpoint, "var")
    pnl = table[list(moves)].sum(axis=0, skipna=True).to_numpy()
    var = -float(np.quantile(pnl, 1 - level))
    tail = pnl[pnl <= -var]
    result = {"var": var, "es": -float(tail.mean()), "level": level, "horizon_days": horizon_days,
              "scenarios": scenarios, "seed": seed, "positions": len(table),
              "errors": int(table["error"].notna().sum()), "mean_pnl": float(pnl.mean()),
              "index_moves": used["index_moves"]}
    if out:
        write_output(out, pd.DataFrame({"scenario": list(moves), "pnl": pnl}),
                     {"command": "portfolio var", "book": str(book), "horizon_days": horizon_days,
                      "level": level, "scenarios": scenarios, "seed": seed, **used,
                      "market": market_file, "paths": paths, "chunk": options["chunk"],
                      "allow_outside": allow_outside},
                     key_values(result))
    if plot:
        plots.plot_pnl_histogram(pnl, var, result["es"], level, horizon_days, plot)
    return result


def _check_moves(scenarios, vol, correlation, rate_vol):
    for key, value, ok, expected in (
            ("--n-scenarios", scenarios, scenarios >= 2, "at least 2 scenarios"),
            ("--vol", vol, vol is None or vol >= 0, "a volatility >= 0"),
            ("--rate-vol", rate_vol, rate_vol is None or rate_vol >= 0, "a volatility >= 0"),
            ("--correlation", correlation, correlation is None or -1.0 < correlation <= 1.0,
             "a correlation in (-1, 1]")):
        if not ok:
            raise SpecError(key, f"got {value}; expected {expected}")


def var_moves(positions: list, options: dict, horizon_years: float, scenarios: int, seed: int,
              vol: float | None = None, correlation: float | None = None,
              rate_vol: float | None = None) -> tuple[dict, dict]:
    """The VaR scenarios {name: {index_factor_by_sku, rate_shift}} and the numbers used.

    Index factors: by default each SKU's S_h / S_0 is drawn from its own model (the model of the
    SKU's first position in book order on an index model, else the rental index of its first
    gpu-fleet; pricing.horizon_factors, on `scenarios` paths of a seed drawn from `seed` and the
    SKU's name), and
    the SKUs' draws are joined by a Gaussian copula of `correlation` (data/market.toml
    [risk].index_correlation unless given): each SKU's sorted draws are dealt out in the rank
    order of its correlated normal. With `vol`, every SKU moves by exp(vol sqrt(h) Z -
    vol^2 h / 2) instead, Z those correlated normals. Rates: every rate shifts by rate_vol
    sqrt(h) Z_r (decimal; [risk].rate_vol unless given), Z_r standard normal and independent."""
    risk = MarketSpec.model_validate({"risk": load_market_data().snapshot.get("risk")}).risk
    if risk is None and (correlation is None or rate_vol is None):
        raise SpecError("risk", "got no [risk] table in data/market.toml; expected index_correlation "
                                "and rate_vol there, or --correlation and --rate-vol")
    correlation = risk.index_correlation if correlation is None else correlation
    rate_vol = risk.rate_vol if rate_vol is None else rate_vol
    skus = sorted({position_row(p)["sku"] or "index" for p in positions})
    h = horizon_years
    rng = np.random.default_rng(seed)
    corr = np.full((len(skus), len(skus)), correlation) + (1 - correlation) * np.eye(len(skus))
    z = rng.standard_normal((scenarios, len(skus))) @ np.linalg.cholesky(corr).T
    if vol is not None:
        factors = np.exp(vol * math.sqrt(h) * z - 0.5 * vol ** 2 * h)
    else:
        draws = [np.sort(_sku_factors(positions, options, sku, h, scenarios, _sku_seed(seed, sku)))
                 for sku in skus]
        ranks = z.argsort(axis=0).argsort(axis=0)
        factors = np.column_stack([d[ranks[:, j]] for j, d in enumerate(draws)])
    shifts = rate_vol * math.sqrt(h) * rng.standard_normal(scenarios)
    moves = {f"s{k:04d}": {"index_factor_by_sku": dict(zip(skus, map(float, factors[k]))),
                           "rate_shift": float(shifts[k])} for k in range(scenarios)}
    used = {"index_moves": "models" if vol is None else "lognormal", "vol": vol,
            "correlation": correlation, "rate_vol": rate_vol}
    return moves, used


def _sku_seed(seed: int, sku: str) -> int:
    """The seed of a SKU's horizon draws: from the run's seed and the SKU's name only, so a SKU
    draws the same moves whatever other SKUs the book holds."""
    sequence = np.random.SeedSequence(seed, spawn_key=tuple(sku.encode()))
    return int(sequence.generate_state(1, np.uint64)[0])


def _sku_factors(positions, options, sku, h, n, seed) -> np.ndarray:
    """S_h / S_0 draws of the SKU's index model: its first position on an index model, else its
    first gpu-fleet's rental index; no moves (ones) if no position of it has one."""
    for pos in sorted(positions, key=lambda p: position_row(p)["model"] == "gpu-fleet"):
        if (position_row(pos)["sku"] or "index") != sku or pos.error:
            continue
        try:
            return horizon_factors(position_spec(pos, options), h, n, seed)
        except SpecError:
            continue
    return np.ones(n)
