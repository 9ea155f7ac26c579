"""Options on monthly-average futures and residual-value puts: closed forms against Monte Carlo
on the index's simulated state (within 4 standard errors, several parameter sets), a
one-print future against the European option on the spot, and put-call parity with the
residual forward."""
import math
from dataclasses import replace

import numpy as np
import pytest

import gpufin
from gpufin.engines.analytic import closed_form, long_factor_law, long_factor_log_mgf
from gpufin.engines.montecarlo import build_index_set, state_estimate
from gpufin.errors import SpecError
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.index import build_model
from gpufin.spec.reader import load_spec

N_SE = 4.0
MARKET = {"valuation_date": "2026-07-01", "curve": {"kind": "flat", "rate": 0.04}}
SMITH = {"kind": "schwartz-smith", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.45, "long_vol": 0.2,
         "correlation": -0.3, "long_drift": -0.13}
LAUNCHES = {**SMITH, "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
            "launch_dates": ["2027-03-01"]}
FAST = {"kind": "schwartz-smith", "spot": 2.4, "mean_reversion": 4.0, "short_vol": 0.6, "long_vol": 0.15,
        "correlation": 0.4, "long_drift": -0.25}
GBM = {"kind": "gbm", "spot": 3.4, "vol": 0.5}
MERTON = {"kind": "jump-diffusion", "spot": 3.4, "vol": 0.4, "jump_intensity": 1.0, "jump_mean": -0.15,
          "jump_vol": 0.1}


def _doc(model, instrument, paths=100_000, seed=11):
    return {"model": model, "instrument": instrument, "market": MARKET, "mc": {"paths": paths, "seed": seed}}


def _both(doc):
    """(Monte Carlo result, closed-form result) of one trade."""
    mc = gpufin.price({**doc, "mc": {**doc["mc"], "method": "mc"}})
    cf = gpufin.price({**doc, "mc": {**doc["mc"], "method": "analytic"}})
    return mc, cf


def _future_option(option, strike, expiry, month):
    return {"kind": "future-option", "option": option, "strike": strike, "expiry": expiry,
            "delivery_month": month, "notional": 1000.0}


@pytest.mark.parametrize("model, option, strike, expiry, month", [
    (SMITH, "call", 2.3, "2026-11-30", "2026-12"),
    (SMITH, "put", 2.0, "2027-02-15", "2027-04"),
    (LAUNCHES, "put", 2.2, "2027-05-31", "2027-06"),
    (FAST, "call", 2.0, "2026-10-01", "2026-10"),
    (GBM, "call", 3.5, "2027-01-31", "2027-02"),
    (MERTON, "put", 3.2, "2026-12-31", "2027-01")])
def test_future_option_closed_form_against_monte_carlo(model, option, strike, expiry, month):
    mc, cf = _both(_doc(model, _future_option(option, strike, expiry, month)))
    assert cf["method"] == "analytic" and mc["method"] == "mc" and cf["value"] > 0.0
    assert abs(mc["value"] - cf["value"]) <= N_SE * mc["stderr"], (
        f"MC {mc['value']:.4f} vs {cf['value']:.4f}: {abs(mc['value'] - cf['value']) / mc['stderr']:.2f} SE")


@pytest.mark.parametrize("model, option", [(SMITH, "call"), (LAUNCHES, "put"), (GBM, "put")])
def test_one_print_future_option_is_the_european(model, option):
    """A future on one print at its expiry settles on S_expiry: the European option's price."""
    instrument = {"kind": "future-option", "option": option, "strike": 2.5, "expiry": "2027-01-15",
                  "maturity": "2027-01-15", "window_days": 1, "notional": 1000.0}
    european = {"kind": "european", "option": option, "strike": 2.5, "maturity": "2027-01-15", "notional": 1000.0}
    on_future = gpufin.price(_doc(model, instrument))
    on_spot = gpufin.price(_doc(model, european))
    assert on_future["value"] == pytest.approx(on_spot["value"], rel=1e-10)


def _residual_put(strike, maturity, value, elasticity):
    return {"kind": "residual-put", "strike": strike, "maturity": maturity, "residual_value": value,
            "elasticity": elasticity, "notional": 10_000.0}


@pytest.mark.parametrize("model, strike, maturity, value, elasticity", [
    (SMITH, 20_000.0, 2.0, 22_000.0, 1.0), (LAUNCHES, 18_000.0, "3Y", 19_000.0, 1.5),
    (GBM, 30_000.0, 1.0, 28_000.0, 0.6), (MERTON, 25_000.0, 2.5, 26_000.0, 1.0)])
def test_residual_put_closed_form_against_monte_carlo(model, strike, maturity, value, elasticity):
    mc, cf = _both(_doc(model, _residual_put(strike, maturity, value, elasticity)))
    assert cf["value"] > 0.0
    assert abs(mc["value"] - cf["value"]) <= N_SE * mc["stderr"], (
        f"MC {mc['value']:.2f} vs {cf['value']:.2f}: {abs(mc['value'] - cf['value']) / mc['stderr']:.2f} SE")


@pytest.mark.parametrize("model", [SMITH, LAUNCHES, GBM])
def test_residual_put_call_parity(model):
    """put - call = DF (K - R) in closed form; the residual forward DF E[P_T - K] on simulated
    paths is DF (R - K) within 4 standard errors (E[P_T] = R)."""
    s = load_spec(_doc(model, _residual_put(20_000.0, 2.0, 21_000.0, 1.2), paths=50_000))
    market = build_market(s.market, None, s.timeline)
    index = build_model(s.model, s.timeline)
    put = build_plan(s.instrument, s.model.spot, s.timeline)
    df = float(market.discount(put.maturity)[0])
    call = replace(put, omega=1.0)
    parity = closed_form(index, market, put) - closed_form(index, market, call)
    assert parity == pytest.approx(df * (put.strike - put.residual_value), rel=1e-10)
    law = long_factor_law(index, market, put.maturity)
    log_scale = math.log(put.residual_value) - long_factor_log_mgf(law, put.elasticity)
    est = state_estimate(build_index_set(s, market), "index", market, put.maturity, s.mc.paths, s.mc.seed,
                         lambda h: df * (np.exp(log_scale + put.elasticity * h.long_factor()) - put.strike))
    assert abs(est.value - df * (put.residual_value - put.strike)) <= N_SE * est.stderr


def test_future_option_expiry_inside_the_window():
    with pytest.raises(SpecError, match=r"^instrument\.expiry: got '2026-12-10'; expected an expiry on or before"):
        gpufin.price(_doc(SMITH, _future_option("call", 2.3, "2026-12-10", "2026-12")))
