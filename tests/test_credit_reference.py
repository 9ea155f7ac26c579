"""The defaultable-loan reference: QuantLib's RiskyBondEngine on fixed-rate bullet and
amortizing bonds, the flat-hazard integral in closed form, floaters at par without default,
and the par spread; the Python example of docs/credit.md runs as written."""
import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql

from gpufin.credit.hazards import HazardCurve, bootstrap_cds
from gpufin.credit.reference import par_spread, risky_loan_value
from gpufin.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
VALUATION = dt.date(2026, 7, 1)
DAY0 = ql.Date(1, 7, 2026)


def _schedule(years: int, frequency):
    """(QuantLib schedule, payment times in years ACT/365F) from the valuation date."""
    schedule = ql.Schedule(DAY0, DAY0 + ql.Period(years, ql.Years), ql.Period(frequency), ql.NullCalendar(),
                           ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Forward, False)
    return schedule, np.array([(d - DAY0) / 365.0 for d in list(schedule)[1:]])


CASES = [   # (CDS quotes, recovery, flat rate, coupon, years, frequency)
    ([(1.0, 200.0), (3.0, 350.0), (5.0, 450.0)], 0.35, 0.037, 0.08, 5, ql.Quarterly),
    ([(2.0, 60.0), (7.0, 110.0)], 0.40, 0.042, 0.055, 7, ql.Semiannual),
    ([(1.0, 1100.0), (3.0, 900.0)], 0.20, 0.03, 0.12, 3, ql.Monthly),
]


@pytest.mark.parametrize("amortization", ["bullet", "linear"])
@pytest.mark.parametrize("quotes, recovery, rate, coupon, years, frequency", CASES)
def test_matches_quantlib_risky_bond_engine(quotes, recovery, rate, coupon, years, frequency, amortization):
    ql.Settings.instance().evaluationDate = DAY0
    discount = ql.YieldTermStructureHandle(ql.FlatForward(DAY0, rate, ql.Actual365Fixed(), ql.Continuous))
    curve = bootstrap_cds(quotes, recovery, discount)
    schedule, t = _schedule(years, frequency)
    if amortization == "bullet":
        bond = ql.FixedRateBond(0, 100.0, schedule, [coupon], ql.Actual365Fixed())
    else:
        notionals = [100.0 * (1 - i / t.size) for i in range(t.size)]
        bond = ql.AmortizingFixedRateBond(0, notionals, schedule, [coupon], ql.Actual365Fixed())
    bond.setPricingEngine(ql.RiskyBondEngine(curve.ql_curve(), recovery, discount))
    value = risky_loan_value(t, curve, discount, coupon=coupon, amortization=amortization)
    assert value == pytest.approx(bond.NPV(), rel=1e-6)


@pytest.mark.parametrize("hazard, recovery, rate", [(0.02, 0.4, 0.04), (0.08, 0.3, 0.035), (0.2, 0.5, 0.05)])
def test_fine_grid_recovery_matches_the_flat_hazard_integral(hazard, recovery, rate):
    # a zero-coupon bullet: value = 100 e^{-(r+h)T} + 100 R h / (r+h) (1 - e^{-(r+h)T})
    curve = HazardCurve(VALUATION, (10.0,), (hazard,), recovery)
    T, k = 4.0, rate + hazard
    exact = 100 * math.exp(-k * T) + 100 * recovery * hazard / k * (1 - math.exp(-k * T))
    value = risky_loan_value([T], curve, rate, coupon=0.0, steps_per_period=2000)
    assert value == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("amortization", ["bullet", "linear"])
def test_floater_without_default_prices_at_par(amortization):
    curve = HazardCurve(VALUATION, (10.0,), (0.0,), 0.4)
    _, t = _schedule(5, ql.Quarterly)

    def discount(x):                       # a sloped curve
        return math.exp(-0.03 * x - 0.001 * x * x)

    value = risky_loan_value(t, curve, discount, spread=0.0, amortization=amortization)
    assert value == pytest.approx(100.0, rel=1e-12)
    assert par_spread(t, curve, discount, amortization=amortization) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("hazard, recovery", [(0.03, 0.4), (0.1, 0.25)])
def test_par_spread_reprices_at_par_and_is_near_the_credit_triangle(hazard, recovery):
    curve = HazardCurve(VALUATION, (10.0,), (hazard,), recovery)
    _, t = _schedule(5, ql.Quarterly)
    s = par_spread(t, curve, 0.04, steps_per_period=30)
    assert risky_loan_value(t, curve, 0.04, spread=s, steps_per_period=30) == pytest.approx(100.0, rel=1e-12)
    assert s == pytest.approx(hazard * (1 - recovery), rel=0.05)
    assert par_spread(t, curve, 0.04, price_pct=98.0, steps_per_period=30) < s   # a discount: less spread


def test_bad_input_is_an_error():
    curve = HazardCurve(VALUATION, (10.0,), (0.02,), 0.4)
    with pytest.raises(SpecError, match="times_years"):
        risky_loan_value([1.0, 0.5], curve, 0.04, coupon=0.05)
    with pytest.raises(SpecError, match="coupon"):
        risky_loan_value([1.0], curve, 0.04, coupon=0.05, spread=0.01)
    with pytest.raises(SpecError, match="amortization"):
        risky_loan_value([1.0], curve, 0.04, coupon=0.05, amortization="annuity")


def test_docs_credit_example_runs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / "credit.md").read_text(), re.MULTILINE | re.DOTALL)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/credit.md", "exec"), {})
    assert capsys.readouterr().out.strip()
