"""The rating view of a loan: its real-world PD or expected loss over its WAL, placed on
Moody's idealized tables (data/ratings/idealized_pd.csv; data/SOURCES.md, section 11).

Agencies rate structured debt by comparing the modelled cumulative PD or EL over the
weighted average life with idealized figures by rating and horizon. The shipped table gives
cumulative PDs; the idealized EL of a rating is its PD times Moody's 55% loss severity
(`IDEALIZED_LOSS_SEVERITY`), the relation between Moody's idealized EL and PD tables.
Between table horizons a figure is interpolated linearly in log(figure) against the
horizon; a WAL outside the table's horizons uses the nearest horizon (`clamped`). The
implied rating is the best rating whose idealized figure is >= the measured one. PD and EL
are fractions of par (the loan engine's `pd`; its `expected_loss` divided by the principal).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpufin.credit.tables import idealized_pd
from gpufin.errors import SpecError

IDEALIZED_LOSS_SEVERITY = 0.55


@dataclass(frozen=True)
class RatingView:
    """The implied rating (None: worse than every rating of the table) and its neighbours.
    `threshold` is the rating's idealized figure at the horizon (the measured figure is at
    most this); `better_threshold` that of the next better rating (the measured figure is
    above it). Figures are fractions of par; None where there is no neighbour."""
    rating: str | None
    measure: str                  # "pd" or "el"
    value: float
    horizon_years: float          # the horizon the figures are read at
    clamped: bool                 # the WAL lay outside the table's horizons
    threshold: float | None
    better_rating: str | None
    better_threshold: float | None
    worse_rating: str | None
    worse_threshold: float | None


def idealized_figure(rating: str, horizon_years: float, measure: str = "pd", table=None) -> float:
    """A rating's idealized cumulative PD or EL (fraction of par) at a horizon in years,
    log-interpolated between the table's horizons and flat outside them."""
    table = idealized_pd() if table is None else table
    if rating not in table:
        raise SpecError("rating", f"got {rating!r}; expected one of {', '.join(table)}")
    years, pct = (np.asarray(x, dtype=float) for x in table[rating])
    h = min(max(horizon_years, years[0]), years[-1])
    exact = np.flatnonzero(years == h)           # a table value as written, not exp(log(.))
    pd = (pct[exact[0]] if exact.size else math.exp(np.interp(h, years, np.log(pct)))) / 100.0
    return pd * (IDEALIZED_LOSS_SEVERITY if measure == "el" else 1.0)


def implied_rating(pd: float | None = None, el: float | None = None, wal_years: float = math.nan,
                   table=None) -> RatingView:
    """The best rating whose idealized PD (or EL) over `wal_years` is >= the measured `pd`
    (or `el`), both fractions of par; exactly one of pd and el is given."""
    if (pd is None) == (el is None):
        raise SpecError("pd", "give exactly one of pd and el (fractions of par)")
    measure, value = ("pd", pd) if pd is not None else ("el", el)
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
        raise SpecError(measure, f"got {value!r}; expected a fraction of par in [0, 1]")
    if not (isinstance(wal_years, (int, float)) and math.isfinite(wal_years) and wal_years > 0):
        raise SpecError("wal_years", f"got {wal_years!r}; expected a WAL in years > 0")
    table = idealized_pd() if table is None else table
    ratings = list(table)
    figures = [idealized_figure(r, wal_years, measure, table) for r in ratings]
    i = next((k for k, f in enumerate(figures) if f >= value), len(ratings))
    years = table[ratings[0]][0]             # every rating of a table has the same horizons
    horizon = min(max(wal_years, years[0]), years[-1])

    def at(k):
        return (ratings[k], figures[k]) if 0 <= k < len(ratings) else (None, None)

    rating, threshold = at(i)
    better, better_threshold = at(i - 1)
    worse, worse_threshold = at(i + 1)
    return RatingView(rating, measure, float(value), float(horizon), horizon != wal_years, threshold,
                      better, better_threshold, worse, worse_threshold)
