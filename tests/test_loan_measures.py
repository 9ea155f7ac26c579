"""A loan under two measures (gpufin.credit.measures): the risk-neutral price against the
closed-form risky loan, the discount margin repricing its target with a CS01 that matches its
bump, the lender's cash by date that the margin is solved from, the rating view at the
idealized table's own points, and bad input as one-line errors naming the key."""
import copy
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main

from gpufin.credit.hazards import HazardCurve
from gpufin.credit.inputs import name_curve
from gpufin.credit.margin import solve_loan_margin, solve_margin
from gpufin.credit.measures import _rating_view, loan_measures
from gpufin.credit.rating import idealized_figure
from gpufin.credit.reference import risky_loan_value
from gpufin.engines.loan import PathCache, prepare, price_loan, value_loan
from gpufin.engines.montecarlo import seed_key
from gpufin.errors import SpecError
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import CreditNameSpec
from pricing_kernels.loan import END_TIME, ENDED, loan_paths

ROOT = Path(__file__).resolve().parents[1]
PATHS = 4000
SIGMAS = 4.0


def one_customer(hazard: float, coupon: float, maturity: float, credit: dict, paths: int = PATHS) -> dict:
    """A fleet whose loan loses only when its one customer defaults: the contract pays far more
    than any month's debt service (so every payment is met while the customer pays), the
    merchant index and the opex are nil (nothing is earned after a default), the collateral is
    worth next to nothing (no recovery) and there are no covenants, reserve or lag. Without a
    valuation date the monthly payments fall on the fleet's monthly dates, where it observes the
    default: a payment is made iff the customer survives to it."""
    return {"model": {"kind": "gpu-fleet", "sku": "H100", "gpus": 100, "capex": 0.001, "failure_rate": 0.0,
                      "valuation": "residual", "residual_elasticity": 0.0, "index": {"spot": 1e-6},
                      "costs": {"power_price": 0.0, "other_cost": 0.0},
                      "contracts": [{"customer": "lab", "share": 1.0, "rate": 100.0, "end": maturity + 1.0,
                                     "default_hazard": hazard}]},
            "instrument": {"kind": "loan", "principal": 1e6, "maturity": maturity, "coupon": coupon,
                           "amortization": "linear", "payment_frequency": "1M", "recovery": "liquidation",
                           "liquidation_lag": 0.0, "liquidation_haircut": 0.0},
            "market": {"curve": {"kind": "flat", "rate": 0.04},
                       "customer_credit": [{"name": "lab", "recovery": 0.4, **credit}]},
            "mc": {"paths": paths, "seed": 11}}


CASES = [(0.02, 0.08, 3.0, {"cds": [{"tenor_years": 3.0, "spread_bp": 300.0}]}),
         (0.05, 0.06, 2.0, {"rating": "B1"}),
         (0.01, 0.10, 4.0, {"cds": [{"tenor_years": 1.0, "spread_bp": 150.0},
                                    {"tenor_years": 5.0, "spread_bp": 400.0}]})]


def _reference(doc: dict, times: tuple, hazards: tuple) -> float:
    """The closed-form value (USD) of the loan on a piecewise-flat hazard curve (hazards[k] up
    to times[k] years, the last beyond) with no recovery."""
    run = prepare(load_spec(doc))
    ins = doc["instrument"]
    curve = HazardCurve(dt.date(2026, 1, 1), times, hazards, 0.0)
    return risky_loan_value(run.terms.schedule.pay_times, curve, run.collateral.market, notional=ins["principal"],
                            coupon=ins["coupon"], amortization="linear")


@pytest.mark.parametrize("hazard, coupon, maturity, credit", CASES)
def test_risk_neutral_price_is_the_closed_form(hazard, coupon, maturity, credit):
    """Zero correlation and no platform risk: the risk-neutral value is the risky loan's closed
    form on the customer's bootstrapped curve (simulated node by node, not flattened), and the
    real-world value the closed form at the contract's hazard, each within 4 standard errors;
    `rn_hazards` reports the curve's flat equivalent -ln Q(T) / T."""
    doc = one_customer(hazard, coupon, maturity, credit)
    result = loan_measures(doc)
    s = load_spec(doc)
    curve = name_curve(s.market.customer_credit[0], prepare(s).collateral.market.curve_handle())
    flat = -math.log(curve.survival(maturity)[0]) / maturity
    assert result["rn_hazards"]["lab"] == pytest.approx(flat, rel=1e-12)
    assert result["rn_hazard_sources"]["lab"] == "market.customer_credit"
    assert flat > hazard                     # these curves price more default than the contract's hazard
    rn_ref, rw_ref = _reference(doc, curve.times, curve.hazards), _reference(doc, (maturity,), (hazard,))
    assert abs(result["rn_value"] - rn_ref) < SIGMAS * result["rn_value_stderr"]
    assert abs(result["value"] - rw_ref) < SIGMAS * result["stderr"]
    assert result["rn_price_pct"] < result["price_pct"]


