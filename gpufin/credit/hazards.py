"""Hazard curves: piecewise-flat default intensities bootstrapped by QuantLib from CDS quotes,
or from a rating's spread curve (data/ratings/spread_curve.csv).

Conventions (the ISDA standard contract, as QuantLib's `SpreadCdsHelper` builds it): running
spread quoted in bp a year on the protection buyer's premium, paid quarterly on the CDS2015
roll (the 20th of Mar/Jun/Sep/Dec, maturities rolling twice a year), business days of the
`WeekendsOnly` calendar, Following, accrual ACT/360 with the last period including its end
date, accrued premium paid at default, protection paid at the default time and starting on
the valuation date; each quote is priced by the ISDA standard model (`IsdaCdsEngine`,
Taylor expansion, half-day bias, piecewise integration) or the mid-point model
(`MidPointCdsEngine`). Recovery is a fraction of par in [0, 1).

The bootstrap gives `HazardCurve`: node times in years ACT/365F from the valuation date and
the hazard rate (per year) that holds on each interval up to its node, flat after the last
node. Survival is Q(t) = exp(-integral of the hazard over [0, t]). The object is plain data
(it pickles); its QuantLib curve is built on demand (`ql_curve`), never stored.
Tested against: QuantLib's CDS engines reprice the input quotes to 1e-8 through `ql_curve`.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import QuantLib as ql

from gpufin.credit.tables import rating_spreads
from gpufin.errors import SpecError

DAYS_PER_YEAR = 365.0            # ACT/365F: a node time is its whole days / 365
MODELS = ("isda", "midpoint")
# calendar, frequency, payment convention, date rule, accrual day count, last period's day count
_CONVENTIONS = (ql.WeekendsOnly(), ql.Quarterly, ql.Following, ql.DateGeneration.CDS2015,
                ql.Actual360(), ql.Actual360(True))


@dataclass(frozen=True)
class HazardCurve:
    """Piecewise-flat hazard rates: `hazards[i]` (per year) holds on (times[i-1], times[i]]
    (times in years ACT/365F from `valuation_date`; times[-1] read as 0), and the last one after the
    last node. `recovery` is the fraction of par recovered at default."""
    valuation_date: dt.date
    times: tuple
    hazards: tuple
    recovery: float

    def hazard(self, t_years) -> np.ndarray:
        """The hazard rate (per year) at times in years; left-continuous at the nodes."""
        t = np.atleast_1d(np.asarray(t_years, dtype=float))
        i = np.minimum(np.searchsorted(np.asarray(self.times), t, side="left"), len(self.times) - 1)
        return np.asarray(self.hazards)[i]

    def survival(self, t_years) -> np.ndarray:
        """Q(t): the probability of no default by times t in years (t >= 0)."""
        t = np.atleast_1d(np.asarray(t_years, dtype=float))
        nodes = np.concatenate(([0.0], self.times))
        h = np.asarray(self.hazards)
        integral_at_nodes = np.concatenate(([0.0], np.cumsum(h * np.diff(nodes))))
        i = np.minimum(np.searchsorted(nodes, t, side="right") - 1, len(h) - 1)
        return np.exp(-(integral_at_nodes[i] + h[i] * (t - nodes[i])))

    def default_probability(self, t_years) -> np.ndarray:
        """1 - Q(t): the cumulative probability of default by times t in years."""
        return 1.0 - self.survival(t_years)

    def ql_curve(self):
        """A QuantLib `DefaultProbabilityTermStructureHandle` of this curve (HazardRateCurve,
        ACT/365F, extrapolated flat), on QuantLib dates from the valuation date."""
        day0 = _ql_date(self.valuation_date)
        dates = [day0] + [day0 + round(t * DAYS_PER_YEAR) for t in self.times]
        curve = ql.HazardRateCurve(dates, [self.hazards[0], *self.hazards], ql.Actual365Fixed())
        curve.enableExtrapolation()
        return ql.DefaultProbabilityTermStructureHandle(curve)


def bootstrap_cds(quotes, recovery: float, discount, valuation_date: dt.date | None = None,
                  model: str = "isda", key: str = "credit.cds") -> HazardCurve:
    """The hazard curve that reprices CDS quotes `[(tenor_years, spread_bp), ...]` (tenors
    in whole months, increasing; running spreads in bp a year, > 0) at `recovery`.
    `discount` is a QuantLib YieldTermStructureHandle (e.g. `Market.curve_handle()`; its
    reference date is the valuation date unless one is given) or a continuously compounded
    flat rate (ACT/365F). `model` is "isda" or "midpoint" (the module docstring's
    conventions). Bad input is a one-line SpecError naming `key`."""
    quotes = list(quotes)
    tenors = _check_quotes(quotes, key)
    _check_recovery(recovery, key)
    _check_model(model, f"{key}.model")
    handle, day0 = _discount_handle(discount, valuation_date)
    ql.Settings.instance().evaluationDate = day0
    calendar, frequency, convention, rule, day_count, last_day_count = _CONVENTIONS
    # settlement days 0: protection from the valuation date; accrual paid and rebated at default
    helpers = [ql.SpreadCdsHelper(ql.QuoteHandle(ql.SimpleQuote(bp * 1e-4)), ql.Period(months, ql.Months),
                                  0, calendar, frequency, convention, rule, day_count, recovery, handle,
                                  True, True, ql.Date(), last_day_count, True, _model(model))
               for months, (_, bp) in zip(tenors, quotes)]
    curve = ql.PiecewiseFlatHazardRate(day0, helpers, ql.Actual365Fixed())
    try:
        nodes = curve.nodes()
    except RuntimeError as exc:
        raise SpecError(key, f"the CDS quotes do not bootstrap: {exc}") from None
    times = tuple((d - day0) / DAYS_PER_YEAR for d, _ in nodes[1:])
    return HazardCurve(_py_date(day0), times, tuple(h for _, h in nodes[1:]), float(recovery))


def rating_curve(rating: str, recovery: float, discount, valuation_date: dt.date | None = None,
                 model: str = "isda", table=None, key: str = "credit.rating") -> HazardCurve:
    """The hazard curve of a rating's spread curve (data/ratings/spread_curve.csv, or `table`:
    {rating: [(tenor_years, spread_bp), ...]}), bootstrapped as CDS quotes."""
    spreads = rating_spreads() if table is None else table
    if rating not in spreads:
        raise SpecError(key, f"got {rating!r}; expected one of {', '.join(spreads)}")
    return bootstrap_cds(spreads[rating], recovery, discount, valuation_date, model, key)


def cds_fair_spread(curve: HazardCurve, tenor_years: float, discount, model: str = "isda") -> float:
    """The fair running spread (decimal a year) of the standard CDS of `tenor_years` on
    `curve`, priced by QuantLib's ISDA or mid-point engine on `curve.ql_curve()`."""
    (months,) = _check_quotes([(tenor_years, 1.0)], "tenor_years")
    _check_model(model, "model")
    handle, day0 = _discount_handle(discount, curve.valuation_date)
    ql.Settings.instance().evaluationDate = day0
    calendar, frequency, convention, rule, day_count, last_day_count = _CONVENTIONS
    end = ql.cdsMaturity(day0, ql.Period(months, ql.Months), rule)
    schedule = ql.Schedule(day0, end, ql.Period(frequency), calendar, convention, ql.Unadjusted, rule, False)
    cds = ql.CreditDefaultSwap(ql.Protection.Buyer, 100.0, 0.01, schedule, convention, day_count,
                               True, True, day0, None, last_day_count, True, day0)
    probability = curve.ql_curve()
    if model == "isda":
        engine = ql.IsdaCdsEngine(probability, curve.recovery, handle, False, ql.IsdaCdsEngine.Taylor,
                                  ql.IsdaCdsEngine.HalfDayBias, ql.IsdaCdsEngine.Piecewise)
    else:
        engine = ql.MidPointCdsEngine(probability, curve.recovery, handle)
    cds.setPricingEngine(engine)
    return cds.fairSpread()


