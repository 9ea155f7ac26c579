"""Loan terms (`instrument.kind = "loan"`): the payment schedule, rates and draws, fixed once.

QuantLib builds the payment schedule (US government-bond calendar, modified following,
ACT/360 accrual) and the forward SOFR of each period from the discount curve,
(DF(start) / DF(end) - 1) / accrual, the expected compounded SOFR of the period.
Days count from the valuation date; rates are decimals per year.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpufin.errors import SpecError
from gpufin.spec.times import DAYS_PER_YEAR, to_days

AMORTIZATION = {"bullet": 0, "linear": 1, "annuity": 2, "sculpted": 3, "sweep": 4}
DEFAULT_SWEEP_SHARE = 0.5       # FACTS.md 8.5: 50% of excess cash (estimate)


@dataclass(frozen=True)
class Schedule:
    """Payment periods in days from the valuation date, ACT/360 accruals, base rates."""
    start_days: np.ndarray
    pay_days: np.ndarray
    accrual: np.ndarray          # ACT/360 year fraction of each period
    forward: np.ndarray          # forward SOFR of each period (simple, ACT/360)


def build_schedule(ins, market) -> Schedule:
    """QuantLib schedule from the valuation date to maturity at `payment_frequency`."""
    ql = market.ql
    maturity = to_days(ins.maturity, "instrument.maturity", market.valuation_date)
    if maturity <= 0:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a time after the valuation date")
    try:
        tenor = ql.Period(ins.payment_frequency)
    except RuntimeError:
        raise SpecError("instrument.payment_frequency",
                        f"got {ins.payment_frequency!r}; expected a tenor such as 1M, 3M or 6M") from None
    calendar = ql.UnitedStates(ql.UnitedStates.GovernmentBond)
    day0 = market.ql_date(0)
    dates = list(ql.Schedule(day0, market.ql_date(maturity), tenor, calendar, ql.ModifiedFollowing,
                             ql.ModifiedFollowing, ql.DateGeneration.Backward, False))
    dates[0] = day0        # money lent on the valuation date accrues from it, holiday or not
    days = np.array([d - day0 for d in dates], dtype=np.int64)
    a360 = ql.Actual360()
    accrual = np.array([a360.yearFraction(a, b) for a, b in zip(dates[:-1], dates[1:])])
    df = market.discount(days / DAYS_PER_YEAR)
    return Schedule(days[:-1], days[1:], accrual, (df[:-1] / df[1:] - 1.0) / accrual)


@dataclass(frozen=True)
class LoanTerms:
    schedule: Schedule
    rates: np.ndarray            # all-in annual rate of each period
    draw_days: np.ndarray
    draw_amounts: np.ndarray
    commitment: float
    amortization: str
    amort_start: int             # first payment with scheduled principal
    sweep_share: float
    floating: bool


def loan_terms(ins, market, spread: float | None = None) -> LoanTerms:
    """Check the loan's keys and fix its schedule, rates and draws."""
    schedule = build_schedule(ins, market)
    if (ins.coupon is None) == (ins.spread is None):
        raise SpecError("instrument.coupon", "give exactly one of coupon (fixed rate) or spread (over SOFR)")
    spread = ins.spread if spread is None else spread
    if spread is not None and spread <= -1.0:
        raise SpecError("instrument.spread", f"got {spread!r}; expected a spread above -100% (-1.0)")
    if ins.draws and ins.principal is not None:
        raise SpecError("instrument.principal", "give principal (one draw at time 0) or a draws list, not both")
    if ins.draws:
        draw_days = np.array([_draw_day(i, d, market) for i, d in enumerate(ins.draws)], dtype=np.int64)
        amounts = np.array([d.amount for d in ins.draws])
    elif ins.principal is not None:
        draw_days, amounts = np.zeros(1, dtype=np.int64), np.array([ins.principal])
    else:
        raise SpecError("instrument.principal", "missing; give principal or a draws list")
    commitment = ins.commitment if ins.commitment is not None else float(amounts.sum())
    if amounts.sum() > commitment * (1 + 1e-12):
        raise SpecError("instrument.draws", f"draws add up to {amounts.sum():,.2f}, above the commitment {commitment:,.2f}")
    if draw_days.max() >= schedule.pay_days[-1]:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a maturity after the last draw")
    rates = (np.full(schedule.accrual.size, ins.coupon) if ins.coupon is not None
             else np.maximum(schedule.forward, ins.floor) + spread)
    amort_start = int(np.searchsorted(schedule.pay_days, draw_days.max(), side="right"))
    sweep = ins.sweep_share if ins.sweep_share is not None else (
        DEFAULT_SWEEP_SHARE if ins.amortization == "sweep" else 0.0)
    return LoanTerms(schedule, rates, draw_days, amounts, commitment, ins.amortization,
                     amort_start, sweep, ins.spread is not None)


def _draw_day(i, draw, market) -> int:
    key = f"instrument.draws[{i}]"
    if (draw.time is None) == (draw.date is None):
        raise SpecError(key, "give exactly one of time or date")
    day = to_days(draw.time if draw.time is not None else draw.date, key, market.valuation_date)
    if day < 0:
        raise SpecError(key, "a draw before the valuation date belongs in principal")
    return day



def ltv_test_days(ins, market) -> np.ndarray:
    if not isinstance(ins.ltv_test, list):
        return np.zeros(0, dtype=np.int64)
    days = np.array([to_days(t, "instrument.ltv_test", market.valuation_date) for t in ins.ltv_test],
                    dtype=np.int64)
    if days.size and days.min() < 0:
        raise SpecError("instrument.ltv_test", f"got {ins.ltv_test!r}; expected times on or after the valuation date")
    return days


