"""The market a trade is valued in: valuation date and a QuantLib discount curve.

The curve is `market.curve` when given (flat, zero rates, or SOFR deposits and OIS
swaps bootstrapped by QuantLib), else a flat curve at `model.rate` (continuously
compounded, ACT/365F). QuantLib objects are built lazily inside the process that uses
them and are never pickled.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import QuantLib as ql

from gpufin.errors import SpecError
from gpufin.spec.schema import CurveSpec, MarketSpec
from gpufin.spec.times import DAYS_PER_YEAR, Timeline, add_tenor, parse_date, resolve_timeline

# Anchor date for specs that give every time in years: with ACT/365F and no calendar
# the choice cannot change a price.
DEFAULT_ANCHOR = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class Market:
    """Valuation date and discount curve; `discount(t)` takes years ACT/365F."""
    valuation_date: dt.date | None
    curve: CurveSpec
    node_days: tuple = ()        # zero-curve nodes, whole days from the valuation date
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def anchor(self) -> dt.date:
        return self.valuation_date or DEFAULT_ANCHOR

    def __getstate__(self):
        return {"valuation_date": self.valuation_date, "curve": self.curve,
                "node_days": self.node_days}

    def __setstate__(self, state):
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_cache", {})

    @property
    def ql(self):
        """QuantLib, with its global evaluation date set to this valuation date."""
        today = self.ql_date(0)
        settings = ql.Settings.instance()
        if settings.evaluationDate != today:
            settings.evaluationDate = today
        return ql

    def ql_date(self, days: int):
        """The QuantLib date `days` after the anchor (made once per day and market)."""
        dates = self._cache.setdefault("ql_dates", {})
        days = int(days)
        if days not in dates:
            dates[days] = ql.Date(self.anchor.day, self.anchor.month, self.anchor.year) + days
        return dates[days]

    def curve_handle(self):
        """A QuantLib YieldTermStructureHandle of the discount curve (built once). QuantLib's
        global evaluation date is set to this market's first: Markets are shared between
        trades, and a bootstrapped curve's rate helpers date themselves from it."""
        ql = self.ql
        if "handle" not in self._cache:
            self._cache["handle"] = ql.YieldTermStructureHandle(self._build_curve())
        return self._cache["handle"]

    def flat_handle(self, rate: float):
        """A QuantLib flat curve (continuous, ACT/365F), e.g. for a dividend yield."""
        ql = self.ql
        return ql.YieldTermStructureHandle(
            ql.FlatForward(self.ql_date(0), rate, ql.Actual365Fixed(), ql.Continuous))

    def discount(self, t_years) -> np.ndarray:
        """Discount factors at times in years (ACT/365F); each time is asked of QuantLib once."""
        known = self._cache.setdefault("discount", {})
        times = np.atleast_1d(np.asarray(t_years, dtype=float)).tolist()
        missing = [t for t in times if t not in known]
        if missing:
            curve = self.curve_handle()
            for t in missing:
                known[t] = curve.discount(t, True)
        return np.array([known[t] for t in times])

    def _build_curve(self):
        ql, c = self.ql, self.curve
        day0 = self.ql_date(0)
        a365 = ql.Actual365Fixed()
        if c.kind == "flat":
            if c.rate is None:
                raise SpecError("market.curve.rate", "missing; expected a continuously compounded rate")
            return ql.FlatForward(day0, c.rate, a365, ql.Continuous)
        if c.kind == "zero":
            days = list(self.node_days)
            if len(days) != len(c.rates) or not days:
                raise SpecError("market.curve.rates", "expected one rate per tenor")
            if any(b <= a for a, b in zip(days, days[1:])) or days[0] <= 0:
                raise SpecError("market.curve.tenors", f"got {c.tenors!r}; expected increasing times > 0")
            dates = [day0] + [self.ql_date(d) for d in days]
            return ql.ZeroCurve(dates, [c.rates[0]] + list(c.rates), a365, ql.NullCalendar(),
                                ql.Linear(), ql.Continuous)
        return self._bootstrap_sofr()

    def _bootstrap_sofr(self):
        ql, c = self.ql, self.curve
        if self.valuation_date is None:
            raise SpecError("market.valuation_date", "missing; a SOFR curve needs a valuation date")
        sofr = ql.Sofr()
        helpers = []
        for i, q in enumerate(c.deposits):
            rate = ql.QuoteHandle(ql.SimpleQuote(_quote(q, f"market.curve.deposits[{i}]")))
            helpers.append(ql.DepositRateHelper(
                rate, ql.Period(str(q["tenor"])), 0, ql.UnitedStates(ql.UnitedStates.SOFR),
                ql.ModifiedFollowing, False, ql.Actual360()))
        for i, q in enumerate(c.ois):
            rate = ql.QuoteHandle(ql.SimpleQuote(_quote(q, f"market.curve.ois[{i}]")))
            helpers.append(ql.OISRateHelper(2, ql.Period(str(q["tenor"])), rate, sofr))
        if not helpers:
            raise SpecError("market.curve.ois", "missing; a SOFR curve needs deposit or OIS quotes")
        curve = ql.PiecewiseLogLinearDiscount(self.ql_date(0), helpers, ql.Actual365Fixed())
        curve.enableExtrapolation()
        try:
            curve.discount(0.0)     # bootstraps now, so a bad quote set fails here
        except RuntimeError as exc:
            raise SpecError("market.curve", f"the SOFR quotes do not bootstrap: {exc}") from None
        return curve


def _quote(q: dict, key: str) -> float:
    if not isinstance(q, dict) or "tenor" not in q or not isinstance(q.get("rate"), (int, float)):
        raise SpecError(key, f"got {q!r}; expected {{tenor = \"3M\", rate = 0.043}}")
    add_tenor(DEFAULT_ANCHOR, str(q["tenor"]), f"{key}.tenor")   # rejects malformed tenors
    return float(q["rate"])


_BUILT: dict = {}
BUILT_LIMIT = 256


def build_market(spec: MarketSpec, model_rate: float | None, timeline: Timeline | None = None) -> Market:
    """The Market of a spec: `market.curve`, else a flat curve at `model.rate`. Trades on the
    same date and curve get the same Market, so its QuantLib curve is built once. Zero-curve
    nodes (`market.curve.tenors`, from the spec's timeline) fall on whole days, as QuantLib
    curves are built on dates; the curve is then read at exact times."""
    date = parse_date(spec.valuation_date, "market.valuation_date") if spec.valuation_date else None
    timeline = timeline or resolve_timeline({"market": spec}, date)
    nodes = tuple(round(i.years * DAYS_PER_YEAR) for i in timeline.instants.get("market.curve.tenors", ()))
    curve = spec.curve
    if curve is None:
        if model_rate is None:
            raise SpecError("model.rate", "missing; give model.rate or a market.curve table")
        curve = CurveSpec(kind="flat", rate=model_rate)
    key = (date, curve.model_dump_json())
    if key not in _BUILT:
        if len(_BUILT) >= BUILT_LIMIT:
            _BUILT.clear()
        _BUILT[key] = Market(date, curve, nodes)
    return _BUILT[key]