def _model(name: str):
    return ql.CreditDefaultSwap.ISDA if name == "isda" else ql.CreditDefaultSwap.Midpoint


def _check_quotes(quotes, key: str) -> list[int]:
    """Each quote's tenor in whole months; spreads finite and >= 0; tenors increasing."""
    quotes = list(quotes)
    if not quotes:
        raise SpecError(key, "no quotes; expected [(tenor_years, spread_bp), ...]")
    months = []
    for i, quote in enumerate(quotes):
        tenor, bp = quote
        if not (isinstance(bp, (int, float)) and math.isfinite(bp) and bp > 0):
            raise SpecError(f"{key}[{i}].spread_bp", f"got {bp!r}; expected a finite spread > 0 in bp")
        whole = round(tenor * 12) if isinstance(tenor, (int, float)) and math.isfinite(tenor) else 0
        if whole <= 0 or abs(tenor * 12 - whole) > 1e-9:
            raise SpecError(f"{key}[{i}].tenor_years", f"got {tenor!r}; expected whole months > 0 in years")
        if months and whole <= months[-1]:
            raise SpecError(f"{key}[{i}].tenor_years",
                            f"got {tenor!r} after {quotes[i - 1][0]!r}; expected increasing tenors")
        months.append(whole)
    return months


def _check_model(model: str, key: str):
    if model not in MODELS:
        raise SpecError(key, f"got {model!r}; expected one of {', '.join(MODELS)}")


def _check_recovery(recovery, key: str):
    if not (isinstance(recovery, (int, float)) and math.isfinite(recovery) and 0 <= recovery < 1):
        raise SpecError(f"{key}.recovery", f"got {recovery!r}; expected a fraction in [0, 1)")


def _discount_handle(discount, valuation_date: dt.date | None):
    """(YieldTermStructureHandle, valuation QuantLib date) from a handle or a flat rate."""
    if isinstance(discount, ql.YieldTermStructureHandle):
        day0 = _ql_date(valuation_date) if valuation_date else discount.referenceDate()
        return discount, day0
    if valuation_date is None:
        raise SpecError("valuation_date", "missing; a flat discount rate needs a valuation date")
    day0 = _ql_date(valuation_date)
    return ql.YieldTermStructureHandle(
        ql.FlatForward(day0, float(discount), ql.Actual365Fixed(), ql.Continuous)), day0


def _ql_date(d: dt.date):
    return ql.Date(d.day, d.month, d.year)


def _py_date(d) -> dt.date:
    return dt.date(d.year(), d.month(), d.dayOfMonth())
