"""Hazard curves: QuantLib's CDS engines reprice the bootstrapped quotes through the curve's
own QuantLib rebuild; survival matches QuantLib's; bad quotes are one-line errors; the
deals' credit inputs of data/market.toml load and bootstrap."""
import datetime as dt
import math
import pickle

import numpy as np
import pytest

from gpufin.credit.hazards import (
    HazardCurve,
    bootstrap_cds,
    cds_fair_spread,
    rating_curve,
)
from gpufin.credit.inputs import credit_spec, deal_credit, name_curve
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.market.data import load_market_data
from gpufin.spec.schema import MarketSpec

VALUATION = dt.date(2026, 7, 1)
QUOTE_SETS = [
    ([(1.0, 300.0), (3.0, 400.0), (5.0, 450.0), (7.0, 470.0)], 0.40, 0.04),   # B-like, upward
    ([(0.5, 20.0), (2.0, 45.0), (5.0, 80.0), (10.0, 120.0)], 0.40, 0.035),    # investment grade
    ([(1.0, 1200.0), (3.0, 1000.0), (5.0, 900.0)], 0.25, 0.045),              # distressed, inverted
    ([(5.0, 452.0)], 0.40, 0.037),                                            # one quote: flat hazard
]


@pytest.mark.parametrize("model", ["isda", "midpoint"])
@pytest.mark.parametrize("quotes, recovery, rate", QUOTE_SETS)
def test_bootstrap_reprices_quotes_to_1e8(quotes, recovery, rate, model):
    curve = bootstrap_cds(quotes, recovery, rate, VALUATION, model=model)
    for tenor, bp in quotes:
        assert cds_fair_spread(curve, tenor, rate, model) == pytest.approx(bp * 1e-4, abs=1e-8)


def test_bootstrap_on_the_snapshot_sofr_curve_reprices_quotes():
    md = load_market_data()
    handle = build_market(MarketSpec.model_validate(md.market_table()), None).curve_handle()
    quotes = [(1.0, 250.0), (3.0, 380.0), (5.0, 452.0)]
    curve = bootstrap_cds(quotes, 0.4, handle)
    assert curve.valuation_date == dt.date(2026, 7, 1)
    for tenor, bp in quotes:
        assert cds_fair_spread(curve, tenor, handle) == pytest.approx(bp * 1e-4, abs=1e-8)


@pytest.mark.parametrize("quotes, recovery, rate", QUOTE_SETS[:3])
def test_survival_and_hazard_match_quantlib(quotes, recovery, rate):
    curve = bootstrap_cds(quotes, recovery, rate, VALUATION)
    ql_curve = curve.ql_curve()
    for t in (0.0, 0.3, 1.0, 2.5, 4.99, 7.5, 12.0):
        assert curve.survival(t)[0] == pytest.approx(ql_curve.survivalProbability(t), rel=1e-12, abs=1e-15)
        assert curve.default_probability(t)[0] == pytest.approx(1 - ql_curve.survivalProbability(t),
                                                                abs=1e-12)
    mids = 0.5 * (np.array((0.0,) + curve.times[:-1]) + np.array(curve.times))
    assert curve.hazard(mids) == pytest.approx(np.array(curve.hazards), rel=1e-14)


def test_flat_hazard_is_near_the_credit_triangle():
    # one quote: the hazard is about spread / (1 - recovery) (premium and protection legs alike)
    curve = bootstrap_cds([(5.0, 452.0)], 0.4, 0.037, VALUATION)
    assert len(curve.hazards) == 1
    assert curve.hazards[0] == pytest.approx(0.0452 / 0.6, rel=0.02)


def test_wider_spreads_give_higher_hazards_and_the_curve_pickles():
    tight = bootstrap_cds([(1.0, 100.0), (5.0, 200.0)], 0.4, 0.04, VALUATION)
    wide = bootstrap_cds([(1.0, 200.0), (5.0, 400.0)], 0.4, 0.04, VALUATION)
    assert np.all(wide.survival([1.0, 3.0, 5.0]) < tight.survival([1.0, 3.0, 5.0]))
    back = pickle.loads(pickle.dumps(wide))
    assert isinstance(back, HazardCurve) and back == wide
    assert back.survival(4.0)[0] == wide.survival(4.0)[0]


