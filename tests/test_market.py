"""Market inputs: QuantLib curves (flat, zero, SOFR bootstrap), dates and tenors, and the
Schwartz-Smith forward-curve fit."""
import pytest
import QuantLib as ql
from conftest import assert_close_se, spec

import gpufin
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.spec.schema import MarketSpec

ZERO = {"kind": "zero", "tenors": [0.25, 1.0, 3.0], "rates": [0.045, 0.040, 0.035]}
SOFR = {"kind": "sofr", "deposits": [{"tenor": "1M", "rate": 0.043}],
        "ois": [{"tenor": "6M", "rate": 0.042}, {"tenor": "1Y", "rate": 0.040},
                {"tenor": "2Y", "rate": 0.037}, {"tenor": "5Y", "rate": 0.036}]}


def test_zero_curve_discounts_like_quantlib():
    market = build_market(MarketSpec(curve=ZERO), None)
    today = ql.Date(1, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    curve = ql.ZeroCurve([today, today + 91, today + 365, today + 1095], [0.045, 0.045, 0.040, 0.035],
                         ql.Actual365Fixed(), ql.NullCalendar(), ql.Linear(), ql.Continuous)
    for t in (0.1, 0.5, 2.0, 4.0):
        assert market.discount(t)[0] == pytest.approx(curve.discount(t, True), rel=1e-14)


def test_sofr_bootstrap_reprices_its_quotes():
    market = build_market(MarketSpec(valuation_date="2026-11-26", curve=SOFR), None)
    handle = market.curve_handle()
    ql_ = market.ql
    for q in SOFR["ois"]:
        swap = ql_.MakeOIS(ql_.Period(q["tenor"]), ql_.Sofr(handle), q["rate"])
        swap.setPricingEngine(ql_.DiscountingSwapEngine(handle))
        assert swap.fairRate() == pytest.approx(q["rate"], abs=1e-10)


@pytest.mark.parametrize("curve", [ZERO, SOFR])
@pytest.mark.parametrize("ins", [
    {"kind": "european", "option": "call", "strike": 2.5, "maturity": "18M"},
    {"kind": "barrier", "option": "put", "strike": 2.4, "maturity": "2027-06-30", "barrier": 1.8,
     "barrier_type": "down-and-in"},
])
def test_curve_drives_simulation_and_closed_forms_alike(curve, ins):
    model = {"kind": "gbm", "spot": 2.4, "vol": 0.5}
    doc = spec(model, ins, method="mc")
    doc["market"] = {"valuation_date": "2026-11-26", "curve": curve}
    mc = gpufin.price(doc)
    exact = gpufin.price(dict(doc, mc={"method": "analytic"}))
    assert_close_se(mc, exact["value"])


def test_curve_replaces_model_rate_and_rate_is_otherwise_required():
    ins = {"kind": "european", "option": "call", "strike": 2.4, "maturity": 1.0}
    flat = gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.03},
                         "instrument": ins})
    curve = gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.09},
                          "instrument": ins, "market": {"curve": {"kind": "flat", "rate": 0.03}}})
    assert flat["value"] == pytest.approx(curve["value"], rel=1e-14)
    with pytest.raises(SpecError, match="model.rate"):
        gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5}, "instrument": ins})


def test_a_tenor_a_date_and_years_name_the_same_instant():
    base = {"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
            "market": {"valuation_date": "2026-11-26"}}
    by_tenor = gpufin.price(dict(base, instrument={"kind": "european", "option": "call",
                                                   "strike": 2.4, "maturity": "6M"}))
    by_date = gpufin.price(dict(base, instrument={"kind": "european", "option": "call",
                                                  "strike": 2.4, "maturity": "2027-05-26"}))
    by_years = gpufin.price(dict(base, instrument={"kind": "european", "option": "call",
                                                   "strike": 2.4, "maturity": 181 / 365}))
    assert by_tenor["value"] == by_date["value"] == by_years["value"]
    assert by_tenor["maturity_years"] == 181 / 365


SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0,
      "short_vol": 0.5, "long_vol": 0.2, "correlation": 0.3, "long_drift": -0.29,
      "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
      "spike_intensity": 0.5, "spike_jump_mean": 0.18, "spike_jump_vol": 0.1}
FORWARDS = [{"time": 0.25, "price": 2.55}, {"time": 0.5, "price": 2.45},
            {"time": 1.0, "price": 2.10}, {"time": 2.0, "price": 1.60}]


@pytest.mark.parametrize("t,price", [(p["time"], p["price"]) for p in FORWARDS])
def test_forward_curve_fixes_the_pricing_trend_exactly(t, price):
    doc = spec(SS, {"kind": "future", "maturity": t, "window_days": 1})
    doc["market"] = {"forward_curve": FORWARDS}
    exact = gpufin.price(doc)
    assert exact["futures_price"] == pytest.approx(price, rel=1e-12)
    mc = gpufin.price(dict(doc, mc={"method": "mc", "paths": 100_000}))
    assert_close_se(mc, price)


def test_forward_curve_rejected_for_lognormal_models():
    doc = spec({"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
               {"kind": "future", "maturity": 1.0})
    doc["market"] = {"forward_curve": FORWARDS}
    with pytest.raises(SpecError, match="market.forward_curve"):
        gpufin.price(doc)


def test_shared_sofr_market_is_unmoved_by_other_valuation_dates():
    """Markets are shared between trades; QuantLib's global evaluation date, which another
    market moves, must not re-date a bootstrapped curve already built."""
    import gpufin.market.curve

    def swap(date, maturity):
        return {"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5},
                "market": {"valuation_date": date, "curve": SOFR},
                "instrument": {"kind": "swap", "fixed_rate": 2.3, "maturity": maturity}}
    gpufin.price(swap("2026-07-01", 2.0))
    gpufin.price(swap("2026-09-15", 2.0))
    after_switch = gpufin.price(swap("2026-07-01", 3.0))["value"]
    gpufin.market.curve._BUILT.clear()
    assert gpufin.price(swap("2026-07-01", 3.0))["value"] == after_switch
