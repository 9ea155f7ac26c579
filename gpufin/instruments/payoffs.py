"""Instruments as payoff plans: strips of averaging periods, optionally behind a barrier.

Every instrument on an index pays, per unit of notional (GPU-hours for futures, swaps,
caps and floors; units of the index for options), a sum over periods p of
DF(pay_p) * f_p(A_p), A_p the period's average of index prints and f_p either
omega*(A - K) (futures, forwards, swaps) or max(omega*(A - K), 0) (options, caplets,
floorlets). A European option is one period with one print at maturity.

Two instruments pay on the index's state rather than on its prints, and have plans of their
own: an option on a future (`FutureOptionPlan`, on the future's price at the expiry) and a
residual-value put (`ResidualPutPlan`, on the used-GPU value moved by the index's long-term
level).

Times are exact years from the valuation date, read from the spec's Timeline. Schedules
derived from a time (equally spaced fixings, strip periods, daily prints) keep whole days
when that time was given as a date or a tenor, and exact year fractions when it was a
number of years.
"""
from __future__ import annotations

import calendar
import math
from dataclasses import dataclass

import numpy as np

from gpufin.errors import SpecError
from gpufin.spec.times import DAYS_PER_YEAR, Timeline, parse_date

ZERO = 1e-12          # years: a print this close to the valuation date is today's


@dataclass(frozen=True)
class Period:
    """One averaging period: future print times, known part of the average, payoff, payment."""
    print_times: tuple         # years > 0 of the prints still to come
    total_prints: int          # all prints of the average (past, today's and future)
    known_sum: float           # sum of the prints already known (past and time 0)
    known_log_sum: float       # sum of their logs (geometric averages)
    strike: float
    omega: float               # +1 call / payer, -1 put / receiver
    linear: bool               # True: omega*(A - K); False: max(omega*(A - K), 0)
    pay_time: float            # years
    today_prints: int = 0      # known prints at time 0 (they move with the spot; past ones do not)


@dataclass(frozen=True)
class Barrier:
    level: float
    up: bool
    knock_in: bool
    rebate: float
    monitor_times: tuple | None   # years; None: continuous monitoring


@dataclass(frozen=True)
class PayoffPlan:
    periods: tuple
    geometric: bool = False
    barrier: Barrier | None = None
    notional: float = 1.0
    discounted: bool = True    # False for futures: variation margin is not discounted

    @property
    def maturity(self) -> float:
        """Years to the last payment."""
        return max(p.pay_time for p in self.periods)

    def event_times(self) -> np.ndarray:
        times = {p.pay_time for p in self.periods}
        for p in self.periods:
            times.update(p.print_times)
        if self.barrier is not None and self.barrier.monitor_times:
            times.update(self.barrier.monitor_times)
        return np.array(sorted(t for t in times if t > 0.0))


def _positive(timeline: Timeline, key: str, value) -> float:
    t = timeline.years(key)
    if t <= 0.0:
        raise SpecError(key, f"got {value!r}; expected a time after the valuation date (> 0)")
    return t


def _dated(timeline: Timeline, key: str) -> bool:
    """Whether the spec gave this time as a date or a tenor (then schedules keep whole days)."""
    return timeline.instant(key).date is not None


def _known(spot, past_fixings, past_average, n_today, key):
    """Sum (or log-sum) of the prints already known: past ones and those at time 0."""
    if past_fixings and past_average is None:
        raise SpecError(f"{key}.past_average", "missing; needed when past_fixings > 0")
    past_avg = past_average or 0.0
    known = past_fixings * past_avg + n_today * spot
    known_log = (past_fixings * math.log(past_avg) if past_fixings else 0.0) + n_today * math.log(spot)
    return known, known_log


def _average_period(times, spot, past_fixings, past_average, strike, omega, linear, pay_time, key):
    times = np.asarray(times, dtype=float)
    today = times <= ZERO
    n_today = int(np.sum(today))
    known, known_log = _known(spot, past_fixings, past_average, n_today, key)
    future = tuple(times[~today].tolist())
    return Period(future, past_fixings + len(times), known, known_log, strike, omega, linear, pay_time,
                  n_today)


def _omega(option: str) -> float:
    return 1.0 if option == "call" else -1.0


def _days(timeline: Timeline, key: str) -> float:
    """Days from the valuation date to a time: whole days for a date or tenor, else exact."""
    instant = timeline.instant(key)
    if instant.date is not None:
        return float((instant.date - timeline.valuation_date).days)
    return instant.years * DAYS_PER_YEAR


