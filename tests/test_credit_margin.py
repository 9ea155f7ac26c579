"""The discount margin: solved and repriced, CS01 analytic against bumped and closed form,
the margin's standard error against the spread of margins on independent batches; and the
spread decomposition."""
import math

import numpy as np
import pytest

from gpufin.credit.decompose import decompose_spread
from gpufin.credit.margin import discount_factors, solve_margin
from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.market.data import load_market_data
from gpufin.spec.schema import MarketSpec


def _loan(coupon, years=5.0, per_year=4, amortizing=False, notional=1.0):
    """(times, cash per date) of a fixed-coupon loan: bullet or straight-line."""
    t = np.arange(1, int(years * per_year) + 1) / per_year
    n = t.size
    principal = np.full(n, notional / n) if amortizing else np.where(np.arange(n) == n - 1, notional, 0.0)
    outstanding = notional - np.concatenate(([0.0], np.cumsum(principal)[:-1]))
    return t, outstanding * coupon / per_year + principal


def _snapshot_market():
    return build_market(MarketSpec.model_validate(load_market_data().market_table()), None)


CASES = [   # (discount, coupon, amortizing, target price)
    (0.04, 0.08, False, 100.0),
    ("market", 0.0625, True, 97.5),
    ("handle", 0.09, False, 103.0),
    (lambda t: math.exp(-0.03 * t - 0.002 * t * t), 0.07, True, 100.0),
]


@pytest.mark.parametrize("discount, coupon, amortizing, target", CASES)
def test_solved_margin_reprices_and_bumped_cs01_agrees(discount, coupon, amortizing, target):
    if discount == "market":
        discount = _snapshot_market()
    elif discount == "handle":
        discount = _snapshot_market().curve_handle()
    t, cash = _loan(coupon, amortizing=amortizing)
    result = solve_margin(t, cash, discount, price_pct=target)
    m = result["margin"]
    repriced = 100.0 * float(np.sum(cash * discount_factors(discount, t) * np.exp(-m * t)))
    assert repriced == pytest.approx(target, abs=1e-6)
    assert result["price_pct"] == pytest.approx(target, abs=1e-6)
    assert result["cs01"] < 0 and result["cs01_bumped"] == pytest.approx(result["cs01"], rel=0.01)
    assert result["margin_bp"] == pytest.approx(m * 1e4)


def test_market_and_its_handle_and_a_flat_rate_agree():
    market = _snapshot_market()
    t, _ = _loan(0.07)
    assert discount_factors(market, t) == pytest.approx(discount_factors(market.curve_handle(), t), rel=1e-14)
    assert discount_factors(0.04, t) == pytest.approx(np.exp(-0.04 * t), rel=1e-15)


@pytest.mark.parametrize("maturity, rate, price", [(2.0, 0.04, 90.0), (5.0, 0.035, 70.0), (7.5, 0.05, 55.0)])
def test_zero_coupon_margin_and_cs01_in_closed_form(maturity, rate, price):
    # price = 100 exp(-(r + m) T): m = -ln(price / 100) / T - r and CS01 = -T price 1e-4
    result = solve_margin([maturity], [1.0], rate, price_pct=price)
    assert result["margin"] == pytest.approx(-math.log(price / 100) / maturity - rate, abs=1e-12)
    assert result["cs01"] == pytest.approx(-maturity * price * 1e-4, rel=1e-10)


def test_price_of_outstanding_scales():
    t, cash = _loan(0.08, notional=250.0)
    scaled = solve_margin(t, cash, 0.04, price_pct=98.0, outstanding=250.0)
    unit = solve_margin(*_loan(0.08), 0.04, price_pct=98.0)
    assert scaled["margin"] == pytest.approx(unit["margin"], abs=1e-12)


def _default_paths(rng, paths, t, coupon=0.09, hazard=0.06, recovery=0.4):
    """Per-path cash of a bullet loan whose borrower defaults at an exponential time: coupons
    until default, then the recovery at the next payment date."""
    cash = np.zeros((paths, t.size))
    default = rng.exponential(1.0 / hazard, paths)
    dt = np.diff(t, prepend=0.0)
    alive = t[None, :] <= default[:, None]
    cash += np.where(alive, coupon * dt, 0.0)
    cash[:, -1] += np.where(alive[:, -1], 1.0, 0.0)
    first_dead = np.argmin(alive, axis=1)
    dead = ~alive[:, -1]
    cash[np.flatnonzero(dead), first_dead[dead]] += recovery
    return cash


def test_margin_stderr_matches_the_spread_of_batch_margins():
    rng = np.random.default_rng(2026)
    t = np.arange(1, 21) / 4.0
    batches = [solve_margin(t, _default_paths(rng, 2000, t), 0.04) for _ in range(40)]
    margins = np.array([b["margin"] for b in batches])
    predicted = np.mean([b["margin_stderr"] for b in batches])
    # 40 batches: the sample sd is within about +-11% (1 sd) of the true one
    assert 0.7 < margins.std(ddof=1) / predicted < 1.3
    one = batches[0]
    assert one["paths"] == 2000
    assert one["margin_stderr"] == pytest.approx(one["price_pct_stderr"] / abs(one["cs01"] * 1e4), rel=1e-12)


@pytest.mark.parametrize("kwargs, key", [
    ({"price_pct": 0.0}, "market.loan_price"),
    ({"price_pct": -5.0}, "market.loan_price"),
    ({"price_pct": math.nan}, "market.loan_price"),
    ({"times_years": [], "cash": []}, "cash_flows"),
    ({"cash": [0.02, 1.02]}, "cash_flows"),
    ({"outstanding": 0.0}, "outstanding"),
])
def test_bad_input_is_a_one_line_error(kwargs, key):
    args = {"times_years": [0.5, 1.0, 1.5], "cash": [0.02, 0.02, 1.02], "discount": 0.04, **kwargs}
    with pytest.raises(SpecError) as err:
        solve_margin(**args)
    assert err.value.key == key and "\n" not in str(err.value)
    if key == "market.loan_price":
        assert repr(kwargs["price_pct"]) in str(err.value)


def test_price_no_margin_reaches_is_an_error():
    with pytest.raises(SpecError, match="market.loan_price"):
        solve_margin([1.0], [0.0], 0.04)


@pytest.mark.parametrize("rw, rn, obs", [(40.0, 180.0, 225.0), (150.0, 380.0, 450.0), (420.0, 650.0, 700.0)])
def test_spread_decomposition_adds_up(rw, rn, obs):
    parts = decompose_spread(rw, rn, obs)
    assert parts["expected_loss_bp"] == rw
    assert parts["risk_premium_bp"] == rn - rw and parts["residual_bp"] == obs - rn
    assert parts["expected_loss_bp"] + parts["risk_premium_bp"] + parts["residual_bp"] == pytest.approx(obs)


def test_spread_decomposition_refuses_non_numbers():
    with pytest.raises(SpecError) as err:
        decompose_spread(40.0, math.nan, 225.0)
    assert err.value.key == "risk_neutral_bp"
