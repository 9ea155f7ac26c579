"""Times in gpufin: whole days from the valuation date, in years ACT/365F.

A time in a spec is a number of years, an ISO date (`2027-03-31`) or a tenor (`18M`,
`2Y`, `90D`, `6W`). Numbers are rounded to the nearest whole day, so that Monte Carlo
grids, QuantLib engines and schedules all see the same instants.
"""
import datetime as dt
import re

from gpufin.errors import SpecError

DAYS_PER_YEAR = 365.0
_TENOR = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


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
    m = _TENOR.match(tenor)
    if not m:
        raise SpecError(key, f"got {tenor!r}; expected years, an ISO date or a tenor like 18M")
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


def to_days(value, key: str, valuation_date: dt.date | None) -> int:
    """Whole days from the valuation date of a time given as years, a date or a tenor."""
    if isinstance(value, bool):
        raise SpecError(key, f"got {value!r}; expected years, an ISO date or a tenor like 18M")
    if isinstance(value, (int, float)):
        return int(round(float(value) * DAYS_PER_YEAR))
    if valuation_date is None:
        raise SpecError(key, f"got {value!r}; a date or tenor needs market.valuation_date")
    if isinstance(value, (dt.date, dt.datetime)) or re.match(r"^\d{4}-\d{2}-\d{2}$", str(value)):
        return (parse_date(value, key) - valuation_date).days
    return (add_tenor(valuation_date, str(value), key) - valuation_date).days


def years(days) -> float:
    """Years ACT/365F of a whole number of days (works on arrays too)."""
    return days / DAYS_PER_YEAR
