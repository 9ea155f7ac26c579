"""Asian options: arithmetic against QuantLib's Monte Carlo and Turnbull-Wakeman engines,
geometric against QuantLib's analytic engine, seasoned averages, time-0 fixings."""
import numpy as np
import pytest
import QuantLib as ql
from conftest import assert_close_se, spec
from quantlib_refs import arithmetic_mc_engine, asian, bsm_process

import gpufin

CASES = [  # spot, vol, rate, strike, maturity, fixings, option
    (2.4, 0.50, 0.04, 2.4, 1.0, 12, "call"),
    (2.4, 0.15, 0.04, 2.3, 0.5, 26, "put"),
    (2.4, 0.80, 0.02, 4.0, 2.0, 24, "call"),   # deep out of the money, high vol, long
    (2.4, 0.30, 0.05, 1.5, 0.25, 63, "call"),  # deep in the money, short, daily-like
    (2.4, 0.40, 0.04, 3.2, 1.5, 18, "put"),    # deep in the money put
]


def _days(maturity, fixings):
    t = round(maturity * 365)
    return np.rint(np.arange(1, fixings + 1) * t / fixings).astype(int)


def _on_days(maturity, fixings) -> dict:
    """Instrument keys with the fixings of _days as exact times: QuantLib's engines take dates,
    so the references and gpufin see the same instants."""
    days = _days(maturity, fixings)
    return {"maturity": days[-1] / 365, "fixing_times": (days / 365).tolist()}


@pytest.mark.parametrize("spot,vol,rate,strike,maturity,fixings,option", CASES)
def test_arithmetic_vs_quantlib_mc_and_turnbull_wakeman(spot, vol, rate, strike, maturity, fixings, option):
    model = {"kind": "gbm", "spot": spot, "vol": vol, "rate": rate}
    ins = {"kind": "asian", "option": option, "strike": strike, **_on_days(maturity, fixings)}
    ours = gpufin.price(spec(model, ins, paths=200_000))
    assert ours["control_variate"] and ours["method"] == "mc"
    process = bsm_process(spot, vol, rate)
    days = _days(maturity, fixings)
    qmc = asian(process, "arithmetic", days, strike, option, arithmetic_mc_engine(process, 20_000))
    combined_se = np.hypot(ours["stderr"], qmc.errorEstimate())
    assert abs(ours["value"] - qmc.NPV()) <= 4 * combined_se
    tw = asian(process, "arithmetic", days, strike, option, ql.TurnbullWakemanAsianEngine(process)).NPV()
    # Turnbull-Wakeman matches two moments of a lognormal: it is off by up to 4.5% of the
    # price at these cases (0.8 vol, 2 years, out of the money), so it is a loose check;
    # QuantLib's Monte Carlo engine above is the strict one.
    assert_close_se(ours, tw, extra=0.05 * tw)


@pytest.mark.parametrize("spot,vol,rate,strike,maturity,fixings,option", CASES)
def test_geometric_vs_quantlib_analytic(spot, vol, rate, strike, maturity, fixings, option):
    model = {"kind": "gbm", "spot": spot, "vol": vol, "rate": rate}
    ins = {"kind": "asian", "option": option, "strike": strike, **_on_days(maturity, fixings),
           "averaging": "geometric"}
    ours = gpufin.price(spec(model, ins, method="mc"))
    ref = gpufin.price(spec(model, ins, method="analytic"))
    process = bsm_process(spot, vol, rate)
    direct = asian(process, "geometric", _days(maturity, fixings), strike, option,
                   ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process)).NPV()
    assert ref["value"] == pytest.approx(direct, rel=1e-12)
    assert_close_se(ours, ref["value"])


def test_control_variate_mean_is_quantlib_geometric_price():
    from gpufin.engines.analytic import geometric_strip_mean
    from gpufin.instruments.payoffs import build_plan
    from gpufin.market.curve import build_market
    from gpufin.models.index import build_model
    from gpufin.spec.reader import load_spec
    for option, strike in (("call", 2.4), ("put", 2.0)):
        s = load_spec(spec({"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
                           {"kind": "asian", "option": option, "strike": strike, **_on_days(1.0, 12)}))
        market = build_market(s.market, s.model.rate)
        plan = build_plan(s.instrument, 2.4, s.timeline)
        process = bsm_process(2.4, 0.5, 0.04)
        direct = asian(process, "geometric", _days(1.0, 12), strike, option,
                       ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process)).NPV()
        assert geometric_strip_mean(build_model(s.model, s.timeline), market, plan) == pytest.approx(direct, rel=1e-10)


