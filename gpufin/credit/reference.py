"""Closed-form value of a defaultable loan on a hazard curve: the independent reference for
the loan engine's risk-neutral price.

A loan pays at times t_1 < ... < t_n (years ACT/365F from the valuation date, t_0 = 0 the
start of the first accrual) coupons on the principal outstanding over each period, N_{i-1},
and principal P_i (a bullet at t_n, or straight-line); a fixed coupon accrues c (t_i -
t_{i-1}) N_{i-1}, a floating one (F_i + s)(t_i - t_{i-1}) N_{i-1} with F_i the simple forward
of the discount curve over the period. With survival Q and discount factors DF:

    value = sum_i (coupon_i + P_i) DF(t_i) Q(t_i)
          + R sum_i N_{i-1} sum_k DF(u_k) (Q(u_{k-1}) - Q(u_k))

the recovery R of the outstanding principal paid on default, on a grid u of each period
(`steps_per_period` equal steps, discounted at each step's midpoint; one step discounts at
the period's midpoint rounded down to a whole day, QuantLib's `RiskyBondEngine` scheme).
Tested against: QuantLib's RiskyBondEngine on FixedRateBond and AmortizingFixedRateBond to
1e-6 relative; the flat-hazard integral in closed form; a floater at par with no default.
"""
from __future__ import annotations

import math

import numpy as np

from gpufin.credit.hazards import DAYS_PER_YEAR, HazardCurve
from gpufin.credit.margin import discount_factors
from gpufin.errors import SpecError

AMORTIZATIONS = ("bullet", "linear")


def outstanding(times_years, notional: float = 100.0, amortization: str = "bullet"):
    """(principal outstanding over each period, principal paid at each date)."""
    n = len(times_years)
    if amortization not in AMORTIZATIONS:
        raise SpecError("amortization", f"got {amortization!r}; expected one of {', '.join(AMORTIZATIONS)}")
    paid = np.zeros(n)
    if amortization == "bullet":
        paid[-1] = notional
    else:
        paid[:] = notional / n
    return notional - np.concatenate(([0.0], np.cumsum(paid)[:-1])), paid


def risky_loan_value(times_years, curve: HazardCurve, discount, notional: float = 100.0,
                     coupon: float | None = None, spread: float | None = None,
                     amortization: str = "bullet", steps_per_period: int = 1) -> float:
    """The value of a fixed (`coupon`, decimal a year) or floating (`spread` over the curve's
    forwards) loan paying at `times_years` on `curve`, recovery `curve.recovery` of the
    outstanding principal; `discount` as `gpufin.credit.margin.discount_factors` takes it."""
    t = _check_times(times_years)
    if (coupon is None) == (spread is None):
        raise SpecError("coupon", "give exactly one of coupon (fixed) and spread (floating)")
    n_out, paid = outstanding(t, notional, amortization)
    df = discount_factors(discount, t)
    q = curve.survival(t)
    rates = coupon if coupon is not None else _forwards(t, df) + spread
    coupons = n_out * rates * np.diff(t, prepend=0.0)
    return math.fsum((coupons + paid) * df * q) + _recovery_leg(t, n_out, curve, discount, steps_per_period)


def par_spread(times_years, curve: HazardCurve, discount, notional: float = 100.0,
               amortization: str = "bullet", price_pct: float = 100.0, steps_per_period: int = 1) -> float:
    """The spread over the curve's forwards (decimal a year) at which the floating loan is
    worth `price_pct` percent of `notional`: the value is linear in the spread, with slope
    the risky annuity sum_i N_{i-1} (t_i - t_{i-1}) DF(t_i) Q(t_i)."""
    t = _check_times(times_years)
    n_out, _ = outstanding(t, notional, amortization)
    base = risky_loan_value(t, curve, discount, notional, spread=0.0, amortization=amortization,
                            steps_per_period=steps_per_period)
    annuity = math.fsum(n_out * np.diff(t, prepend=0.0) * discount_factors(discount, t) * curve.survival(t))
    return (price_pct / 100.0 * notional - base) / annuity


def _forwards(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Simple forward rates over each period from the discount factors (DF(0) = 1)."""
    return (np.concatenate(([1.0], df[:-1])) / df - 1.0) / np.diff(t, prepend=0.0)


def _recovery_leg(t, n_out, curve: HazardCurve, discount, steps: int) -> float:
    if not (isinstance(steps, int) and steps >= 1):
        raise SpecError("steps_per_period", f"got {steps!r}; expected an integer >= 1")
    starts = np.concatenate(([0.0], t[:-1]))
    if steps == 1:
        whole = np.round((t - starts) * DAYS_PER_YEAR)
        grid = np.stack([starts, t], axis=1)
        mids = starts + np.floor(whole / 2.0) / DAYS_PER_YEAR
        mids = mids[:, None]
    else:
        grid = starts[:, None] + (t - starts)[:, None] * np.linspace(0.0, 1.0, steps + 1)[None, :]
        mids = 0.5 * (grid[:, 1:] + grid[:, :-1])
    q = curve.survival(grid.ravel()).reshape(grid.shape)
    df = discount_factors(discount, mids.ravel()).reshape(mids.shape)
    per_period = (df * (q[:, :-1] - q[:, 1:])).sum(axis=1)
    return curve.recovery * math.fsum(n_out * per_period)


def _check_times(times_years) -> np.ndarray:
    t = np.asarray(times_years, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise SpecError("times_years", f"got {times_years!r}; expected increasing payment times > 0")
    return t
