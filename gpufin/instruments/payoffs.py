"""Instruments as payoff plans: strips of averaging periods, optionally behind a barrier.

Every instrument on an index pays, per unit of notional (GPU-hours for futures, swaps,
caps and floors; units of the index for options), a sum over periods p of
DF(pay_p) * f_p(A_p), A_p the period's average of index prints and f_p either
omega*(A - K) (futures, forwards, swaps) or max(omega*(A - K), 0) (options, caplets,
floorlets). A European option is one period with one print at maturity.
All times are whole days from the valuation date (gpufin.spec.times).
"""
from __future__ import annotations

import calendar
import math
from dataclasses import dataclass

import numpy as np

from gpufin.errors import SpecError
from gpufin.spec.times import parse_date, to_days


@dataclass(frozen=True)
class Period:
    """One averaging period: future print days, known part of the average, payoff, payment."""
    print_days: tuple          # days > 0 of the prints still to come
    total_prints: int          # all prints of the average (past, today's and future)
    known_sum: float           # sum of the prints already known (past and day 0)
    known_log_sum: float       # sum of their logs (geometric averages)
    strike: float
    omega: float               # +1 call / payer, -1 put / receiver
    linear: bool               # True: omega*(A - K); False: max(omega*(A - K), 0)
    pay_day: int


@dataclass(frozen=True)
class Barrier:
    level: float
    up: bool
    knock_in: bool
    rebate: float
    monitor_days: tuple | None   # None: continuous monitoring


@dataclass(frozen=True)
class PayoffPlan:
    periods: tuple
    geometric: bool = False
    barrier: Barrier | None = None
    notional: float = 1.0
    discounted: bool = True    # False for futures: variation margin is not discounted

    @property
    def maturity_day(self) -> int:
        return max(p.pay_day for p in self.periods)

    def event_days(self) -> np.ndarray:
        days = {p.pay_day for p in self.periods}
        for p in self.periods:
            days.update(p.print_days)
        if self.barrier is not None and self.barrier.monitor_days:
            days.update(self.barrier.monitor_days)
        return np.array(sorted(d for d in days if d > 0), dtype=np.int64)


def _positive_days(value, key, valuation_date) -> int:
    days = to_days(value, key, valuation_date)
    if days <= 0:
        raise SpecError(key, f"got {value!r}; expected a time after the valuation date (> 0)")
    return days


def _known(spot, past_fixings, past_average, n_today, key):
    """Sum (or log-sum) of the prints already known: past ones and those at time 0."""
    if past_fixings and past_average is None:
        raise SpecError(f"{key}.past_average", "missing; needed when past_fixings > 0")
    past_avg = past_average or 0.0
    known = past_fixings * past_avg + n_today * spot
    known_log = (past_fixings * math.log(past_avg) if past_fixings else 0.0) + n_today * math.log(spot)
    return known, known_log


def _average_period(days, spot, past_fixings, past_average, strike, omega, linear, pay_day, key):
    days = np.asarray(days, dtype=np.int64)
    n_today = int(np.sum(days == 0))
    known, known_log = _known(spot, past_fixings, past_average, n_today, key)
    future = tuple(days[days > 0].tolist())
    return Period(future, past_fixings + len(days), known, known_log, strike, omega, linear, pay_day)


def _omega(option: str) -> float:
    return 1.0 if option == "call" else -1.0


def european(spec, spot, valuation_date) -> PayoffPlan:
    t = _positive_days(spec.maturity, "instrument.maturity", valuation_date)
    period = Period((t,), 1, 0.0, 0.0, spec.strike, _omega(spec.option), False, t)
    return PayoffPlan((period,), notional=spec.notional)


def asian(spec, spot, valuation_date) -> PayoffPlan:
    t = _positive_days(spec.maturity, "instrument.maturity", valuation_date)
    if (spec.fixing_times is None) == (spec.fixings is None):
        raise SpecError("instrument.fixings", "give exactly one of fixings (a count) or fixing_times")
    if spec.fixings is not None:
        days = np.rint(np.arange(1, spec.fixings + 1) * t / spec.fixings).astype(np.int64)
        if np.any(np.diff(days) == 0):
            raise SpecError("instrument.fixings", f"got {spec.fixings}; more fixings than days to maturity ({t})")
    else:
        days = np.array([to_days(x, "instrument.fixing_times", valuation_date)
                         for x in spec.fixing_times], dtype=np.int64)
        if days.size == 0 or np.any(days < 0) or np.any(days > t) or np.any(np.diff(days) < 0):
            raise SpecError("instrument.fixing_times",
                            f"got {spec.fixing_times!r}; expected increasing times in [0, maturity]")
    period = _average_period(days, spot, spec.past_fixings, spec.past_average, spec.strike,
                             _omega(spec.option), False, t, "instrument")
    return PayoffPlan((period,), geometric=spec.averaging == "geometric", notional=spec.notional)


