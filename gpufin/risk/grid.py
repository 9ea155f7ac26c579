"""Sensitivity grids: one trade valued at every point of one or two varied spec keys.

An axis is `KEY=START:STOP:N` (N >= 2 points, linear from START to STOP inclusive; whole
numbers when START, STOP and the step are, as integer keys need) or a (KEY, values) pair;
KEY is a dotted spec key (`model.index.spot`, `instrument.spread`). Every point keeps the
spec's seed and all are priced in one `price_many` call, so they see common random numbers
and share compiled kernels (and one kernel pass where only the payoff moves). A loan's
principal schedule is written in first, so every point values the same contract.
"""
from __future__ import annotations

import itertools
import math
from numbers import Real

import numpy as np
import pandas as pd

from gpufin.engines.loan import fixed_schedule
from gpufin.engines.pricing import price_many
from gpufin.errors import SpecError
from gpufin.output.tables import base_key, stderr_key
from gpufin.spec.files import read_document
from gpufin.spec.reader import apply_overrides, parse_value

FORM = "KEY=START:STOP:N (a dotted spec key, numbers START and STOP, N >= 2 points)"
MAX_AXES = 2


def grid(spec, vary, field: str = "value", overrides=()) -> pd.DataFrame:
    """`field` of the trade `spec` (a dict or a TOML/JSON path; `overrides` applied first) at
    every point of the `vary` axes: a long frame, one row per point (the first axis varying
    slowest), with a column per varied key, then `field` in the result's raw unit, its
    standard error (`stderr` for `value`, else `FIELD_stderr`; NaN when the result has
    none) and `error` (None, or why the point failed; its other columns are then NaN).
    `field` is checked against the numeric keys of the points that priced."""
    axes = parse_axes(vary)
    doc = spec if isinstance(spec, dict) else read_document(spec)
    base = fixed_schedule(apply_overrides(doc, list(overrides)))
    keys = [key for key, _ in axes]
    points = list(itertools.product(*(values for _, values in axes)))
    results = price_many([apply_overrides(base, list(zip(keys, point))) for point in points])
    _check_field(field, results)
    error_key = stderr_key(field)
    rows = []
    for point, result in zip(points, results):
        row = dict(zip(keys, point))
        if isinstance(result, Exception):
            row.update({field: math.nan, error_key: math.nan, "error": _describe(result)})
        else:
            row.update({field: _number(result.get(field)), error_key: _number(result.get(error_key)),
                        "error": None})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, field, error_key, "error"])


def parse_axes(vary) -> list[tuple[str, list]]:
    """(key, values) per axis: one or two `KEY=START:STOP:N` texts or (key, values) pairs."""
    items = [vary] if isinstance(vary, str) else list(vary)
    if not 1 <= len(items) <= MAX_AXES:
        shown = "; ".join(map(str, items)) or "none"
        raise SpecError("--vary", f"got {len(items)} axes ({shown}); expected one or two")
    axes = [_axis(item) for item in items]
    keys = [key for key, _ in axes]
    if len(set(keys)) < len(keys):
        raise SpecError("--vary", f"got {keys[0]!r} twice; expected two different keys")
    return axes


def _axis(item) -> tuple[str, list]:
    """One axis, checked: a dotted key and at least two distinct finite numbers."""
    if isinstance(item, str):
        key, values = _parse(item)
    else:
        try:
            key, values = item
            values = list(values)
        except (TypeError, ValueError):
            raise SpecError("--vary", f"got {item!r}; expected {FORM} or a (key, values) pair") from None
    if not isinstance(key, str) or len(key.split(".")) < 2 or not all(key.split(".")):
        raise SpecError("--vary", f"got {item!r}; expected {FORM}")
    if not all(_is_number(v) for v in values):
        raise SpecError("--vary", f"got {item!r}; expected finite numbers")
    if len(values) < 2 or len(set(values)) < len(values):
        raise SpecError("--vary", f"got {item!r}; expected at least 2 distinct points")
    return key, values


def _parse(text: str) -> tuple[str, list]:
    """`KEY=START:STOP:N` -> (KEY, the N points)."""
    key, sep, span = text.partition("=")
    parts = span.split(":")
    if not sep or len(parts) != 3:
        raise SpecError("--vary", f"got {text!r}; expected {FORM}")
    start, stop, n = (parse_value(p.strip()) for p in parts)
    if not (_is_number(start) and _is_number(stop)):
        raise SpecError("--vary", f"got {text!r}; expected numbers START and STOP")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise SpecError("--vary", f"got {text!r}; expected a whole number N >= 2 of points")
    if isinstance(start, int) and isinstance(stop, int) and (stop - start) % (n - 1) == 0:
        step = (stop - start) // (n - 1)
        return key.strip(), [start + k * step for k in range(n)]
    return key.strip(), np.linspace(start, stop, n).tolist()


def _check_field(field: str, results: list) -> None:
    """Refuse a field that is not a numeric key of any point that priced."""
    numeric = list(dict.fromkeys(key for r in results if isinstance(r, dict)
                                 for key, value in r.items()
                                 if _is_number(value, finite=False) and base_key(key) == key))
    if numeric and field not in numeric:
        raise SpecError("--field", f"got {field!r}; expected a numeric result key: {', '.join(numeric)}")


def _is_number(value, finite: bool = True) -> bool:
    return (isinstance(value, Real) and not isinstance(value, bool)
            and (not finite or math.isfinite(value)))


def _number(value) -> float:
    return float(value) if _is_number(value, finite=False) else math.nan


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, SpecError) else f"pricing failed: {type(exc).__name__}: {exc}"
