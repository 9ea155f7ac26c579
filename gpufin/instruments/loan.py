"""Loan terms (`instrument.kind = "loan"`): the payment schedule, rates, draws and the
principal schedule, all fixed at origination (a revaluation, a Greek or a stress never
re-derives them).

QuantLib builds the payment schedule (US government-bond calendar, modified following,
ACT/360 accrual) and the forward SOFR of each period from the discount curve,
(DF(start) / DF(end) - 1) / accrual, the expected compounded SOFR of the period.
Days count from the valuation date; rates are decimals per year.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpufin.errors import SpecError
from gpufin.spec.times import DAYS_PER_YEAR, TENOR, Timeline

DEFAULT_SWEEP_SHARE = 0.5       # FACTS.md 8.5: 50% of excess cash (estimate)


@dataclass(frozen=True)
class Schedule:
    """Payment periods in years from the valuation date, their accruals and base rates."""
    start_times: np.ndarray
    pay_times: np.ndarray
    accrual: np.ndarray          # accrual fraction of each period (ACT/360, or the year fraction)
    forward: np.ndarray          # forward SOFR of each period (simple, on `accrual`)
    accrual_per_year: float      # accrual per year of ACT/365F time: 365/360 (dates) or 1 (years)


def build_schedule(ins, market, timeline: Timeline) -> Schedule:
    """The payment schedule to `instrument.maturity` at `payment_frequency`. With a valuation
    date the loan is in dates: QuantLib's schedule (US government-bond calendar, modified
    following, generated backward from the maturity date) with ACT/360 accrual. Without one,
    every time is years and the loan pays at exactly maturity - k x frequency, accruing the
    year fraction."""
    maturity = timeline.instant("instrument.maturity")
    if maturity.years <= 0.0:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a time after the valuation date")
    if timeline.valuation_date is None:
        pays = _periodic(maturity.years, _frequency_years(ins.payment_frequency))
        starts = np.concatenate([[0.0], pays[:-1]])
        accrual, per_year = pays - starts, 1.0
    else:
        starts, pays, accrual = _dated_periods(ins, market, maturity)
        per_year = DAYS_PER_YEAR / 360.0
    df_start, df_pay = market.discount(starts), market.discount(pays)
    return Schedule(starts, pays, accrual, (df_start / df_pay - 1.0) / accrual, per_year)


def _frequency_years(frequency: str) -> float:
    m = TENOR.match(frequency)
    if not m:
        raise SpecError("instrument.payment_frequency",
                        f"got {frequency!r}; expected a tenor such as 1M, 3M or 6M")
    n, unit = int(m.group(1)), m.group(2).upper()
    return {"D": n / DAYS_PER_YEAR, "W": 7 * n / DAYS_PER_YEAR, "M": n / 12.0, "Y": float(n)}[unit]


def _periodic(maturity: float, step: float) -> np.ndarray:
    """Payment times maturity, maturity - step, ... down to the first after 0 (a short first
    period when the maturity is not a whole number of steps)."""
    n = math.ceil(maturity / step - 1e-9)
    return maturity - step * np.arange(n - 1, -1, -1)


def _dated_periods(ins, market, maturity) -> tuple:
    ql = market.ql
    if maturity.date is not None:
        days = (maturity.date - market.valuation_date).days
    else:                      # a maturity in years falls on the nearest day of a dated loan
        days = round(maturity.years * DAYS_PER_YEAR)
    try:
        tenor = ql.Period(ins.payment_frequency)
    except RuntimeError:
        raise SpecError("instrument.payment_frequency",
                        f"got {ins.payment_frequency!r}; expected a tenor such as 1M, 3M or 6M") from None
    calendar = ql.UnitedStates(ql.UnitedStates.GovernmentBond)
    day0 = market.ql_date(0)
    dates = list(ql.Schedule(day0, market.ql_date(days), tenor, calendar, ql.ModifiedFollowing,
                             ql.ModifiedFollowing, ql.DateGeneration.Backward, False))
    dates[0] = day0        # money lent on the valuation date accrues from it, holiday or not
    times = np.array([d - day0 for d in dates], dtype=float) / DAYS_PER_YEAR
    a360 = ql.Actual360()
    accrual = np.array([a360.yearFraction(a, b) for a, b in zip(dates[:-1], dates[1:])])
    return times[:-1], times[1:], accrual


@dataclass(frozen=True)
class LoanTerms:
    schedule: Schedule
    rates: np.ndarray            # all-in annual rate of each period
    draw_times: np.ndarray       # years
    draw_amounts: np.ndarray     # USD
    delivery_times: np.ndarray   # years: when the GPUs each draw funds arrive
    commitment: float
    amortization: str
    amort_start: int             # first payment with scheduled principal
    sweep_share: float
    floating: bool
    principal_due: np.ndarray | None   # USD per payment; None: sculpted on the collateral

    @property
    def drawn(self) -> float:
        return float(self.draw_amounts.sum())


def loan_terms(ins, market, timeline: Timeline, spread: float | None = None) -> LoanTerms:
    """Check the loan's keys and fix its schedule, rates and draws."""
    schedule = build_schedule(ins, market, timeline)
    if (ins.coupon is None) == (ins.spread is None):
        raise SpecError("instrument.coupon", "give exactly one of coupon (fixed rate) or spread (over SOFR)")
    spread = ins.spread if spread is None else spread
    if spread is not None and spread <= -1.0:
        raise SpecError("instrument.spread", f"got {spread!r}; expected a spread above -100% (-1.0)")
    if ins.draws and ins.principal is not None:
        raise SpecError("instrument.principal", "give principal (one draw at time 0) or a draws list, not both")
    if ins.draws:
        draw_times = np.array([_draw_time(i, d, timeline) for i, d in enumerate(ins.draws)])
        amounts = np.array([d.amount for d in ins.draws])
        deliveries = np.array([timeline.years(f"instrument.draws[{i}].delivery") if d.delivery is not None
                               else t for i, (d, t) in enumerate(zip(ins.draws, draw_times))])
    elif ins.principal is not None:
        draw_times, amounts = np.zeros(1), np.array([ins.principal])
        deliveries = draw_times
    else:
        raise SpecError("instrument.principal", "missing; give principal or a draws list")
    commitment = ins.commitment if ins.commitment is not None else float(amounts.sum())
    if amounts.sum() > commitment * (1 + 1e-12):
        raise SpecError("instrument.draws", f"draws add up to {amounts.sum():,.2f}, above the commitment {commitment:,.2f}")
    if draw_times.max() >= schedule.pay_times[-1]:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a maturity after the last draw")
    rates = (np.full(schedule.accrual.size, ins.coupon) if ins.coupon is not None
             else np.maximum(schedule.forward, ins.floor) + spread)
    amort_start = int(np.searchsorted(schedule.pay_times, draw_times.max(), side="right"))
    sweep = ins.sweep_share if ins.sweep_share is not None else (
        DEFAULT_SWEEP_SHARE if ins.amortization == "sweep" else 0.0)
    principal = _principal_schedule(ins, schedule, rates, float(amounts.sum()), amort_start, timeline)
    return LoanTerms(schedule, rates, draw_times, amounts, deliveries, commitment, ins.amortization,
                     amort_start, sweep, ins.spread is not None, principal)


