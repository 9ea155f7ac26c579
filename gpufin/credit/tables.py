"""The rating tables shipped in data/ratings/ (sources: data/SOURCES.md, section 11):
`idealized_pd.csv`, Moody's idealized cumulative default probabilities by rating and
horizon, and `spread_curve.csv`, a CDS-equivalent spread curve by rating (an estimate).
Ratings are on Moody's scale, best first; horizons and tenors in years, PDs in percent,
spreads in bp a year.
"""
from __future__ import annotations

import csv
import io
import math
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from gpufin.errors import SpecError
from gpufin.spec.files import read_text

# An installed gpufin carries data/ as gpufin/data; a source checkout has it beside gpufin/.
_INSTALLED = Path(__file__).resolve().parents[1] / "data" / "ratings"
RATINGS_DIR = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parents[2] / "data" / "ratings"


def _rows(name: str, columns: tuple) -> list[dict]:
    """The rows of a CSV of RATINGS_DIR (lines starting with # are notes), each checked to
    have `columns`, numbers parsed where the column name ends in _years, _pct or _bp."""
    path = RATINGS_DIR / name
    text = "\n".join(line for line in read_text(path, "CSV table").splitlines()
                     if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text), skipinitialspace=True))
    if not rows or any(c not in rows[0] for c in columns):
        raise SpecError(str(path), f"expected columns {', '.join(columns)} and at least one row")
    for line, row in enumerate(rows, start=2):
        for col in columns:
            if col.endswith(("_years", "_pct", "_bp")):
                try:
                    row[col] = float(row[col])
                except (TypeError, ValueError):
                    row[col] = math.nan
                if not (math.isfinite(row[col]) and row[col] >= 0):
                    raise SpecError(str(path), f"column '{col}', data line {line}: expected a number >= 0")
    return rows


@lru_cache(maxsize=1)
def idealized_pd() -> dict:
    """{rating: ((horizon_years, ...), (cumulative PD in percent, ...))}, ratings best first
    (read-only; read once)."""
    table: dict = {}
    for row in _rows("idealized_pd.csv", ("rating", "horizon_years", "cumulative_pd_pct")):
        years, pds = table.setdefault(row["rating"], ([], []))
        years.append(row["horizon_years"])
        pds.append(row["cumulative_pd_pct"])
    horizons = {tuple(y) for y, _ in table.values()}
    if len(horizons) != 1 or list(next(iter(horizons))) != sorted(set(next(iter(horizons)))):
        raise SpecError(str(RATINGS_DIR / "idealized_pd.csv"),
                        "expected the same increasing horizons for every rating")
    return MappingProxyType({r: (tuple(y), tuple(p)) for r, (y, p) in table.items()})


@lru_cache(maxsize=1)
def rating_spreads() -> dict:
    """{rating: ((tenor_years, spread_bp), ...)}: the spread curve of each rating."""
    table: dict = {}
    for row in _rows("spread_curve.csv", ("rating", "tenor_years", "spread_bp")):
        table.setdefault(row["rating"], []).append((row["tenor_years"], row["spread_bp"]))
    return MappingProxyType({r: tuple(q) for r, q in table.items()})
