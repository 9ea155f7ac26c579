"""Collateral paths for loans: a gpu-fleet (operating cash and collateral value per path and
date, pricing_kernels.fleet) or an index model (its level is the collateral value, with no
operating cash; pricing_kernels.index_paths). Paths are numbered from first_path, so any
chunking gives the same numbers. A fleet's draws are keyed by the seed, or as its model's
`draws` say (a loan in a book: gpufin.loanbook.joint).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines.montecarlo import PATH_CHUNK, seed_key
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.models.fleet import FleetModel, fleet_market, fleet_setup
from gpufin.models.index import Lognormal, build_model, with_forward_curve
from gpufin.spec.schema import Spec
from gpufin.spec.times import Timeline
from pricing_kernels import index_paths
from pricing_kernels.fleet import CASH, INDEX, VALUE, fleet_paths, name_default_times


def fleet_chunks(model: FleetModel, market, times, n_paths: int, seed: int, chunk_paths: int | None,
                 observe=None, first_path: int = 0, first_series: int = INDEX, state: bool = False,
                 parts: bool = False):
    """Yield (first_path, out[series - first_series, path, date]) chunk by chunk for paths
    first_path .. first_path + n_paths - 1 on the dates `times` (years), of which `observe`
    flags observation-only dates (series of pricing_kernels.fleet: INDEX, UTIL, CASH, VALUE,
    GOING; CASH as first_series writes only the collateral's); with `state`, out[-2] and
    out[-1] are the index's state chi and xi (ln S = g(t) + chi + xi, g its TwoFactor.shift),
    and with a basis index out[-3], out[-2] and out[-1] are chi, xi and its c
    (FleetModel.state_paths); with `parts` the last five rows are the series of
    pricing_kernels.fleet's write_parts."""
    key = seed_key(seed)
    args = model.kernel_args(times, market, observe, key, first_series, state, parts)
    step = chunk_paths or PATH_CHUNK
    for first in range(first_path, first_path + n_paths, step):
        yield first, fleet_paths(key, first, min(step, first_path + n_paths - first), *args)


def fleet_default_times(model: FleetModel, market, times, n_paths: int, seed: int, observe=None,
                        first_path: int = 0) -> np.ndarray:
    """[name, path]: the default time (years from the valuation date) of each customer of the
    fleet, in the model's order, then of its platform if it has one, on paths first_path ..
    first_path + n_paths - 1, as fleet_chunks draws them with the same arguments (a customer's
    own default, before a platform's default ends its contracts)."""
    _, args = model.kernel_args(times, market, observe, seed_key(seed))
    return name_default_times(first_path, n_paths, args)


@dataclass(frozen=True)
class Collateral:
    """Collateral paths on a grid (years): (cash, value) chunks, bridge variances; `timeline`
    holds the loan spec's times in the collateral's market."""
    model: object
    market: object
    fleet: bool
    timeline: Timeline

    def paths(self, grid, n_paths, seed, chunk_paths, observe=None, first_path: int = 0):
        """Yield (first_path, cash[paths, dates], value[paths, dates], going[paths, dates]) for
        paths first_path .. first_path + n_paths - 1: going is the SPV's going-concern value (a
        fleet modelled with `continuation`, else no dates); observation-only dates (`observe`)
        have no cash of their own."""
        if self.fleet:
            for first, out in fleet_chunks(self.model, self.market, grid, n_paths, seed, chunk_paths,
                                           observe, first_path, CASH):
                cash, value, *going = out
                yield first, cash, value, going[0] if going else value[:, :0]
            return
        key = seed_key(seed)
        step = chunk_paths or PATH_CHUNK
        args = self.model.kernel_args(grid, self.market)
        kernel = (index_paths.lognormal_paths if isinstance(self.model, Lognormal)
                  else index_paths.two_factor_paths)
        for first in range(first_path, first_path + n_paths, step):
            value = kernel(key, first, min(step, first_path + n_paths - first), args)
            yield first, np.zeros_like(value), value, value[:, :0]

    def bridge_variance(self, grid) -> np.ndarray:
        """Variance of the log collateral value over each grid step (index models)."""
        if self.fleet:
            raise SpecError("instrument.ltv_test", "continuous LTV monitoring needs an index model; use \"monthly\"")
        var = self.model.kernel_args(grid, self.market).bridge_var
        return np.concatenate([[0.0], var])


def new_gpu_values(model: FleetModel, market, used_prices) -> dict:
    """What one new GPU of the fleet is worth today by the income and the residual approach
    (USD, from the fleet kernel at the valuation date), beside its capex and the latest used
    prices of its SKU in data/used_prices.csv: whether the model agrees with the market."""
    new = replace(model, age_years=0.0, deliveries=((0.0, 1.0),))
    times = np.array([0.0, 1.0 / 12.0])
    per_gpu = {}
    for approach in ("income", "residual"):
        (_, out), = fleet_chunks(replace(new, valuation=approach), market, times, 1, 0, None)
        per_gpu[approach] = float(out[VALUE, 0, 0] / new.fleet_size(0.0))
    used = used_prices[used_prices["sku"] == model.sku].sort_values("date")
    latest = used.iloc[-1] if len(used) else None
    return {"capex_usd": model.capex, "income_value_usd": per_gpu["income"],
            "residual_value_usd": per_gpu["residual"],
            "used_price_usd": None if latest is None else [float(latest["price_usd_low"]),
                                                           float(latest["price_usd_high"])],
            "used_price_date": None if latest is None else str(latest["date"].date()),
            "used_price_condition": None if latest is None else latest["condition"]}


def in_market_of(collateral: Collateral, s: Spec) -> Collateral:
    """A gpu-fleet collateral in the discount market of spec `s` (the same fleet with its
    rates moved), as build_collateral would build it."""
    return replace(collateral, market=fleet_market(s))


def build_collateral(s: Spec) -> Collateral:
    """The collateral model and market of a loan spec."""
    if s.model.kind == "gpu-fleet":
        if s.model.valuation == "book":
            raise SpecError("model.valuation", "got 'book'; book value is an accounting figure, not "
                                               "what the lender recovers: expected 'income' or 'residual'")
        setup = fleet_setup(s)
        return Collateral(setup.model, setup.market, True, setup.timeline)
    market = build_market(s.market, s.model.rate, s.timeline)
    model = with_forward_curve(build_model(s.model, s.timeline), s.market.forward_curve, s.timeline)
    return Collateral(model, market, False, s.timeline)
