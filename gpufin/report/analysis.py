"""The numbers of a deal report, each by the engine its command uses: the loan valued as
`gpufin price` values it, with the PV loss of every path kept; its fair spread
(`gpufin price --solve spread`); the stress scenarios of data/scenarios.toml applied to the
deal (`gpufin portfolio stress`); and a 3 x 3 sensitivity grid (`gpufin grid`).

Every revaluation keeps the spec's seed and the principal schedule fixed at origination, so
scenarios and grid points see common random numbers and value the same contract.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from gpufin.credit.spread import solve_spread
from gpufin.engines.loan import LoanRun, PathCache, fixed_schedule, prepare, summarize, waterfall
from gpufin.engines.pricing import price_many
from gpufin.errors import SpecError
from gpufin.market.data import load_market_data
from gpufin.risk.bumps import apply_scenario, is_fleet, spot_of, vol_key
from gpufin.risk.grid import grid
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec
from pricing_kernels.loan import LOSS

STEPS = ("pricing the deal", "solving the fair spread", "stress scenarios", "sensitivity grid")
GRID_FIELDS = ("price_pct", "pd")        # the result fields tabulated over the grid
SPOT_FACTORS = (0.8, 1.0, 1.2)           # index spot x these
UTILIZATION_STEP = 0.10                  # merchant utilization level -, +, this (a fraction)
VOL_FACTORS = (0.8, 1.0, 1.2)            # index collateral: volatility x these
STRESS_FIELDS = ("value", "stderr", "price_pct", "price_pct_stderr", "pd", "pd_stderr",
                 "breach_probability", "breach_probability_stderr", "expected_loss", "expected_loss_stderr")


@dataclass(frozen=True)
class DealAnalysis:
    """A loan deal valued, solved, stressed and moved over a grid."""
    doc: dict                      # the spec document as valued (--set applied)
    spec: Spec
    run: LoanRun
    result: dict                   # the `gpufin price` result of the spec
    losses: np.ndarray             # lifetime PV loss per path (USD)
    fair_spread: dict | None       # the --solve spread result, None when it has none
    fair_spread_note: str          # why there is none ("" when there is one)
    stress: pd.DataFrame           # one row per scenario, base first (see stress_table)
    grid_axes: list                # [(key, values)] of the grid, the first across
    grids: dict                    # field of GRID_FIELDS -> gpufin.grid frame


def check_loan(s: Spec) -> None:
    """Refuse a spec that is not a loan: the report describes a loan deal."""
    kind = s.instrument.kind if s.instrument is not None else None
    if kind != "loan":
        raise SpecError("instrument.kind", f"got {kind!r}; gpufin report describes loan deals "
                                           "(data/deals/*.toml); use gpufin price for other trades")


def analyse(doc: dict, progress: Callable[[str], object] = lambda step: None) -> DealAnalysis:
    """Every number of the report for the loan document `doc`; `progress(step)` is called
    as each of STEPS starts."""
    s = load_spec(doc)
    check_loan(s)
    progress(STEPS[0])
    run = prepare(s)
    out, ltv, dscr, _ = waterfall(run, PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths))
    result = summarize(run, out, ltv, dscr)
    progress(STEPS[1])
    fair, note = _fair_spread(s)
    progress(STEPS[2])
    stress = stress_table(doc, load_market_data().scenarios)
    progress(STEPS[3])
    axes = grid_axes(doc, s)
    grids = {field: grid(doc, axes, field) for field in GRID_FIELDS}
    return DealAnalysis(doc, s, run, result, out[:, LOSS].copy(), fair, note, stress, axes, grids)


def _fair_spread(s: Spec) -> tuple[dict | None, str]:
    """The fair-spread result, or None and the reason (a fixed-rate loan, no bracket)."""
    if s.instrument.spread is None:
        return None, "a fixed-rate loan: no spread over SOFR to solve"
    try:
        return solve_spread(s), ""
    except SpecError as exc:
        return None, exc.problem


def stress_table(doc: dict, scenarios: dict) -> pd.DataFrame:
    """The deal under each named scenario (data/scenarios.toml tables): scenario, description,
    value and its stderr, pnl (USD against the base), price_pct, pd, breach_probability,
    expected_loss (each with its stderr) and error (None, or why it failed); the base case
    first."""
    base = fixed_schedule(doc)
    names = list(scenarios)
    moved = [apply_scenario(base, {k: v for k, v in scenarios[n].items() if k != "description"})
             for n in names]
    results = price_many([base, *moved])
    descriptions = {"base": "The deal as specified.",
                    **{n: scenarios[n].get("description", "") for n in names}}
    rows = []
    for name, result in zip(descriptions, results):
        row = {"scenario": name, "description": descriptions[name]}
        if isinstance(result, Exception):
            row.update(dict.fromkeys(STRESS_FIELDS, np.nan), error=str(result))
        else:
            row.update({k: result[k] for k in STRESS_FIELDS}, error=None)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(4, "pnl", table["value"] - table["value"].iloc[0])
    return table


def grid_axes(doc: dict, s: Spec) -> list[tuple[str, list]]:
    """The two grid axes: index spot x SPOT_FACTORS across, then merchant utilization level
    +- UTILIZATION_STEP (a gpu-fleet) or volatility x VOL_FACTORS (index collateral)."""
    spot = spot_of(doc)
    if is_fleet(doc):
        level = s.model.utilization.level
        levels = [round(min(max(level + k * UTILIZATION_STEP, 0.01), 0.99), 4) for k in (-1, 0, 1)]
        return [("model.index.spot", [round(spot * f, 4) for f in SPOT_FACTORS]),
                ("model.utilization.level", levels)]
    key = vol_key(doc)
    vol = getattr(s.model, key[-1])
    return [("model.spot", [round(spot * f, 4) for f in SPOT_FACTORS]),
            (".".join(("model", *key)), [round(vol * f, 4) for f in VOL_FACTORS])]
