"""Collateral paths for loans: a gpu-fleet (operating cash and collateral value per path and
date, pricing_kernels.fleet) or an index model (its level is the collateral value, with no
operating cash; pricing_kernels.index_paths). Paths are numbered from first_path, so any
chunking gives the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines.montecarlo import PATH_CHUNK, seed_key
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.models.fleet import FleetSetup, fleet_setup
from gpufin.models.index import Lognormal, build_model, with_forward_curve
from gpufin.spec.schema import Spec
from gpufin.spec.times import DAYS_PER_YEAR
from pricing_kernels import index_paths
from pricing_kernels.fleet import fleet_paths


def fleet_chunks(setup: FleetSetup, n_paths: int, seed: int, chunk_paths: int | None):
    """Yield (first_path, out[series, path, date]) chunk by chunk on the setup's dates."""
    args = setup.model.kernel_args(setup.days, setup.market)
    key = seed_key(seed)
    step = chunk_paths or PATH_CHUNK
    for first in range(0, n_paths, step):
        yield first, fleet_paths(key, first, min(step, n_paths - first), *args)


@dataclass(frozen=True)
class Collateral:
    """Collateral paths on a grid of days: (cash, value) chunks, bridge variances."""
    model: object
    market: object
    fleet: bool

    def paths(self, grid_days, n_paths, seed, chunk_paths):
        """Yield (first_path, cash[paths, dates], value[paths, dates])."""
        if self.fleet:
            setup = FleetSetup(self.model, self.market, grid_days)
            for first, out in fleet_chunks(setup, n_paths, seed, chunk_paths):
                yield first, out[2], out[3]
            return
        key = seed_key(seed)
        step = chunk_paths or PATH_CHUNK
        args = self.model.kernel_args(grid_days / DAYS_PER_YEAR, self.market)
        kernel = (index_paths.lognormal_paths if isinstance(self.model, Lognormal)
                  else index_paths.two_factor_paths)
        for first in range(0, n_paths, step):
            value = kernel(key, first, min(step, n_paths - first), args)
            yield first, np.zeros_like(value), value

    def bridge_variance(self, grid_days) -> np.ndarray:
        """Variance of the log collateral value over each grid step (index models)."""
        if self.fleet:
            raise SpecError("instrument.ltv_test", "continuous LTV monitoring needs an index model; use \"monthly\"")
        var = self.model.kernel_args(grid_days / DAYS_PER_YEAR, self.market).bridge_var
        return np.concatenate([[0.0], var])


def build_collateral(s: Spec) -> Collateral:
    """The collateral model and market of a loan spec."""
    if s.model.kind == "gpu-fleet":
        setup = fleet_setup(replace(s, instrument=None))
        return Collateral(setup.model, setup.market, True)
    market = build_market(s.market, s.model.rate)
    model = with_forward_curve(build_model(s.model, market), s.market.forward_curve, market)
    return Collateral(model, market, False)
