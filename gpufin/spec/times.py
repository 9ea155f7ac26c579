"""Times in gpufin: exact year fractions (ACT/365F) from the valuation date, resolved once.

A time in a spec is a number of years, an ISO date (`2027-03-31`) or a tenor (`18M`, `2Y`,
`90D`, `6W`). A number is used as exactly that year fraction; a date or a tenor becomes
(date - valuation date) / 365 and keeps its date. Nothing is rounded to a day: a spec that
wants whole days gives dates. `resolve_timeline` turns every time of a validated spec into
a `Timeline` when the spec is loaded, and builders read their instants from it.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
import types
import typing
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel

from gpufin.errors import SpecError

DAYS_PER_YEAR = 365.0
TENOR = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)   # 18M, 2Y, 90D, 6W
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXPECTED = "expected years (a number), an ISO date YYYY-MM-DD or a tenor like 18M"


class TimeKey:
    """Marks a schema field as a time (gpufin.spec.schema.Time)."""


def parse_date(value, key: str) -> dt.date:
    """An ISO date (string or date) or a clear error naming `key`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SpecError(key, f"got {value!r}; expected an ISO date YYYY-MM-DD") from None


def add_tenor(start: dt.date, tenor: str, key: str) -> dt.date:
    """start + tenor (D, W, M, Y); month ends roll to the last day of the month."""
    m = TENOR.match(tenor)
    if not m:
        raise SpecError(key, f"got {tenor!r}; {EXPECTED}")
    n, unit = int(m.group(1)), m.group(2).upper()
    if unit == "D":
        return start + dt.timedelta(days=n)
    if unit == "W":
        return start + dt.timedelta(weeks=n)
    months = n * (12 if unit == "Y" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    month += 1
    day = min(start.day, _month_days(year, month))
    return dt.date(year, month, day)


def _month_days(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def tenor_days(tenor: str, key: str, start: dt.date) -> int:
    """Calendar days from `start` to start + tenor."""
    return (add_tenor(start, tenor, key) - start).days


@dataclass(frozen=True)
class Instant:
    """One time of a spec: its exact year fraction from the valuation date and, when the spec
    gave a date or a tenor, its date."""
    years: float
    date: dt.date | None = None


def resolve(value, key: str, valuation_date: dt.date | None) -> Instant:
    """The Instant of one time given as years, an ISO date or a tenor."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, dt.date)):
        raise SpecError(key, f"got {value!r}; {EXPECTED}")
    if isinstance(value, (int, float)):
        years = float(value)
        if not math.isfinite(years):
            raise SpecError(key, f"got {value!r}; expected a finite number of years")
        date = None
    else:
        if valuation_date is None:
            raise SpecError(key, f"got {value!r}; a date or tenor needs market.valuation_date")
        if isinstance(value, dt.date) or _ISO_DATE.match(str(value).strip()):
            date = parse_date(str(value).strip() if isinstance(value, str) else value, key)
        else:
            date = add_tenor(valuation_date, str(value), key)
        years = (date - valuation_date).days / DAYS_PER_YEAR
    if years < 0.0:
        when = f"{date} is before the valuation date {valuation_date}" if date else "a negative time"
        raise SpecError(key, f"got {value!r}: {when}; expected a time on or after the valuation date")
    return Instant(years, date)


@dataclass(frozen=True)
class Timeline:
    """Every time of one spec, resolved once: the valuation date and, by key (`instrument.
    maturity`, `model.contracts[0].end`), an Instant, or a tuple of Instants for a list."""
    valuation_date: dt.date | None
    instants: dict = field(default_factory=dict)

    def instant(self, key: str) -> Instant:
        return self.instants[key]

    def years(self, key: str) -> float:
        return self.instants[key].years

    def years_list(self, key: str) -> list[float]:
        return [i.years for i in self.instants[key]]

    def table(self, prefix: str) -> dict:
        """Years of every instant under `prefix` (e.g. "instrument"), by key without it."""
        cut = len(prefix) + 1
        return {k[cut:]: (v.years if isinstance(v, Instant) else [i.years for i in v])
                for k, v in self.instants.items() if k.startswith(prefix + ".")}


def _time_kind(annotation) -> str | None:
    """"one" for a Time field, "list" for a list of Times, else None."""
    if typing.get_origin(annotation) is typing.Annotated:
        return "one" if TimeKey in typing.get_args(annotation)[1:] else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and _time_kind(args[0]) == "one":
        return "list"
    if origin not in (typing.Union, types.UnionType):
        return None
    kinds = {_time_kind(a) for a in args} - {None}
    return kinds.pop() if kinds else None


def _may_hold_table(annotation) -> bool:
    """Whether a field of this annotation can hold a schema table, or items that may be one:
    a BaseModel class anywhere in it, or anything not known to exclude one (a forward
    reference, an open or unparameterized type)."""
    if annotation is typing.Any:
        return True
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return issubclass(annotation, BaseModel) or annotation in (object, list, tuple, dict)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return False
    if origin is typing.Annotated:
        args = args[:1]
    return any(_may_hold_table(a) for a in args) if origin is not None else True


@functools.cache
def _fields(cls: type) -> tuple:
    """The fields of table class `cls` that _walk visits, in field order: (name, kind), kind
    "one" or "list" as _time_kind says, None for a field that can hold tables. Other fields
    hold no time and no table: they are never read. Kept once per class that pydantic has
    completed (its annotations then stay as they are); _walk finds them anew for a class still
    holding forward references."""
    out = []
    for name, info in cls.model_fields.items():
        kind = "one" if TimeKey in info.metadata else _time_kind(info.annotation)
        if kind is not None or _may_hold_table(info.annotation):
            out.append((name, kind))
    return tuple(out)


def _walk(table: BaseModel, key: str, valuation_date, out: dict):
    cls = type(table)
    for name, kind in (_fields(cls) if cls.__pydantic_complete__ else _fields.__wrapped__(cls)):
        value = getattr(table, name)
        where = f"{key}.{name}"
        if kind == "one" and value is not None and not isinstance(value, list):
            out[where] = resolve(value, where, valuation_date)
        elif kind == "list" and isinstance(value, list):
            out[where] = tuple(resolve(v, f"{where}[{i}]", valuation_date) for i, v in enumerate(value))
        elif isinstance(value, BaseModel):
            _walk(value, where, valuation_date, out)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _walk(item, f"{where}[{i}]", valuation_date, out)


def resolve_timeline(tables: dict, valuation_date: dt.date | None) -> Timeline:
    """The Timeline of validated spec tables ({"model": ..., "instrument": ..., ...})."""
    instants: dict = {}
    for name, table in tables.items():
        if table is not None:
            _walk(table, name, valuation_date, instants)
    return Timeline(valuation_date, instants)


def period_lengths(times: np.ndarray, observe: np.ndarray | None = None) -> np.ndarray:
    """Per step of `times` (years), the years since the previous date that is not an
    observation-only date (`observe`); 0 for a step ending at an observation-only date, so
    such a date neither splits a period nor changes its length by a bit."""
    times = np.asarray(times, dtype=float)
    if observe is None:
        return np.diff(times)
    previous = np.maximum.accumulate(np.where(observe, -np.inf, times))[:-1]
    return np.where(observe[1:], 0.0, times[1:] - previous)