def european(spec, spot, timeline: Timeline) -> PayoffPlan:
    t = _positive(timeline, "instrument.maturity", spec.maturity)
    period = Period((t,), 1, 0.0, 0.0, spec.strike, _omega(spec.option), False, t)
    return PayoffPlan((period,), notional=spec.notional)


def asian(spec, spot, timeline: Timeline) -> PayoffPlan:
    t = _positive(timeline, "instrument.maturity", spec.maturity)
    if (spec.fixing_times is None) == (spec.fixings is None):
        raise SpecError("instrument.fixings", "give exactly one of fixings (a count) or fixing_times")
    if spec.fixings is not None:
        times = np.arange(1, spec.fixings + 1) * t / spec.fixings
        if _dated(timeline, "instrument.maturity"):
            days = _days(timeline, "instrument.maturity")
            times = np.rint(np.arange(1, spec.fixings + 1) * days / spec.fixings) / DAYS_PER_YEAR
            if np.any(np.diff(times) == 0):
                raise SpecError("instrument.fixings", f"got {spec.fixings}; more fixings than days "
                                                      f"to maturity ({round(t * DAYS_PER_YEAR)})")
    else:
        times = np.array(timeline.years_list("instrument.fixing_times"))
        if times.size == 0 or np.any(times > t) or np.any(np.diff(times) < 0):
            raise SpecError("instrument.fixing_times",
                            f"got {spec.fixing_times!r}; expected increasing times in [0, maturity]")
    period = _average_period(times, spot, spec.past_fixings, spec.past_average, spec.strike,
                             _omega(spec.option), False, t, "instrument")
    return PayoffPlan((period,), geometric=spec.averaging == "geometric", notional=spec.notional)


def barrier(spec, spot, timeline: Timeline) -> PayoffPlan:
    vanilla = european(spec, spot, timeline)
    t = vanilla.maturity
    up = spec.barrier_type.startswith("up")
    if (up and spot >= spec.barrier) or (not up and spot <= spec.barrier):
        raise SpecError("instrument.barrier", f"got {spec.barrier}; the spot {spot} is already beyond it")
    monitor = None
    if spec.monitoring != "continuous":
        monitor = tuple(sorted(set(timeline.years_list("instrument.monitoring"))))
        if not monitor or monitor[0] <= 0.0 or monitor[-1] > t:
            raise SpecError("instrument.monitoring",
                            f"got {spec.monitoring!r}; expected times in (0, maturity]")
    knock = Barrier(spec.barrier, up, spec.barrier_type.endswith("-in"), spec.rebate, monitor)
    return PayoffPlan(vanilla.periods, barrier=knock, notional=spec.notional)


def future(spec, spot, timeline: Timeline) -> PayoffPlan:
    """Daily prints over the delivery month, or over the `window_days` days ending at
    maturity (one print a day, the last at maturity)."""
    times = window_times(spec, timeline)
    past = times < -ZERO
    if int(np.sum(past)) != spec.past_fixings:
        raise SpecError("instrument.past_fixings",
                        f"got {spec.past_fixings}; the window has {int(np.sum(past))} prints before today")
    period = _average_period(times[~past], spot, spec.past_fixings, spec.past_average,
                             spec.strike, 1.0, True, float(times[-1]), "instrument")
    return PayoffPlan((period,), notional=spec.notional, discounted=spec.style == "forward")


def window_times(spec, timeline: Timeline) -> np.ndarray:
    """A future's print times (years): each day of `delivery_month`, or the `window_days` days
    ending at `maturity`; refused when the window has ended."""
    if (spec.maturity is None) == (spec.delivery_month is None):
        raise SpecError("instrument.maturity", "give exactly one of maturity or delivery_month")
    if spec.delivery_month is not None:
        first = parse_date(f"{spec.delivery_month}-01", "instrument.delivery_month")
        if timeline.valuation_date is None:
            raise SpecError("instrument.delivery_month", "needs market.valuation_date")
        n_days = calendar.monthrange(first.year, first.month)[1]
        start = (first - timeline.valuation_date).days
        times = np.arange(start, start + n_days) / DAYS_PER_YEAR
    else:
        end_days = _days(timeline, "instrument.maturity")
        times = (end_days - np.arange(spec.window_days - 1, -1, -1)) / DAYS_PER_YEAR
    if times[-1] <= 0.0:
        raise SpecError("instrument.maturity", "the averaging window has already ended")
    return times


