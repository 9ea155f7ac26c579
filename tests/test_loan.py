"""GPU-backed loans: Merton (1974), QuantLib bonds when no default is possible, the fair
spread, monotonicity, covenant monitoring, and bad input."""
import math

import pytest
import QuantLib as ql
from scipy import stats

import gpufin
from gpufin.credit.spread import solve_spread
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.spec.schema import MarketSpec

VD = "2026-07-01"
CURVE = {"kind": "sofr", "deposits": [{"tenor": "1M", "rate": 0.043}],
         "ois": [{"tenor": "1Y", "rate": 0.040}, {"tenor": "3Y", "rate": 0.037}, {"tenor": "7Y", "rate": 0.036}]}


def loan_spec(instrument, model=None, paths=50_000, seed=5, market=None):
    return {"model": model or {"kind": "gbm", "spot": 100.0, "vol": 0.3, "rate": 0.04},
            "market": market or {"valuation_date": VD},
            "instrument": dict({"kind": "loan"}, **instrument), "mc": {"paths": paths, "seed": seed}}


def merton_debt(v0, debt, rate, vol, t):
    d1 = (math.log(v0 / debt) + (rate + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    put = debt * math.exp(-rate * t) * stats.norm.cdf(-d2) - v0 * stats.norm.cdf(-d1)
    return debt * math.exp(-rate * t) - put


MERTON = [  # leverage D/V0, vol, maturity
    (0.3, 0.8, 5.0), (0.6, 0.5, 3.0), (0.8, 0.3, 2.0), (1.0, 0.4, 1.0), (1.2, 0.1, 2.0), (0.5, 0.2, 4.0)]


@pytest.mark.parametrize("leverage,vol,maturity", MERTON)
def test_zero_coupon_bullet_is_merton_debt(leverage, vol, maturity):
    res = gpufin.price(loan_spec({"principal": 100 * leverage, "maturity": maturity, "coupon": 0.0,
                                  "liquidation_haircut": 0.0, "liquidation_lag": 0.0},
                                 {"kind": "gbm", "spot": 100.0, "vol": vol, "rate": 0.04},
                                 seed=int(leverage * 100)))
    ref = merton_debt(100.0, 100 * leverage, 0.04, vol, res["maturity_years"])
    assert abs(res["value"] - ref) <= 4 * res["stderr"]
    assert res["price_pct"] == pytest.approx(res["value"] / leverage, rel=1e-12)


MERTON_IN_YEARS = [(0.5, 0.3, 1.0), (0.9, 0.2, 1.0), (1.1, 0.5, 1.0), (0.4, 0.6, 5.0), (0.8, 0.3, 5.0),
                   (1.2, 0.2, 5.0)]


@pytest.mark.parametrize("leverage,vol,maturity", MERTON_IN_YEARS)
def test_zero_coupon_bullet_in_years_is_merton_debt_at_exactly_t(leverage, vol, maturity):
    """No valuation date: the loan pays at exactly T years (no calendar roll, no whole days)."""
    doc = {"model": {"kind": "gbm", "spot": 100.0, "vol": vol, "rate": 0.04},
           "instrument": {"kind": "loan", "principal": 100 * leverage, "maturity": maturity,
                          "coupon": 0.0, "liquidation_haircut": 0.0, "liquidation_lag": 0.0},
           "mc": {"paths": 50_000, "seed": int(leverage * 10 + maturity)}}
    res = gpufin.price(doc)
    assert res["maturity_years"] == maturity
    ref = merton_debt(100.0, 100 * leverage, 0.04, vol, maturity)
    assert abs(res["value"] - ref) <= 4 * res["stderr"]


def test_a_loan_in_years_pays_every_period_at_its_exact_time():
    doc = {"model": {"kind": "gbm", "spot": 1e12, "vol": 0.0, "rate": 0.04},
           "instrument": {"kind": "loan", "principal": 100.0, "maturity": 2.1, "coupon": 0.05,
                          "payment_frequency": "6M"}, "mc": {"paths": 64}}
    res = gpufin.price(doc)
    times = [row["time_years"] for row in res["ltv_quantiles"]]
    assert times == pytest.approx([0.1, 0.6, 1.1, 1.6, 2.1], abs=1e-15)
    # a riskless fixed bullet: coupons on the exact year fractions, discounted continuously
    expected = sum(100 * 0.05 * a * math.exp(-0.04 * t) for a, t in zip([0.1, 0.5, 0.5, 0.5, 0.5], times))
    assert res["value"] == pytest.approx(expected + 100 * math.exp(-0.04 * 2.1), rel=1e-12)


def test_bullet_pays_min_of_principal_and_haircut_collateral():
    """E[DF min(D, (1-h) V_T)] = (1-h) Merton(V0, D / (1-h))."""
    res = gpufin.price(loan_spec({"principal": 70.0, "maturity": 2.0, "coupon": 0.0,
                                  "liquidation_haircut": 0.2, "liquidation_lag": 0.0}))
    ref = 0.8 * merton_debt(100.0, 70.0 / 0.8, 0.04, 0.3, res["maturity_years"])
    assert abs(res["value"] - ref) <= 4 * res["stderr"]


SAFE = {"kind": "gbm", "spot": 1e12, "vol": 0.0}


def _ql_setup():
    market = build_market(MarketSpec(valuation_date=VD, curve=CURVE), None)
    handle = market.curve_handle()
    day0 = market.ql_date(0)
    cal = ql.UnitedStates(ql.UnitedStates.GovernmentBond)
    sched = ql.Schedule(day0, day0 + ql.Period("5Y"), ql.Period("3M"), cal, ql.ModifiedFollowing,
                        ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    return market, handle, day0, cal, sched


def _price_safe(instrument):
    return gpufin.price(loan_spec(dict(instrument, maturity="5Y"), SAFE, paths=64,
                                  market={"valuation_date": VD, "curve": CURVE}))


def test_no_default_fixed_bullet_is_quantlib_fixed_rate_bond():
    _, handle, _, _, sched = _ql_setup()
    bond = ql.FixedRateBond(0, 1e6, sched, [0.059], ql.Actual360())
    bond.setPricingEngine(ql.DiscountingBondEngine(handle))
    res = _price_safe({"principal": 1e6, "coupon": 0.059})
    assert res["value"] == pytest.approx(bond.NPV(), rel=1e-8) and res["pd"] == 0.0


@pytest.mark.parametrize("amortization", ["bullet", "sweep"])
def test_no_default_floating_is_quantlib_sofr_bond(amortization):
    _, handle, day0, cal, sched = _ql_setup()
    leg = ql.OvernightLeg([1e6], sched, ql.Sofr(handle), ql.Actual360(), ql.ModifiedFollowing,
                          [1.0], [0.0225])
    bond = ql.Bond(0, cal, day0, list(leg))
    bond.setPricingEngine(ql.DiscountingBondEngine(handle))
    res = _price_safe({"principal": 1e6, "spread": 0.0225, "amortization": amortization})
    assert res["value"] == pytest.approx(bond.NPV(), rel=1e-8)


def _notionals(kind, coupon, sched):
    a360 = ql.Actual360()
    taus = [a360.yearFraction(a, b) for a, b in zip(list(sched)[:-1], list(sched)[1:])]
    n, out, left = len(taus), [], 1e6
    for k, tau in enumerate(taus):
        out.append(left)
        r = coupon * tau
        left -= left / (n - k) if kind == "linear" else left * r / (1 - (1 + r) ** -(n - k)) - left * r
    return out


@pytest.mark.parametrize("kind", ["linear", "annuity"])
def test_no_default_amortizing_is_quantlib_amortizing_bond(kind):
    _, handle, _, _, sched = _ql_setup()
    bond = ql.AmortizingFixedRateBond(0, _notionals(kind, 0.059, sched), sched, [0.059], ql.Actual360())
    bond.setPricingEngine(ql.DiscountingBondEngine(handle))
    res = _price_safe({"principal": 1e6, "coupon": 0.059, "amortization": kind})
    assert res["value"] == pytest.approx(bond.NPV(), rel=1e-8)
    assert res["wal"] < res["maturity_years"]
    if kind == "linear":     # equal installments each quarter: WAL = (T + one period) / 2
        assert res["wal"] == pytest.approx((res["maturity_years"] + 0.25) / 2, abs=0.01)


def test_delayed_draws_and_commitment_fee_without_default():
    """Draws fund the loan; value = PV receipts - PV of later draws; price 100 at a fair coupon."""
    res = _price_safe({"draws": [{"time": 0.0, "amount": 4e5}, {"date": "2027-01-04", "amount": 6e5}],
                       "commitment": 1.2e6, "commitment_fee": 0.005, "spread": 0.0})
    assert res["drawn"] == 1e6 and res["commitment"] == 1.2e6
    # at SOFR flat the drawn money earns its own discounting: only the fee is left over
    assert res["price_pct"] > 100.0 and res["value"] > 4e5


FLEET_LOAN_MODEL = {"kind": "gpu-fleet", "gpus": 1000,
                    "contracts": [{"share": 0.8, "rate": 2.3, "end": 4.0, "default_hazard": 0.01}]}


def test_fair_spread_prices_at_par_on_fresh_paths():
    spec = loan_spec({"principal": 3.0e7, "maturity": 4.0, "spread": 0.03, "amortization": "linear",
                      "dscr_trigger": 1.05, "reserve_periods": 1},
                     FLEET_LOAN_MODEL, paths=8000, seed=21)
    fair = solve_spread(spec)
    assert fair["price_pct"] == pytest.approx(100.0, abs=1e-4)
    assert 0.0 < fair["spread"] < 0.5 and fair["spread_stderr"] > 0.0
    again = gpufin.price(dict(spec, instrument=dict(spec["instrument"], spread=fair["spread"]),
                              mc={"paths": 8000, "seed": 99}))
    assert abs(again["price_pct"] - 100.0) <= 2 * math.sqrt(2) * again["price_pct_stderr"]


def _value(instrument=None, model=None, paths=30_000):
    base = {"principal": 70.0, "maturity": 3.0, "spread": 0.03, "ltv_trigger": 0.9,
            "default_on": "payment-or-covenant", "liquidation_haircut": 0.15, "liquidation_lag": 0.5}
    return gpufin.price(loan_spec(dict(base, **(instrument or {})), model, paths=paths))["value"]


def test_value_falls_with_volatility_haircut_and_lag():
    gbm = {"kind": "gbm", "spot": 100.0, "rate": 0.04}
    assert _value(model=dict(gbm, vol=0.2)) > _value(model=dict(gbm, vol=0.4)) > _value(model=dict(gbm, vol=0.7))
    assert _value({"liquidation_haircut": 0.0}) > _value({"liquidation_haircut": 0.15}) > _value({"liquidation_haircut": 0.35})
    assert _value({"liquidation_lag": 0.0}) > _value({"liquidation_lag": 0.5}) > _value({"liquidation_lag": 1.0})


def test_value_falls_with_failure_rate_and_tight_ltv_trigger():
    fleet = dict(FLEET_LOAN_MODEL, valuation="income")
    loan = {"principal": 3.0e7, "maturity": 4.0, "spread": 0.04, "amortization": "linear"}
    values = [gpufin.price(loan_spec(loan, dict(fleet, failure_rate=h), paths=4000))["value"]
              for h in (0.0, 0.04, 0.12)]
    assert values[0] > values[1] > values[2]
    # an LTV trigger that liquidates GPUs into a 35% haircut destroys value
    ltv = [_value({"ltv_trigger": x, "liquidation_haircut": 0.35}) for x in (1.2, 0.9, 0.75)]
    assert ltv[0] > ltv[1] > ltv[2]


def test_finer_ltv_test_grid_converges_and_bridge_matches_fine_grid():
    loan = {"principal": 70.0, "maturity": 2.0, "spread": 0.03, "ltv_trigger": 0.85,
            "default_on": "payment-or-covenant"}
    quarterly = gpufin.price(loan_spec(dict(loan, ltv_test="payment"), paths=40_000))
    monthly = gpufin.price(loan_spec(dict(loan, ltv_test="monthly"), paths=40_000))
    weekly = gpufin.price(loan_spec(dict(loan, ltv_test=[w * 7 / 365 for w in range(1, 105)]), paths=40_000))
    daily = gpufin.price(loan_spec(dict(loan, ltv_test=[d / 365 for d in range(1, 731)]), paths=40_000))
    bridge = gpufin.price(loan_spec(dict(loan, ltv_test="continuous"), paths=40_000))
    pd = {k: r["acceleration_probability"] for k, r in
          dict(quarterly=quarterly, monthly=monthly, weekly=weekly, daily=daily, bridge=bridge).items()}
    assert pd["quarterly"] < pd["monthly"] < pd["weekly"] < pd["daily"] < pd["bridge"]
    assert abs(weekly["value"] - daily["value"]) < abs(quarterly["value"] - monthly["value"])
    # the bridge catches crossings between daily checks too; continuous is the limit
    assert abs(pd["bridge"] - pd["daily"]) < 0.25 * abs(pd["daily"] - pd["monthly"]) + 0.01
    assert abs(bridge["value"] - daily["value"]) < 4 * math.hypot(bridge["stderr"], daily["stderr"]) + 0.05


def test_outputs_are_consistent():
    res = gpufin.price(loan_spec({"principal": 80.0, "maturity": 3.0, "spread": 0.03, "ltv_trigger": 0.95,
                                  "amortization": "linear", "default_on": "payment-or-covenant"},
                                 paths=20_000))
    assert res["pd_by_year"] == sorted(res["pd_by_year"]) and res["pd_by_year"][-1] == pytest.approx(res["pd"])
    assert 0.0 < res["lgd"] < 1.0 and res["expected_loss"] > 0.0
    assert res["loss_es99"] >= res["loss_var99"] > 0.0
    assert len(res["ltv_quantiles"]) == res["payments"] == 12
    first = res["ltv_quantiles"][0]
    assert first["q05"] <= first["q50"] <= first["q95"]


def test_sculpted_amortization_meets_the_target_dscr_on_the_expected_path():
    deterministic = {"kind": "gpu-fleet", "gpus": 1000, "failure_rate": 0.0,
                     "index": {"short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0,
                               "spike_intensity": 0.0, "long_drift": 0.0},
                     "utilization": {"vol": 0.0},
                     "contracts": [{"share": 1.0, "rate": 2.5, "end": 6.0}]}
    res = gpufin.price(loan_spec({"principal": 2.0e7, "maturity": 4.0, "spread": 0.03,
                                  "amortization": "sculpted", "target_dscr": 1.4},
                                 deterministic, paths=64))
    dscr = [row["q50"] for row in res["dscr_quantiles"] if row["paths"]]   # none once repaid
    assert dscr[:-1] == pytest.approx([1.4] * (len(dscr) - 1), rel=1e-9) and len(dscr) > 4
    assert dscr[-1] >= 1.4   # the last installment is what is left
    assert res["pd"] == 0.0


BAD = [
    ({"draws": [{"time": 0, "amount": 60}, {"time": 1, "amount": 60}], "commitment": 100}, "instrument.draws"),
    ({"principal": 50, "spread": -1.5}, "instrument.spread"),
    ({"draws": [{"time": 0, "amount": 10}, {"time": 4, "amount": 10}]}, "instrument.maturity"),
    ({"principal": 50, "amortization": "balloon"}, "instrument.amortization"),
    ({"principal": 50, "coupon": 0.05, "spread": 0.02}, "instrument.coupon"),
    ({"principal": 50, "spread": 0.02, "payment_frequency": "quarterly"}, "instrument.payment_frequency"),
    ({"principal": 50, "prepayments": "loan"}, "instrument.prepayments"),     # an index model has no contracts
]


@pytest.mark.parametrize("instrument,key", BAD)
def test_bad_loan_input_names_the_key(instrument, key):
    ins = dict({"maturity": 3.0, "spread": 0.03}, **instrument)
    if "coupon" in instrument:
        ins = dict({"maturity": 3.0}, **instrument)
    with pytest.raises(SpecError) as err:
        gpufin.price(loan_spec(ins, paths=64))
    assert str(err.value).startswith(key)


def test_repaid_loan_cannot_default_and_fee_stops_after_the_last_draw():
    # A fleet whose margin turns negative after year 2 (contract ends, index falls below opex):
    # a loan repaid by then must not default.
    fleet = {"kind": "gpu-fleet", "gpus": 1000, "failure_rate": 0.0,
             "index": {"spot": 0.5, "short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0,
                       "spike_intensity": 0.0, "long_drift": 0.0},
             "utilization": {"vol": 0.0}, "contracts": [{"share": 1.0, "rate": 2.5, "end": 2.0}]}
    res = gpufin.price(loan_spec({"principal": 5.0e6, "maturity": 4.0, "spread": 0.03,
                                  "amortization": "sweep", "sweep_share": 1.0}, fleet, paths=64))
    assert res["pd"] == 0.0
    # commitment 200 against draws of 100 by year 1: the fee runs for a year only
    base = {"draws": [{"time": 0.0, "amount": 50.0}, {"time": 1.0, "amount": 50.0}], "maturity": 3.0,
            "coupon": 0.05, "commitment_fee": 0.01}
    safe = dict(SAFE, rate=0.04)
    with_fee = gpufin.price(loan_spec(dict(base, commitment=200.0), safe, paths=64))["value"]
    drawn_only = gpufin.price(loan_spec(dict(base, commitment=100.0), safe, paths=64))["value"]
    assert 0.0 < with_fee - drawn_only < 100.0 * 0.01 * 1.02 * 365 / 360


def test_expected_shortfall_is_the_mean_of_the_worst_percent():
    res = gpufin.price(loan_spec({"principal": 30.0, "maturity": 2.0, "coupon": 0.0,
                                  "liquidation_haircut": 0.0, "liquidation_lag": 0.0}, paths=20_000))
    assert res["pd"] < 0.01 and res["loss_var99"] == 0.0
    assert res["loss_es99"] > 50 * res["expected_loss"]


def test_negative_ltv_test_time_is_refused():
    with pytest.raises(SpecError, match="instrument.ltv_test"):
        gpufin.price(loan_spec({"principal": 50.0, "maturity": 2.0, "spread": 0.03, "ltv_trigger": 0.9,
                                "ltv_test": [-0.5, 1.0]}, paths=64))


def test_cash_of_a_period_with_nothing_due_goes_to_equity():
    """A negligible fee (something due before the first draw) must not move the price."""
    fleet = {"kind": "gpu-fleet", "gpus": 2000, "valuation": "residual"}
    base = {"draws": [{"time": 0.5, "amount": 2.0e7}], "maturity": 3.0, "spread": 0.05,
            "amortization": "linear", "dscr_trigger": 1.5}
    prices = [gpufin.price(loan_spec(dict(base, commitment_fee=fee), fleet, paths=4000))["price_pct"]
              for fee in (0.0, 1e-9)]
    assert prices[0] == pytest.approx(prices[1], abs=1e-4)


def test_riskless_floater_at_sofr_flat_is_par_on_a_holiday():
    res = gpufin.price(loan_spec({"principal": 1e6, "maturity": "3Y", "spread": 0.0}, SAFE, paths=64,
                                 market={"valuation_date": "2026-07-04", "curve": CURVE}))
    assert res["price_pct"] == pytest.approx(100.0, abs=1e-9)