@pytest.mark.parametrize("customer_bp, platform_bp", [(300.0, 450.0), (150.0, 880.0)])
def test_platform_credit_enters_the_risk_neutral_price(customer_bp, platform_bp):
    """A platform whose default ends the contracts, with its own CDS under its name in
    `market.customer_credit`: independent of the customer (no loading), the loan survives a date
    iff both do, so its risk-neutral value is the closed form at the sum of the two flat
    hazards, within 4 standard errors; the platform's hazard is the CDS's, not its real-world
    one."""
    doc = one_customer(0.02, 0.08, 3.0, {"cds": [{"tenor_years": 3.0, "spread_bp": customer_bp}]})
    doc["model"]["platform"] = {"name": "neocloud", "default_hazard": 0.01, "on_default": "end-contracts"}
    doc["market"]["customer_credit"].append({"name": "neocloud", "recovery": 0.4,
                                             "cds": [{"tenor_years": 3.0, "spread_bp": platform_bp}]})
    result = loan_measures(doc)
    s = load_spec(doc)
    handle = prepare(s).collateral.market.curve_handle()
    customer, platform = (name_curve(entry, handle) for entry in s.market.customer_credit)
    assert result["rn_hazard_sources"] == {"lab": "market.customer_credit", "neocloud": "market.customer_credit"}
    assert result["rn_hazards"]["neocloud"] == pytest.approx(-math.log(platform.survival(3.0)[0]) / 3.0, rel=1e-12)
    total = customer.hazards[0] + platform.hazards[0]
    assert len(customer.hazards) == len(platform.hazards) == 1
    assert abs(result["rn_value"] - _reference(doc, (3.0,), (total,))) < SIGMAS * result["rn_value_stderr"]
    alone = copy.deepcopy(doc)
    del alone["model"]["platform"], alone["market"]["customer_credit"][1]
    assert result["rn_value"] < loan_measures(alone)["rn_value"]      # platform risk costs the lender


def test_lender_cash_reprices_the_loan_and_ignores_chunking():
    """The cash by date, discounted on the curve, is the engine's price; its means and
    covariance are the same bit for bit in any chunking, and the covariance is the sample
    covariance of the paths' cash; the engine's own figures are price_loan's."""
    doc = one_customer(0.05, 0.08, 3.0, {"rating": "Ba2"}, paths=3000)
    s = load_spec(doc)
    result, cash = value_loan(s)
    assert result == price_loan(s)
    price0 = 100.0 * math.fsum(cash.mean[0] * cash.df) / math.fsum(cash.mean[1] * cash.df)
    assert price0 == pytest.approx(result["price_pct"], rel=1e-10)
    chunked = s.__class__(s.model, s.instrument, s.mc.model_copy(update={"chunk_paths": 700}), s.market, s.timeline)
    _, other = value_loan(chunked, PathCache(prepare(chunked), 3000, 11, 700))
    assert np.array_equal(cash.mean, other.mean)
    assert np.array_equal(cash.cov, other.cov)
    run = prepare(s)
    paths = next(iter(PathCache(run, 3000, 11, None)))[1:]
    out, flows = loan_paths(seed_key(11), 0, *paths, run.args._replace(cash_by_date=True))[::4]
    ended = np.where(out[:, ENDED] > 0.0, out[:, END_TIME], np.inf)
    funded = np.where(run.args.times[None, :] <= ended[:, None], run.args.draws[None, :], 0.0)
    sample = np.cov(np.hstack([flows, funded]), rowvar=False)
    assert np.allclose(cash.cov, sample, rtol=1e-9, atol=1e-9 * np.abs(sample).max())


@pytest.mark.parametrize("target", [100.0, 97.5, 103.0])
def test_discount_margin_reprices_and_cs01_matches_its_bump(target):
    s = load_spec(one_customer(0.05, 0.08, 3.0, {"rating": "Ba2"}, paths=3000))
    _, cash = value_loan(s)
    dm = solve_loan_margin(cash.times, cash.df, cash.mean, cash.cov, cash.paths, target)
    w = cash.df * np.exp(-dm["margin"] * cash.times)
    assert 100.0 * (cash.mean[0] @ w) / (cash.mean[1] @ w) == pytest.approx(target, abs=1e-6)
    assert dm["cs01"] == pytest.approx(dm["cs01_bumped"], rel=0.01)
    assert dm["cs01"] < 0.0 and dm["margin_stderr"] > 0.0 and dm["cs01_stderr"] > 0.0


