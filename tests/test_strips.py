"""Futures, swaps, caps and floors on monthly averages of daily prints."""
import numpy as np
import pytest
import QuantLib as ql
from conftest import assert_close_se, price_both, spec
from quantlib_refs import asian, bsm_process

import gpufin

SS_JUMPS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0,
            "short_vol": 0.5, "long_vol": 0.2, "correlation": 0.3, "long_drift": -0.29,
            "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
            "spike_intensity": 0.5, "spike_jump_mean": 0.18, "spike_jump_vol": 0.1}
MODELS = [
    {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
    {"kind": "gbm", "spot": 5.0, "vol": 0.1, "rate": 0.01, "dividend": 0.2},
    {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.3, "rate": 0.04, "jump_intensity": 1.0,
     "jump_mean": -0.16, "jump_vol": 0.1},
    {"kind": "schwartz", "spot": 2.4, "vol": 0.5, "rate": 0.04, "mean_reversion": 2.0,
     "long_run_level": 1.8},
    SS_JUMPS,
    dict(SS_JUMPS, launch_intensity=0.0, launch_dates=[0.3], mean_reversion=0.7),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("maturity", [0.25, 1.5])
def test_future_is_the_average_of_expected_prints(model, maturity):
    ins = {"kind": "future", "maturity": maturity, "window_days": 30}
    mc, ref = price_both(model, ins)
    from gpufin.market.curve import build_market
    from gpufin.models.index import build_model
    from gpufin.spec.reader import load_spec
    s = load_spec(spec(model, ins))
    market = build_market(s.market, s.model.rate)
    times = (maturity * 365 - np.arange(29, -1, -1)) / 365.0    # one print a day, the last at maturity
    expected = float(np.mean(build_model(s.model, s.timeline).mean(times, market)))
    assert ref["value"] == pytest.approx(expected, rel=1e-12)
    assert ref["futures_price"] == pytest.approx(expected, rel=1e-12)
    assert_close_se(mc, ref["value"])


def test_forward_style_is_discounted_and_strike_shifts_value():
    model = MODELS[0]
    fut = gpufin.price(spec(model, {"kind": "future", "maturity": 1.0, "strike": 2.0, "notional": 1000}))
    fwd = gpufin.price(spec(model, {"kind": "future", "maturity": 1.0, "strike": 2.0, "notional": 1000,
                                    "style": "forward"}))
    assert fut["value"] == pytest.approx(1000 * (fut["futures_price"] - 2.0), rel=1e-12)
    assert fwd["value"] == pytest.approx(fut["value"] * np.exp(-0.04), rel=1e-12)


def test_delivery_month_with_valuation_date():
    model = MODELS[0]
    res = gpufin.price({"model": model, "market": {"valuation_date": "2026-11-26"},
                        "instrument": {"kind": "future", "delivery_month": "2027-03"}})
    assert res["prints"] == 31
    assert res["maturity_years"] == pytest.approx((np.datetime64("2027-03-31") - np.datetime64("2026-11-26")).astype(int) / 365)


@pytest.mark.parametrize("model", MODELS)
def test_swap_and_cap_floor_parity(model):
    """cap - floor = payer swap at the same strike, path by path (without the control variate)."""
    strip = {"maturity": 1.0, "notional": 720.0}
    plain = dict(method="mc", paths=40_000, control_variate=False)
    cap = gpufin.price(spec(model, dict(strip, kind="cap", strike=2.3), **plain))
    floor = gpufin.price(spec(model, dict(strip, kind="floor", strike=2.3), **plain))
    swap_mc, swap = price_both(model, dict(strip, kind="swap", fixed_rate=2.3), paths=40_000)
    assert cap["value"] - floor["value"] == pytest.approx(swap_mc["value"], rel=1e-10, abs=1e-9)
    assert_close_se(swap_mc, swap["value"])
    assert swap["periods"] == 12


@pytest.mark.parametrize("model", [m for m in MODELS if not m.get("spike_intensity")])
@pytest.mark.parametrize("kind,strike", [("cap", 2.6), ("floor", 2.0)])
def test_end_of_period_caplets_vs_closed_form(model, kind, strike):
    mc, ref = price_both(model, {"kind": kind, "strike": strike, "maturity": 2.0, "prints": "end",
                                 "period_months": 3})
    assert_close_se(mc, ref["value"])


@pytest.mark.parametrize("vol,strike", [(0.5, 2.4), (0.2, 2.2), (0.8, 3.0)])
def test_cap_on_daily_averages_vs_quantlib_caplets(vol, strike):
    """Each caplet is an arithmetic Asian on 30-31 daily prints: sum QuantLib's
    Turnbull-Wakeman caplets (accurate for one-month windows) as the reference."""
    model = {"kind": "gbm", "spot": 2.4, "vol": vol, "rate": 0.04}
    doc = spec(model, {"kind": "cap", "strike": strike, "maturity": "182D"})
    doc["market"] = {"valuation_date": "2026-01-01"}     # dated: whole-day periods, as QuantLib's
    res = gpufin.price(doc)
    process = bsm_process(2.4, vol, 0.04)
    bounds = np.rint(np.arange(7) * 182 / 6).astype(int)
    ref = sum(asian(process, "arithmetic", np.arange(a + 1, b + 1), strike, "call",
                    ql.TurnbullWakemanAsianEngine(process)).NPV() for a, b in zip(bounds[:-1], bounds[1:]))
    assert res["periods"] == 6 and res["control_variate"]
    assert_close_se(res, ref, extra=0.003 * ref)