def test_rating_curve_reprices_its_table_and_orders_ratings():
    curve = rating_curve("B1", 0.4, 0.04, VALUATION)
    assert cds_fair_spread(curve, 5.0, 0.04) == pytest.approx(450e-4, abs=1e-8)
    survival = [rating_curve(r, 0.4, 0.04, VALUATION).survival(5.0)[0] for r in ("Aaa", "A3", "Ba2", "B2")]
    assert survival == sorted(survival, reverse=True)


@pytest.mark.parametrize("quotes, recovery, key, words", [
    ([(1.0, -5.0)], 0.4, "credit.cds[0].spread_bp", "got -5.0"),
    ([(1.0, 0.0), (3.0, 50.0)], 0.4, "credit.cds[0].spread_bp", "spread > 0"),
    ([(1.0, math.nan)], 0.4, "credit.cds[0].spread_bp", "finite"),
    ([(1.0, math.inf)], 0.4, "credit.cds[0].spread_bp", "finite"),
    ([(1.0, 100.0)], 1.0, "credit.cds.recovery", "[0, 1)"),
    ([(1.0, 100.0)], -0.1, "credit.cds.recovery", "[0, 1)"),
    ([(3.0, 100.0), (1.0, 80.0)], 0.4, "credit.cds[1].tenor_years", "increasing"),
    ([(3.0, 100.0), (3.0, 80.0)], 0.4, "credit.cds[1].tenor_years", "increasing"),
    ([(1.3, 100.0)], 0.4, "credit.cds[0].tenor_years", "whole months"),
    ([], 0.4, "credit.cds", "no quotes"),
])
def test_bad_quotes_are_one_line_errors(quotes, recovery, key, words):
    with pytest.raises(SpecError) as err:
        bootstrap_cds(quotes, recovery, 0.04, VALUATION)
    assert err.value.key == key and words in str(err.value) and "\n" not in str(err.value)


def test_unknown_rating_is_a_one_line_error():
    with pytest.raises(SpecError) as err:
        rating_curve("BBB-", 0.4, 0.04, VALUATION)
    assert err.value.key == "credit.rating" and "'BBB-'" in str(err.value) and "Baa2" in str(err.value)


def test_shipped_deals_credit_inputs_load_and_bootstrap():
    md = load_market_data()
    handle = build_market(MarketSpec.model_validate(md.market_table()), None).curve_handle()
    spreads = {}
    for deal in ("ig_anchored_ddtl", "non_ig_ddtl", "merchant_fleet"):
        inputs = deal_credit(md.snapshot, deal)
        platform = name_curve(inputs.platform, handle)
        assert cds_fair_spread(platform, 5.0, handle) == pytest.approx(452e-4, abs=1e-8)
        assert 0 < inputs.loan_recovery < 1
        spreads[deal] = inputs.observed_spread_bp
        if inputs.anchor is not None:
            assert 0.0 < name_curve(inputs.anchor, handle).survival(5.0)[0] < 1.0
    assert spreads == {"ig_anchored_ddtl": 225.0, "non_ig_ddtl": 450.0, "merchant_fleet": 700.0}
    assert MarketSpec.model_validate({"credit": md.snapshot["credit"]}).credit is not None


@pytest.mark.parametrize("change, key", [
    (lambda c: c["deals"][1].update(anchor="nobody"), "market.credit.deals[1].anchor"),
    (lambda c: c["names"][0].update(recovery=1.2), "market.credit.names[0].recovery"),
    (lambda c: c["deals"][2].update(spred=1.0), "market.credit.deals[2].spred"),
    (lambda c: c["names"][1].pop("rating"), "market.credit.names[1]"),
    (lambda c: c["names"][2].update(name="coreweave"), "market.credit.names[2].name"),
    (lambda c: c["deals"][2].update(deal="non_ig_ddtl"), "market.credit.deals[2].deal"),
])
def test_bad_credit_table_names_the_key(change, key):
    snapshot = load_market_data().snapshot
    change(snapshot["credit"])
    with pytest.raises(SpecError) as err:
        credit_spec(snapshot)
    assert err.value.key == key and "\n" not in str(err.value)


def test_unknown_deal_is_an_error():
    with pytest.raises(SpecError, match="ig_anchored_ddtl"):
        deal_credit(load_market_data().snapshot, "no_such_deal")


def test_unknown_pricing_model_is_an_error():
    with pytest.raises(SpecError) as err:
        bootstrap_cds([(5.0, 100.0)], 0.4, 0.04, VALUATION, model="black")
    assert err.value.key == "credit.cds.model"