@dataclass(frozen=True)
class FutureOptionPlan:
    """A European option on a monthly-average future, settled at `expiry` (years) on the
    future's price F = the average of E_expiry[S_t] over `print_times` (years, all after the
    expiry): pays notional x max(omega (F - strike), 0) at the expiry."""
    print_times: tuple
    expiry: float
    strike: float
    omega: float
    notional: float = 1.0

    @property
    def maturity(self) -> float:
        return self.expiry

    def event_times(self) -> np.ndarray:
        """The one date the option observes: its expiry (years)."""
        return np.array([self.expiry])

    def payoff(self, futures_price: np.ndarray) -> np.ndarray:
        """Per unit notional, at the expiry, for futures prices F (USD/GPU-hr)."""
        return np.maximum(self.omega * (futures_price - self.strike), 0.0)


@dataclass(frozen=True)
class ResidualPutPlan:
    """A residual-value put: pays notional (GPUs) x max(strike - P, 0) at `maturity` (years),
    P = residual_value e^{elasticity L} / E[e^{elasticity L}] (USD per GPU), L the index's
    long-term factor at the maturity. `omega` = +1 gives the matching call (parity checks)."""
    maturity: float
    strike: float
    residual_value: float
    elasticity: float
    notional: float = 1.0
    omega: float = -1.0

    def event_times(self) -> np.ndarray:
        """The one date the put observes: its maturity (years)."""
        return np.array([self.maturity])

    def payoff(self, residual: np.ndarray) -> np.ndarray:
        """Per GPU, at the maturity, for residual values P (USD per GPU)."""
        return np.maximum(self.omega * (residual - self.strike), 0.0)


def future_option(spec, spot, timeline: Timeline) -> FutureOptionPlan:
    expiry = _positive(timeline, "instrument.expiry", spec.expiry)
    times = window_times(spec, timeline)
    if times[0] < expiry:
        raise SpecError("instrument.expiry", f"got {spec.expiry!r}; expected an expiry on or before the "
                                             f"first print of the future's window ({times[0]:.4f} years)")
    return FutureOptionPlan(tuple(times.tolist()), expiry, spec.strike, _omega(spec.option), spec.notional)


def residual_put(spec, spot, timeline: Timeline) -> ResidualPutPlan:
    t = _positive(timeline, "instrument.maturity", spec.maturity)
    return ResidualPutPlan(t, spec.strike, spec.residual_value, spec.elasticity, spec.notional)


def strip_bounds(spec, timeline: Timeline) -> np.ndarray:
    """Period boundaries in days from the valuation date: start, then equal steps of about
    period_months to maturity (whole days when both ends were given as dates or tenors)."""
    start, end = _days(timeline, "instrument.start"), _days(timeline, "instrument.maturity")
    _positive(timeline, "instrument.maturity", spec.maturity)
    if end <= start:
        raise SpecError("instrument.start", f"got {spec.start!r}; expected 0 <= start < maturity")
    n = max(1, round((end - start) / DAYS_PER_YEAR * 12.0 / spec.period_months))
    bounds = start + np.arange(n + 1) * (end - start) / n
    whole = _dated(timeline, "instrument.maturity") and (start == 0.0 or _dated(timeline, "instrument.start"))
    return np.rint(bounds) if whole else bounds


def _daily_prints(a: float, b: float) -> np.ndarray:
    """Days of one print a day in (a, b] (days), the last at b."""
    n = max(1, round(b - a))
    return b - np.arange(n - 1, -1, -1)


def strip(spec, spot, timeline, omega, linear, strike) -> PayoffPlan:
    bounds = strip_bounds(spec, timeline)
    periods = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        days = _daily_prints(a, b) if spec.prints == "daily" else np.array([b])
        periods.append(_average_period(days / DAYS_PER_YEAR, spot, 0, None, strike, omega, linear,
                                       b / DAYS_PER_YEAR, "instrument"))
    return PayoffPlan(tuple(periods), notional=spec.notional)


def swap(spec, spot, timeline) -> PayoffPlan:
    omega = 1.0 if spec.position == "payer" else -1.0
    return strip(spec, spot, timeline, omega, True, spec.fixed_rate)


def cap(spec, spot, timeline) -> PayoffPlan:
    return strip(spec, spot, timeline, 1.0, False, spec.strike)


def floor(spec, spot, timeline) -> PayoffPlan:
    return strip(spec, spot, timeline, -1.0, False, spec.strike)


BUILDERS = {"european": european, "asian": asian, "barrier": barrier, "future": future,
            "swap": swap, "cap": cap, "floor": floor, "future-option": future_option,
            "residual-put": residual_put}


def build_plan(spec, spot: float, timeline: Timeline) -> PayoffPlan:
    """The payoff plan of a validated `instrument` table, at the times of `timeline`."""
    return BUILDERS[spec.kind](spec, spot, timeline)
