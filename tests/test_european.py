"""European options: Monte Carlo against closed forms for every model, at varied parameters
(high and low volatility, short and long maturity, deep in and out of the money)."""
import math

import pytest
from conftest import assert_close_se, price_both, spec
from quantlib_refs import bsm_process, european
from scipy import stats

import gpufin

GBM_CASES = [  # spot, vol, rate, dividend, strike, maturity, option
    (2.4, 0.50, 0.04, 0.00, 2.5, 1.0, "call"),
    (2.4, 0.10, 0.04, 0.02, 2.4, 0.25, "put"),
    (2.4, 0.80, 0.00, 0.00, 5.0, 3.0, "call"),     # deep out of the money, long, high vol
    (2.4, 0.30, 0.05, 0.00, 1.2, 0.1, "call"),     # deep in the money, short
    (2.4, 0.60, 0.03, -0.10, 3.5, 2.0, "put"),     # deep in the money put, negative yield
]


@pytest.mark.parametrize("spot,vol,rate,dividend,strike,maturity,option", GBM_CASES)
def test_gbm_european_vs_quantlib_and_black_scholes(spot, vol, rate, dividend, strike, maturity, option):
    model = {"kind": "gbm", "spot": spot, "vol": vol, "rate": rate, "dividend": dividend}
    ins = {"kind": "european", "option": option, "strike": strike, "maturity": maturity}
    mc, ref = price_both(model, ins)
    # Against a hand-written Black-Scholes formula at exactly `maturity` years.
    t = maturity
    d1 = (math.log(spot / strike) + (rate - dividend + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    w = 1 if option == "call" else -1
    bs = w * (spot * math.exp(-dividend * t) * stats.norm.cdf(w * d1)
              - strike * math.exp(-rate * t) * stats.norm.cdf(w * d2))
    assert ref["value"] == pytest.approx(bs, rel=1e-10, abs=1e-13)
    # Against QuantLib's engine, which takes dates, on the nearest whole day.
    days = round(maturity * 365)
    on_day = gpufin.price(spec(model, dict(ins, maturity=days / 365), method="analytic"))
    engine = european(bsm_process(spot, vol, rate, dividend), days, strike, option)
    assert on_day["value"] == pytest.approx(engine, rel=1e-10, abs=1e-13)
    assert ref["method"] == "analytic" and ref["stderr"] == 0.0 and ref["seed"] is None
    assert mc["method"] == "mc" and mc["paths"] == 100_000
    assert_close_se(mc, ref["value"])


JD_CASES = [  # vol, intensity, jump mean, jump vol, strike, maturity, option
    (0.30, 1.0, -0.16, 0.10, 2.4, 1.0, "call"),
    (0.10, 3.0, -0.05, 0.05, 2.2, 0.5, "put"),
    (0.50, 0.5, 0.20, 0.30, 4.0, 2.0, "call"),
    (0.20, 2.0, -0.30, 0.20, 1.5, 0.25, "put"),
    (0.40, 1.0, 0.00, 0.40, 1.0, 3.0, "call"),
]


@pytest.mark.parametrize("vol,lam,jm,jv,strike,maturity,option", JD_CASES)
def test_merton_jump_diffusion_vs_series(vol, lam, jm, jv, strike, maturity, option):
    model = {"kind": "jump-diffusion", "spot": 2.4, "vol": vol, "rate": 0.04, "jump_intensity": lam,
             "jump_mean": jm, "jump_vol": jv}
    mc, ref = price_both(model, {"kind": "european", "option": option, "strike": strike,
                                 "maturity": maturity})
    assert_close_se(mc, ref["value"])


def test_merton_series_reduces_to_black_scholes():
    ins = {"kind": "european", "option": "call", "strike": 2.6, "maturity": 1.0}
    jd = gpufin.price(spec({"kind": "jump-diffusion", "spot": 2.4, "vol": 0.4, "rate": 0.04,
                            "jump_intensity": 0.0, "jump_mean": -0.2, "jump_vol": 0.1}, ins))
    bs = gpufin.price(spec({"kind": "gbm", "spot": 2.4, "vol": 0.4, "rate": 0.04}, ins))
    assert jd["value"] == pytest.approx(bs["value"], rel=1e-12)


SCHWARTZ_CASES = [  # vol, kappa, long run level, strike, maturity, option
    (0.50, 2.0, 2.0, 2.4, 1.0, "call"),
    (0.30, 0.5, 3.0, 2.0, 2.0, "put"),
    (0.80, 4.0, 1.5, 1.0, 0.25, "call"),
    (0.20, 1.0, 2.4, 3.5, 3.0, "put"),
    (0.60, 2.0, 2.0, 4.0, 0.5, "call"),
]


@pytest.mark.parametrize("vol,kappa,level,strike,maturity,option", SCHWARTZ_CASES)
def test_schwartz_one_factor_vs_black76(vol, kappa, level, strike, maturity, option):
    model = {"kind": "schwartz", "spot": 2.4, "vol": vol, "rate": 0.04, "mean_reversion": kappa,
             "long_run_level": level}
    mc, ref = price_both(model, {"kind": "european", "option": option, "strike": strike,
                                 "maturity": maturity})
    assert_close_se(mc, ref["value"])


SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0, "short_vol": 0.5,
      "long_vol": 0.2, "correlation": 0.3, "long_drift": -0.29}
SS_CASES = [  # overrides, strike, maturity, option
    ({}, 2.4, 1.0, "call"),
    ({"launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1}, 2.0, 2.0, "put"),
    ({"launch_dates": [0.4, 1.4], "launch_jump_mean": -0.2, "launch_jump_vol": 0.05}, 1.5, 1.5, "call"),
    ({"short_vol": 0.9, "long_vol": 0.05, "correlation": -0.6}, 3.5, 0.25, "call"),
    ({"short_vol": 0.1, "long_vol": 0.4, "mean_reversion": 0.5, "short_factor": 0.3}, 1.0, 3.0, "put"),
]


@pytest.mark.parametrize("extra,strike,maturity,option", SS_CASES)
def test_schwartz_smith_vs_closed_form(extra, strike, maturity, option):
    mc, ref = price_both(dict(SS, **extra), {"kind": "european", "option": option,
                                             "strike": strike, "maturity": maturity})
    assert_close_se(mc, ref["value"])


@pytest.mark.parametrize("model", [
    {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04, "dividend": 0.01},
    {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.3, "rate": 0.04, "jump_intensity": 1.0,
     "jump_mean": -0.16, "jump_vol": 0.1},
    {"kind": "schwartz", "spot": 2.4, "vol": 0.5, "rate": 0.04, "mean_reversion": 2.0,
     "long_run_level": 2.0},
    dict(SS, launch_intensity=1.0, launch_jump_mean=-0.16, launch_jump_vol=0.1,
         spike_intensity=0.5, spike_jump_mean=0.18, spike_jump_vol=0.1),
])
def test_put_call_parity_pathwise(model):
    """call - put = discounted E[S_T] - K DF, on the same paths (so to rounding)."""
    ins = {"kind": "european", "strike": 2.3, "maturity": 1.2}
    call = gpufin.price(spec(model, dict(ins, option="call"), method="mc"))
    put = gpufin.price(spec(model, dict(ins, option="put"), method="mc"))
    fwd = gpufin.price(spec(model, {"kind": "future", "maturity": 1.2, "window_days": 1,
                                    "strike": 2.3, "style": "forward"}, method="mc"))
    assert call["value"] - put["value"] == pytest.approx(fwd["value"], abs=1e-12)
    fwd_exact = gpufin.price(spec(model, {"kind": "future", "maturity": 1.2, "window_days": 1,
                                          "strike": 2.3, "style": "forward"}, method="analytic"))
    assert_close_se(fwd, fwd_exact["value"])
