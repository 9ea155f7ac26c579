"""Barrier options: continuous monitoring (Brownian-bridge correction) against QuantLib's
AnalyticBarrierEngine; in-out parity; discrete monitoring converging to continuous."""
import math

import pytest
from conftest import assert_close_se, price_both, spec

import gpufin

GBM = {"kind": "gbm", "spot": 2.4, "rate": 0.04}
CASES = [  # vol, barrier type, barrier, strike, rebate, maturity, option
    (0.50, "down-and-out", 2.0, 2.4, 0.0, 1.0, "call"),
    (0.30, "up-and-out", 3.0, 2.3, 0.1, 0.5, "call"),
    (0.80, "down-and-in", 1.8, 2.6, 0.05, 2.0, "put"),
    (0.20, "up-and-in", 2.6, 2.5, 0.0, 0.25, "call"),
    (0.60, "down-and-out", 2.2, 1.5, 0.2, 1.5, "put"),   # barrier close to spot, deep OTM put
    (0.40, "up-and-out", 4.0, 1.2, 0.0, 3.0, "call"),    # deep ITM call, far barrier, long
]


@pytest.mark.parametrize("vol,kind,level,strike,rebate,maturity,option", CASES)
def test_continuous_barrier_vs_quantlib(vol, kind, level, strike, rebate, maturity, option):
    ins = {"kind": "barrier", "option": option, "strike": strike, "maturity": maturity,
           "barrier": level, "barrier_type": kind, "rebate": rebate}
    mc, ref = price_both(dict(GBM, vol=vol), ins, paths=200_000)
    assert_close_se(mc, ref["value"])


@pytest.mark.parametrize("direction,level", [("down", 2.0), ("up", 2.9)])
def test_in_plus_out_is_vanilla_on_the_same_paths(direction, level):
    model = dict(GBM, vol=0.5)
    base = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": level}
    knock_in = gpufin.price(spec(model, dict(base, barrier_type=f"{direction}-and-in"), method="mc"))
    knock_out = gpufin.price(spec(model, dict(base, barrier_type=f"{direction}-and-out"), method="mc"))
    vanilla = gpufin.price(spec(model, {"kind": "european", "option": "call", "strike": 2.4,
                                        "maturity": 1.0}, method="mc"))
    assert knock_in["value"] + knock_out["value"] == pytest.approx(vanilla["value"], rel=1e-12)


def test_discrete_monitoring_converges_to_continuous():
    """Daily checks sit between weekly checks and continuous monitoring; with the
    Broadie-Glasserman-Kou shift (barrier * exp(-0.5826 sigma sqrt(dt))) the continuous
    formula matches daily monitoring."""
    vol = 0.5
    base = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
            "barrier_type": "down-and-out"}
    daily = gpufin.price(spec(dict(GBM, vol=vol), dict(base, monitoring=[d / 365 for d in range(1, 366)]),
                              paths=200_000))
    weekly = gpufin.price(spec(dict(GBM, vol=vol), dict(base, monitoring=[7 * w / 365 for w in range(1, 53)]),
                               paths=200_000))
    continuous = gpufin.price(spec(dict(GBM, vol=vol), base, method="analytic"))["value"]
    assert continuous < daily["value"] - 4 * daily["stderr"] < daily["value"] < weekly["value"]
    shifted = 2.0 * math.exp(-0.5826 * vol * math.sqrt(1 / 365))
    bgk = gpufin.price(spec(dict(GBM, vol=vol), dict(base, barrier=shifted), method="analytic"))["value"]
    assert_close_se(daily, bgk, extra=0.002 * bgk)


def test_jump_diffusion_bridge_converges_with_the_grid():
    """Under jumps the bridge is applied to the diffusion between grid points; a finer grid
    must not move the price beyond the noise."""
    model = {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.4, "rate": 0.04,
             "jump_intensity": 1.0, "jump_mean": -0.1, "jump_vol": 0.1}
    ins = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
           "barrier_type": "down-and-out"}
    coarse = gpufin.price(spec(model, ins, steps_per_year=52, paths=200_000))
    fine = gpufin.price(spec(model, ins, steps_per_year=365, paths=200_000))
    assert abs(coarse["value"] - fine["value"]) < 4 * math.hypot(coarse["stderr"], fine["stderr"]) + 0.002
    no_jumps = gpufin.price(spec(dict(model, jump_intensity=0.0), ins, steps_per_year=52, method="mc"))
    assert_close_se(no_jumps, gpufin.price(spec(dict(GBM, vol=0.4), ins, method="analytic"))["value"])


def test_shared_paths_with_a_continuous_barrier_stay_finite():
    from gpufin.engines.pricing import price_many
    model = dict(GBM, vol=0.5)
    barrier = spec(model, {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0,
                           "barrier": 3.2, "barrier_type": "up-and-out"}, method="mc")
    european = spec(model, {"kind": "european", "option": "call", "strike": 2.4, "maturity": 1.0},
                    method="mc")
    shared = price_many([barrier, european])
    assert all(math.isfinite(r["value"]) for r in shared)
    assert shared == [gpufin.price(barrier), gpufin.price(european)]
