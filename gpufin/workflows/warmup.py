"""Compile every kernel ahead of use (`gpufin warmup`), so the first real run does not wait.

Each kernel is reached through the public API on a tiny trade; with the on-disk cache
(pricing_kernels.CACHE) later processes load the compiled code in milliseconds. A family of
index paths has two pricing kernels: prices alone, and prices with pathwise Greeks.
"""
from __future__ import annotations

import time

import numpy as np

from gpufin.engines.pricing import price
from gpufin.models.calibration_mle import log_likelihood
from gpufin.models.multi_index import build_indices
from gpufin.spec.reader import load_spec
from gpufin.workflows.simulate import simulate

GBM = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}
JUMPS = dict(GBM, kind="jump-diffusion", jump_intensity=1.0, jump_mean=-0.16, jump_vol=0.1)
SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0, "short_vol": 0.5,
      "long_vol": 0.2, "launch_intensity": 1.0, "launch_jump_mean": -0.16, "spike_intensity": 0.5,
      "spike_jump_mean": 0.18}
SCHWARTZ = {"kind": "schwartz", "spot": 2.4, "vol": 0.5, "mean_reversion": 2.0, "long_run_level": 1.8,
            "rate": 0.04}
FLEET = {"kind": "gpu-fleet", "gpus": 10, "contracts": [{"share": 0.5, "rate": 2.0, "end": 1.0}]}
MULTI = {"kind": "multi-index", "rate": 0.04,
         "indices": [{"name": "spot", **{k: v for k, v in SS.items() if k not in ("kind", "rate")}},
                     {"name": "contract", "basis_of": "spot", "spot": 2.5, "mean_reversion": 4.0,
                      "short_vol": 0.2}]}
MC = {"paths": 2048, "method": "mc"}
LOAN = {"kind": "loan", "principal": 1.0, "maturity": 1.0, "spread": 0.03, "ltv_trigger": 0.9}


def _both(doc: dict, greeks_doc: dict | None = None) -> None:
    """Price a trade alone, then one (greeks_doc, else the same) with its pathwise Greeks."""
    price(doc)
    price(greeks_doc or doc, greeks=True)


def _jobs():
    barrier = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
               "barrier_type": "down-and-out"}
    asian = {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "fixings": 4}
    return [
        ("GBM paths",
         lambda: _both({"model": GBM, "instrument": asian, "mc": MC})),
        ("GBM and Merton paths with jumps or barriers",
         lambda: _both({"model": JUMPS, "instrument": barrier, "mc": MC},
                       {"model": JUMPS, "instrument": asian, "mc": MC})),
        ("Schwartz paths (no jumps)",
         lambda: _both({"model": SCHWARTZ, "instrument": asian, "mc": MC})),
        ("Schwartz-Smith paths with jumps",
         lambda: _both({"model": SS, "instrument": {"kind": "cap", "strike": 2.4, "maturity": 0.25}, "mc": MC})),
        ("several indices' joint paths",
         lambda: build_indices(load_spec({"model": MULTI}, instrument_required=False)).simulate(
             np.array([0.0, 0.5]), 64, 1)),
        ("GPU fleet paths", lambda: simulate({"model": FLEET, "mc": {"paths": 64, "horizon": 0.25}})),
        ("loan waterfall, index collateral (lognormal)",
         lambda: price({"model": dict(GBM, spot=2.0), "instrument": LOAN, "mc": {"paths": 64}})),
        ("loan waterfall, index collateral (two-factor)",
         lambda: price({"model": SS, "instrument": dict(LOAN, principal=1.0), "mc": {"paths": 64}})),
        ("loan waterfall, fleet collateral",
         lambda: price({"model": FLEET, "instrument": dict(LOAN, principal=1e4), "mc": {"paths": 64}})),
        ("Kalman filter",
         lambda: log_likelihood(["2026-01-01", "2026-01-02", "2026-01-05"], [2.4, 2.5, 2.45],
                                {"kappa": 2.0, "sigma_chi": 0.5, "sigma_xi": 0.2, "rho": 0.0,
                                 "mu_xi": -0.2, "sigma_eps": 0.02})),
    ]


def warm_up(report=None) -> list[tuple[str, float]]:
    """Run each kernel once; return (kernel, seconds) pairs and pass each to `report`."""
    times = []
    for name, job in _jobs():
        start = time.perf_counter()
        job()
        times.append((name, time.perf_counter() - start))
        if report:
            report(*times[-1])
    return times