def _principal_schedule(ins, schedule: Schedule, rates, drawn: float, start: int, timeline):
    """Principal per payment fixed at origination: the spec's `schedule`, straight-line or
    annuity on the drawn amount from the first payment after the last draw (the balloon
    takes what is left), none for a bullet or a sweep; None for a sculpted loan, whose
    schedule comes from the collateral's base case (gpufin.engines.loan)."""
    n = schedule.pay_times.size
    due = np.zeros(n)
    if ins.schedule is not None:
        if ins.amortization == "bullet":
            raise SpecError("instrument.schedule", "a bullet loan has no principal schedule; "
                                                   "set amortization to the schedule's kind")
        return _given_schedule(ins, schedule, drawn, timeline)
    if ins.amortization == "sculpted":
        return None
    if ins.amortization == "linear":
        due[start:] = drawn / (n - start)
    elif ins.amortization == "annuity":
        outstanding = drawn
        for k in range(start, n):
            r = rates[k] * schedule.accrual[k]
            remaining = n - k
            due[k] = outstanding / remaining if r <= 0.0 else (
                outstanding * r / (1.0 - (1.0 + r) ** (-remaining)) - outstanding * r)
            outstanding -= due[k]
    return due


def _given_schedule(ins, schedule: Schedule, drawn: float, timeline) -> np.ndarray:
    due = np.zeros(schedule.pay_times.size)
    for i, entry in enumerate(ins.schedule):
        key = f"instrument.schedule[{i}]"
        if (entry.time is None) == (entry.date is None):
            raise SpecError(key, "give exactly one of time or date")
        t = timeline.years(f"{key}.time" if entry.time is not None else f"{key}.date")
        k = int(np.argmin(np.abs(schedule.pay_times - t)))
        if abs(schedule.pay_times[k] - t) > 1e-9:
            raise SpecError(key, f"got a payment at {t:.6f} years; expected one of the loan's "
                                 f"payment dates")
        due[k] += entry.principal
    if not math.isclose(due.sum(), drawn, rel_tol=1e-9):
        raise SpecError("instrument.schedule", f"principal adds up to {due.sum():,.2f}; expected "
                                               f"the drawn amount {drawn:,.2f}")
    return due


def _draw_time(i, draw, timeline: Timeline) -> float:
    key = f"instrument.draws[{i}]"
    if (draw.time is None) == (draw.date is None):
        raise SpecError(key, "give exactly one of time or date")
    return timeline.years(f"{key}.time" if draw.time is not None else f"{key}.date")


def ltv_test_times(ins, timeline: Timeline) -> np.ndarray:
    """The dates of an `ltv_test` list, in years (none for the named rules)."""
    if not isinstance(ins.ltv_test, list):
        return np.zeros(0)
    return np.array(timeline.years_list("instrument.ltv_test"))