def test_discount_margin_without_default_is_the_cash_flows_margin():
    """No default: the lender's cash is the schedule's, and the margin is that of its fixed
    cash flows (gpufin.credit.margin.solve_margin), with no standard error."""
    s = load_spec(one_customer(0.0, 0.07, 2.0, {"rating": "A3"}, paths=200))
    _, cash = value_loan(s)
    run = prepare(s)
    pays = run.terms.schedule.pay_times
    scheduled = 1e6 * 0.07 / 12 * (1.0 - np.arange(pays.size) / pays.size) + run.args.principal_due
    expected = solve_margin(pays, scheduled, run.collateral.market, price_pct=98.0, outstanding=1e6)
    dm = solve_loan_margin(cash.times, cash.df, cash.mean, cash.cov, cash.paths, 98.0)
    assert dm["margin_bp"] == pytest.approx(expected["margin_bp"], abs=1e-6)
    assert dm["cs01"] == pytest.approx(expected["cs01"], rel=1e-8)
    assert dm["price_pct_stderr"] < 1e-9


@pytest.mark.parametrize("rating, wal", [("A3", 1.0), ("Ba2", 10.0), ("B1", 1.0), ("Baa2", 10.0)])
def test_rating_view_at_table_points(rating, wal):
    doc = one_customer(0.0, 0.07, 2.0, {"rating": "A3"})
    doc["instrument"]["rating"] = rating
    s = load_spec(doc)
    pd = idealized_figure(rating, wal)
    el = idealized_figure(rating, wal, "el")
    view = _rating_view(s, {"pd": pd, "wal": wal, "expected_loss": el * 1e6, "drawn": 1e6})
    assert view == {"rating": rating, "rw_rating_pd": rating, "rw_rating_el": rating,
                    "rw_el_fraction": pytest.approx(el, rel=1e-12)}
    worse = _rating_view(s, {"pd": pd * 1.001, "wal": wal, "expected_loss": el * 1.001e6, "drawn": 1e6})
    assert worse["rw_rating_pd"] != rating and worse["rw_rating_el"] != rating


def _error(doc: dict) -> SpecError:
    with pytest.raises(SpecError) as info:
        loan_measures(doc)
    assert "\n" not in str(info.value)
    return info.value


def test_bad_inputs_are_one_line_errors_naming_the_key():
    doc = one_customer(0.02, 0.08, 3.0, {"rating": "B1"}, paths=100)
    cases = [("market.loan_price", {"loan_price": 0.0}),
             ("market.loan_price", {"loan_price": -5.0}),
             ("market.customer_credit[0].name", {"customer_credit": [{"name": "nobody", "rating": "B1"}]}),
             ("market.customer_credit[0].cds[0].spread_bp",
              {"customer_credit": [{"name": "lab", "cds": [{"tenor_years": 5.0, "spread_bp": -10.0}]}]})]
    for key, market in cases:
        bad = copy.deepcopy(doc)
        bad["market"].update(market)
        error = _error(bad)
        assert error.key == key and str(error).startswith(key)
    bad = copy.deepcopy(doc)
    bad["instrument"]["rating"] = "AAA"
    error = _error(bad)
    assert error.key == "instrument.rating" and "'AAA'" in str(error) and "Baa2" in str(error)


def test_a_name_curve_reaches_the_hazards_by_its_key():
    """A credit name of the spec is bootstrapped under its own key: an error there names it."""
    with pytest.raises(SpecError, match=r"^market\.customer_credit\[0\]\.rating"):
        name_curve(CreditNameSpec(name="lab", rating="Zz9"), 0.04, dt.date(2026, 1, 1),
                   key="market.customer_credit[0]")


def test_shipped_deal_takes_its_credit_inputs_and_the_parts_add_up():
    """A deal file of data/market.toml's `[credit]` takes its anchor's curve and observed
    spread; the real-world figures are the loan engine's own, bit for bit."""
    path = str(ROOT / "data" / "deals" / "non_ig_ddtl.toml")
    result = loan_measures(path, ["mc.paths=1000"])
    assert all(source.endswith("non-ig-lab") for source in result["rn_hazard_sources"].values())
    assert result["observed_spread_bp"] == 450.0
    parts = result["spread_el_bp"] + result["spread_risk_premium_bp"] + result["spread_residual_bp"]
    assert parts == pytest.approx(450.0, abs=1e-9)
    assert result["spread_el_bp"] == result["rw_fair_spread_bp"]
    plain = price_loan(load_spec(path, ["mc.paths=1000"]))
    assert all(result[k] == plain[k] for k in ("value", "price_pct", "pd", "expected_loss", "wal"))


def test_measures_flag_refuses_solve_and_greeks():
    runner = CliRunner()
    out = runner.invoke(main, ["price", str(ROOT / "data" / "deals" / "non_ig_ddtl.toml"), "--measures",
                               "--solve", "spread"])
    assert out.exit_code == 2 and "--measures" in out.output
