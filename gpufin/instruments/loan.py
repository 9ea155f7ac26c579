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
from gpufin.spec.times import DAYS_PER_YEAR, TENOR, Instant, Timeline

DEFAULT_SWEEP_SHARE = 0.5       # data/SOURCES.md section 7, SWEEP: 50% of excess cash (estimate)


@dataclass(frozen=True)
class Schedule:
    """Payment periods in years from the valuation date, their accruals and base rates."""
    start_times: np.ndarray
    pay_times: np.ndarray
    accrual: np.ndarray          # accrual fraction of each period (ACT/360, or the year fraction)
    forward: np.ndarray          # forward SOFR of each period (simple, on `accrual`)
    accrual_per_year: float      # accrual per year of ACT/365F time: 365/360 (dates) or 1 (years)


def build_schedule(ins, market, timeline: Timeline, maturity: Instant) -> Schedule:
    """The payment schedule to `maturity` (the last payment before adjustment) at
    `payment_frequency`. With a valuation date the loan is in dates: QuantLib's schedule (US
    government-bond calendar, modified following, generated backward from the maturity date)
    with ACT/360 accrual. Without one, every time is years and the loan pays at exactly
    maturity - k x frequency, accruing the year fraction."""
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
                             ql.ModifiedFollowing, ql.DateGeneration.Backward, False).dates())
    dates[0] = day0        # money lent on the valuation date accrues from it, holiday or not
    times = np.array([d - day0 for d in dates], dtype=float) / DAYS_PER_YEAR
    a360 = ql.Actual360()
    accrual = np.array([a360.yearFraction(a, b) for a, b in zip(dates[:-1], dates[1:])])
    return times[:-1], times[1:], accrual


def loan_maturity(ins, timeline: Timeline, draw_times: np.ndarray) -> Instant:
    """The loan's last payment (before business-day adjustment): `maturity`, or with
    `maturity_from_draw` the last draw's tranche maturity, that many years after the draw."""
    m = ins.maturity_from_draw
    if m is None:
        if ins.maturity is None:
            raise SpecError("instrument.maturity", "missing; give maturity, or maturity_from_draw "
                                                   "(years from each draw to its maturity)")
        return timeline.instant("instrument.maturity")
    if ins.maturity is not None:
        raise SpecError("instrument.maturity_from_draw", "give maturity (one for the loan) or "
                                                         "maturity_from_draw (one per draw), not both")
    if ins.schedule is not None:
        raise SpecError("instrument.maturity_from_draw", "each draw amortizes on its own schedule "
                                                         "to its own maturity; not with a fixed "
                                                         "instrument.schedule")
    if ins.amortization == "sculpted":
        raise SpecError("instrument.maturity_from_draw", "sculpted amortization sizes one schedule "
                                                         "to the fleet's cash, not one per draw; use "
                                                         "bullet, linear, annuity or sweep")
    return Instant(float(draw_times.max()) + m)


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
    sale_haircut: float          # fraction of value lost selling (or refinancing) all the collateral at once
    tranche_haircut: float       # fraction lost on each of the liquidation_tranches sold after a default

    @property
    def drawn(self) -> float:
        return float(self.draw_amounts.sum())


def loan_terms(ins, market, timeline: Timeline, spread: float | None = None) -> LoanTerms:
    """Check the loan's keys and fix its schedule, rates and draws."""
    draw_times, amounts, deliveries = _draws(ins, timeline)
    schedule = build_schedule(ins, market, timeline, loan_maturity(ins, timeline, draw_times))
    if (ins.coupon is None) == (ins.spread is None):
        raise SpecError("instrument.coupon", "give exactly one of coupon (fixed rate) or spread (over SOFR)")
    spread = ins.spread if spread is None else spread
    if spread is not None and spread <= -1.0:
        raise SpecError("instrument.spread", f"got {spread!r}; expected a spread above -100% (-1.0)")
    commitment = ins.commitment if ins.commitment is not None else float(amounts.sum())
    if amounts.sum() > commitment * (1 + 1e-12):
        raise SpecError("instrument.draws", f"draws add up to {amounts.sum():,.2f}, above the commitment {commitment:,.2f}")
    if draw_times.max() >= schedule.pay_times[-1]:
        key = "maturity" if ins.maturity_from_draw is None else "maturity_from_draw"
        raise SpecError(f"instrument.{key}", f"got {getattr(ins, key)!r}; expected a maturity after the last draw")
    rates = (np.full(schedule.accrual.size, ins.coupon) if ins.coupon is not None
             else np.maximum(schedule.forward, ins.floor) + spread)
    amort_start = int(np.searchsorted(schedule.pay_times, draw_times.max(), side="right"))
    sweep = ins.sweep_share if ins.sweep_share is not None else (
        DEFAULT_SWEEP_SHARE if ins.amortization == "sweep" else 0.0)
    if ins.maturity_from_draw is not None:
        principal = _tranche_schedule(ins, schedule, rates, draw_times, amounts)
    else:
        principal = _principal_schedule(ins, schedule, rates, float(amounts.sum()), amort_start, timeline)
    sale_haircut, tranche_haircut = liquidation_haircuts(ins)
    return LoanTerms(schedule, rates, draw_times, amounts, deliveries, commitment, ins.amortization,
                     amort_start, sweep, ins.spread is not None, principal, sale_haircut, tranche_haircut)