def test_control_variate_cuts_the_error_and_agrees():
    model = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}
    ins = {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "fixings": 52}
    with_cv = gpufin.price(spec(model, ins))
    without = gpufin.price(spec(model, ins, control_variate=False))
    assert with_cv["stderr"] < without["stderr"] / 5
    assert abs(with_cv["value"] - without["value"]) <= 4 * np.hypot(with_cv["stderr"], without["stderr"])


@pytest.mark.parametrize("averaging", ["arithmetic", "geometric"])
def test_seasoned_average_vs_quantlib(averaging):
    """6 of 12 monthly fixings already made at an average of 2.9: QuantLib's running accumulator."""
    model = {"kind": "gbm", "spot": 2.4, "vol": 0.4, "rate": 0.04}
    ins = {"kind": "asian", "option": "call", "strike": 2.6, **_on_days(0.5, 6),
           "past_fixings": 6, "past_average": 2.9, "averaging": averaging}
    ours = gpufin.price(spec(model, ins, method="mc"))
    assert ours["fixings"] == 12
    process = bsm_process(2.4, 0.4, 0.04)
    days = _days(0.5, 6)
    if averaging == "geometric":
        ref = asian(process, "geometric", days, 2.6, "call",
                    ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process), 2.9 ** 6, 6).NPV()
        assert gpufin.price(spec(model, ins, method="analytic"))["value"] == pytest.approx(ref, rel=1e-10)
        assert_close_se(ours, ref)
    else:
        qmc = asian(process, "arithmetic", days, 2.6, "call", arithmetic_mc_engine(process, 20_000),
                    6 * 2.9, 6)
        assert abs(ours["value"] - qmc.NPV()) <= 4 * np.hypot(ours["stderr"], qmc.errorEstimate())


def test_fixing_at_time_zero_averages_todays_spot():
    model = {"kind": "gbm", "spot": 2.4, "vol": 0.4, "rate": 0.04}
    base = {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "averaging": "geometric"}
    with_zero = gpufin.price(spec(model, dict(base, fixing_times=[0.0, 0.5, 1.0])))
    as_past = gpufin.price(spec(model, dict(base, fixing_times=[0.5, 1.0], past_fixings=1,
                                            past_average=2.4)))
    assert with_zero["value"] == pytest.approx(as_past["value"], rel=1e-14)
    assert with_zero["fixings"] == 3


def test_fixings_on_the_same_day_all_count():
    """[0.5, 0.5, 1.0] averages (2 S_0.5 + S_1) / 3: Monte Carlo agrees with the closed form."""
    model = {"kind": "gbm", "spot": 2.0, "vol": 0.5, "rate": 0.04}
    ins = {"kind": "asian", "option": "call", "strike": 2.0, "maturity": 1.0,
           "fixing_times": [0.5, 0.5, 1.0], "averaging": "geometric"}
    assert_close_se(gpufin.price(spec(model, ins, method="mc")),
                    gpufin.price(spec(model, ins, method="analytic"))["value"])


def test_geometric_closed_form_on_a_sloped_curve_matches_simulation():
    doc = spec({"kind": "gbm", "spot": 2.0, "vol": 0.3},
               {"kind": "asian", "option": "call", "strike": 2.0, "maturity": 2.0, "fixings": 8,
                "averaging": "geometric"})
    doc["market"] = {"curve": {"kind": "zero", "tenors": [0.25, 1.0, 2.0], "rates": [0.0, 0.10, 0.12]}}
    exact = gpufin.price(doc)
    assert exact["method"] == "analytic"
    assert_close_se(gpufin.price(dict(doc, mc={"paths": 100_000, "seed": 4, "method": "mc"})), exact["value"])