def barrier(spec, spot, valuation_date) -> PayoffPlan:
    vanilla = european(spec, spot, valuation_date)
    t = vanilla.maturity_day
    up = spec.barrier_type.startswith("up")
    if (up and spot >= spec.barrier) or (not up and spot <= spec.barrier):
        raise SpecError("instrument.barrier", f"got {spec.barrier}; the spot {spot} is already beyond it")
    monitor = None
    if spec.monitoring != "continuous":
        monitor = tuple(sorted({_positive_days(x, "instrument.monitoring", valuation_date)
                                for x in spec.monitoring}))
        if not monitor or monitor[-1] > t:
            raise SpecError("instrument.monitoring",
                            f"got {spec.monitoring!r}; expected times in (0, maturity]")
    knock = Barrier(spec.barrier, up, spec.barrier_type.endswith("-in"), spec.rebate, monitor)
    return PayoffPlan(vanilla.periods, barrier=knock, notional=spec.notional)


def future(spec, spot, valuation_date) -> PayoffPlan:
    if (spec.maturity is None) == (spec.delivery_month is None):
        raise SpecError("instrument.maturity", "give exactly one of maturity or delivery_month")
    if spec.delivery_month is not None:
        first = parse_date(f"{spec.delivery_month}-01", "instrument.delivery_month")
        if valuation_date is None:
            raise SpecError("instrument.delivery_month", "needs market.valuation_date")
        n_days = calendar.monthrange(first.year, first.month)[1]
        start = (first - valuation_date).days
        days = np.arange(start, start + n_days, dtype=np.int64)
    else:
        end = to_days(spec.maturity, "instrument.maturity", valuation_date)
        days = np.arange(end - spec.window_days + 1, end + 1, dtype=np.int64)
    if days[-1] <= 0:
        raise SpecError("instrument.maturity", "the averaging window has already ended")
    n_past = int(np.sum(days < 0))
    if n_past != spec.past_fixings:
        raise SpecError("instrument.past_fixings",
                        f"got {spec.past_fixings}; the window has {n_past} prints before today")
    period = _average_period(days[days >= 0], spot, spec.past_fixings, spec.past_average,
                             spec.strike, 1.0, True, int(days[-1]), "instrument")
    return PayoffPlan((period,), notional=spec.notional, discounted=spec.style == "forward")


def strip_bounds(spec, valuation_date) -> np.ndarray:
    """Period boundaries in days: start, then equal steps of period_months to maturity."""
    start = to_days(spec.start, "instrument.start", valuation_date)
    end = _positive_days(spec.maturity, "instrument.maturity", valuation_date)
    if start < 0 or end <= start:
        raise SpecError("instrument.start", f"got {spec.start!r}; expected 0 <= start < maturity")
    n = max(1, round((end - start) / 365.0 * 12.0 / spec.period_months))
    return np.rint(start + np.arange(n + 1) * (end - start) / n).astype(np.int64)


def strip(spec, spot, valuation_date, omega, linear, strike) -> PayoffPlan:
    bounds = strip_bounds(spec, valuation_date)
    periods = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        days = np.arange(a + 1, b + 1) if spec.prints == "daily" else np.array([b])
        periods.append(_average_period(days, spot, 0, None, strike, omega, linear, int(b), "instrument"))
    return PayoffPlan(tuple(periods), notional=spec.notional)


def swap(spec, spot, valuation_date) -> PayoffPlan:
    omega = 1.0 if spec.position == "payer" else -1.0
    return strip(spec, spot, valuation_date, omega, True, spec.fixed_rate)


def cap(spec, spot, valuation_date) -> PayoffPlan:
    return strip(spec, spot, valuation_date, 1.0, False, spec.strike)


def floor(spec, spot, valuation_date) -> PayoffPlan:
    return strip(spec, spot, valuation_date, -1.0, False, spec.strike)


BUILDERS = {"european": european, "asian": asian, "barrier": barrier, "future": future,
            "swap": swap, "cap": cap, "floor": floor}


def build_plan(spec, spot: float, valuation_date) -> PayoffPlan:
    """The payoff plan of a validated `instrument` table."""
    return BUILDERS[spec.kind](spec, spot, valuation_date)