def _draws(ins, timeline: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw times (years), amounts (USD) and GPU delivery times (years): `draws`, or
    `principal` as one draw at time 0."""
    if ins.draws and ins.principal is not None:
        raise SpecError("instrument.principal", "give principal (one draw at time 0) or a draws list, not both")
    if ins.draws:
        draw_times = np.array([_draw_time(i, d, timeline) for i, d in enumerate(ins.draws)])
        amounts = np.array([d.amount for d in ins.draws])
        deliveries = np.array([timeline.years(f"instrument.draws[{i}].delivery") if d.delivery is not None
                               else t for i, (d, t) in enumerate(zip(ins.draws, draw_times))])
        return draw_times, amounts, deliveries
    if ins.principal is None:
        raise SpecError("instrument.principal", "missing; give principal or a draws list")
    return np.zeros(1), np.array([ins.principal]), np.zeros(1)


def _principal_schedule(ins, schedule: Schedule, rates, drawn: float, start: int, timeline):
    """Principal per payment fixed at origination: the spec's `schedule`, straight-line or
    annuity on the drawn amount from the first payment after the last draw (the balloon
    takes what is left), none for a bullet or a sweep; None for a sculpted loan, whose
    schedule comes from the collateral's base case (gpufin.engines.loan)."""
    if ins.schedule is not None:
        if ins.amortization == "bullet":
            raise SpecError("instrument.schedule", "a bullet loan has no principal schedule; "
                                                   "set amortization to the schedule's kind")
        return _given_schedule(ins, schedule, drawn, timeline)
    if ins.amortization == "sculpted":
        return None
    return _installments(ins.amortization, drawn, start, schedule.pay_times.size, rates, schedule.accrual)


def _installments(kind: str, amount: float, first: int, stop: int, rates, accrual) -> np.ndarray:
    """Principal (USD) per payment of the loan's schedule repaying `amount` over payments
    first..stop-1: straight-line, or the principal part of a level payment at the period
    rates; nothing for a bullet or a sweep (their principal is due at maturity)."""
    due = np.zeros(accrual.size)
    if kind == "linear":
        due[first:stop] = amount / (stop - first)
    elif kind == "annuity":
        outstanding = amount
        for k in range(first, stop):
            r = rates[k] * accrual[k]
            remaining = stop - k
            due[k] = outstanding / remaining if r <= 0.0 else (
                outstanding * r / (1.0 - (1.0 + r) ** (-remaining)) - outstanding * r)
            outstanding -= due[k]
    return due


def _tranche_schedule(ins, schedule: Schedule, rates, draw_times, amounts) -> np.ndarray:
    """Principal (USD) per payment of a loan whose draws each mature `maturity_from_draw`
    years after they are drawn: the sum over draws of the loan's amortization applied to the
    draw alone, from the first payment after it to the payment nearest its maturity (at least
    that first payment), where whatever its installments leave is due."""
    pays = schedule.pay_times
    due = np.zeros(pays.size)
    for t, amount in zip(draw_times, amounts):
        first = int(np.searchsorted(pays, t, side="right"))
        last = max(int(np.argmin(np.abs(pays - (t + ins.maturity_from_draw)))), first)
        tranche = _installments(ins.amortization, amount, first, last + 1, rates, schedule.accrual)
        tranche[last] += amount - tranche.sum()
        due += tranche
    return due


def liquidation_haircuts(ins) -> tuple[float, float]:
    """Haircuts (fractions of collateral value) on selling the whole collateral at once (the
    balloon's sale or refinancing) and on each of `liquidation_tranches` equal tranches:
    `haircut_curve` interpolated linearly in the share sold at once (flat beyond its ends),
    else `liquidation_haircut` for any share."""
    if ins.haircut_curve is None:
        return ins.liquidation_haircut, ins.liquidation_haircut
    shares, haircuts = _haircut_points(ins.haircut_curve)
    return (float(np.interp(1.0, shares, haircuts)),
            float(np.interp(1.0 / ins.liquidation_tranches, shares, haircuts)))


def _haircut_points(curve) -> tuple[np.ndarray, np.ndarray]:
    """The checked points of a haircut curve: shares in (0, 1] increasing, haircuts in [0, 1)
    not falling as the share grows."""
    key = "instrument.haircut_curve"
    if not curve:
        raise SpecError(key, "got []; expected [share sold at once, haircut] points")
    for i, (share, haircut) in enumerate(curve):
        if not 0.0 < share <= 1.0:
            raise SpecError(f"{key}[{i}]", f"got share {share!r}; expected a share of the collateral "
                                           f"sold at once in (0, 1]")
        if not 0.0 <= haircut < 1.0:
            raise SpecError(f"{key}[{i}]", f"got haircut {haircut!r}; expected 0 <= haircut < 1")
    shares, haircuts = np.array(curve).T
    if np.any(np.diff(shares) <= 0.0):
        raise SpecError(key, f"got shares {shares.tolist()}; expected shares that increase from point to point")
    if np.any(np.diff(haircuts) < 0.0):
        raise SpecError(key, f"got haircuts {haircuts.tolist()}; expected a haircut that does not "
                             f"fall as the share sold at once grows")
    return shares, haircuts


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
