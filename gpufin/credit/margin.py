"""The discount margin of a loan: the constant spread m over the discount curve at which its
cash flows are worth a target price, with its CS01.

Convention: the value at margin m is PV(m) = sum_i CF_i DF(t_i) exp(-m t_i), i.e. m is a
continuously compounded spread (decimal a year) added to the curve's zero rate; t_i in years
ACT/365F, DF the curve's discount factors. The price is in percent of the outstanding
principal (`market.loan_price`, 100 at issue): PV(m) = price / 100 x outstanding. CS01 is
the change in that price, in points of percent of par, for a +1 bp margin: analytically
-1e-4 x 100 / outstanding x sum_i t_i CF_i DF_i exp(-m t_i) (negative for a loan that pays),
and by a central bump of +-1 bp. Given a paths x dates cash matrix, the margin is solved on
the mean cash per date and its standard error is the price's (the spread of the paths'
values at m) over |dPrice/dm|, the delta method as in `gpufin.credit.spread`.
Tested against: repricing at the solved margin, the bumped CS01, and the spread of margins
solved on independent batches of paths.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from gpufin.errors import SpecError

BP = 1e-4
MARGIN_BRACKET = (-0.5, 5.0)       # decimal a year: -5,000 bp to +50,000 bp


def discount_factors(discount, times_years) -> np.ndarray:
    """Discount factors at times in years from `discount`: a callable of one time, an object
    with a `discount(t)` method (gpufin's `Market`, a QuantLib YieldTermStructureHandle), or
    a continuously compounded flat rate."""
    t = np.asarray(times_years, dtype=float)
    if isinstance(discount, (int, float)):
        return np.exp(-float(discount) * t)
    fn = discount.discount if hasattr(discount, "discount") else discount
    return np.array([float(np.squeeze(fn(float(x)))) for x in t])


def solve_margin(times_years, cash, discount, price_pct: float = 100.0, outstanding: float = 1.0,
                 tol: float = 1e-12) -> dict:
    """The discount margin at which `cash` (expected cash per date, or paths x dates) at
    `times_years` is worth `price_pct` percent of `outstanding`; with its CS01 (analytic and
    bumped, price points per bp) and, for a paths x dates matrix, standard errors."""
    t, flows, paths = _check(times_years, cash, price_pct, outstanding)
    df = discount_factors(discount, t)
    mean = flows.mean(axis=0)
    scale = 100.0 / outstanding

    def price(m):
        return scale * math.fsum(mean * df * np.exp(-m * t))

    def gap(m):
        return price(m) - price_pct

    lo, hi = MARGIN_BRACKET
    if gap(lo) < 0 or gap(hi) > 0:
        raise SpecError("market.loan_price", f"got {price_pct!r}; no margin in "
                        f"[{lo:.0%}, {hi:.0%}] prices the cash flows there")
    m = brentq(gap, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps)
    weights = df * np.exp(-m * t)
    slope = -scale * math.fsum(t * mean * weights)               # dPrice/dm, price points per unit m
    result = {"margin": m, "margin_bp": m / BP, "price_pct": price(m),
              "cs01": slope * BP, "cs01_bumped": (price(m + BP) - price(m - BP)) / 2.0,
              "paths": paths}
    if paths > 1:
        values = scale * (flows * weights).sum(axis=1)
        price_se = float(values.std(ddof=1) / math.sqrt(paths))
        result.update(price_pct_stderr=price_se, margin_stderr=price_se / abs(slope))
    return result


def _check(times_years, cash, price_pct, outstanding):
    """(times, paths x dates cash, path count) after checking the inputs."""
    if not (isinstance(price_pct, (int, float)) and math.isfinite(price_pct) and price_pct > 0):
        raise SpecError("market.loan_price", f"got {price_pct!r}; expected a price > 0 in percent of par")
    if not (isinstance(outstanding, (int, float)) and math.isfinite(outstanding) and outstanding > 0):
        raise SpecError("outstanding", f"got {outstanding!r}; expected a principal > 0")
    t = np.atleast_1d(np.asarray(times_years, dtype=float))
    flows = np.asarray(cash, dtype=float)
    paths = flows.shape[0] if flows.ndim == 2 else 1
    flows = np.atleast_2d(flows)
    if t.size == 0 or flows.size == 0:
        raise SpecError("cash_flows", "no cash flows; expected one amount per date")
    if flows.shape[1] != t.size or t.ndim != 1:
        raise SpecError("cash_flows", f"got {flows.shape[1]} amounts per path for {t.size} dates; "
                                      "expected one per date")
    if not (np.all(np.isfinite(t)) and np.all(t >= 0) and np.all(np.isfinite(flows))):
        raise SpecError("cash_flows", "expected finite amounts at finite times >= 0")
    return t, flows, paths


def solve_loan_margin(times_years, df, mean, cov, paths: int, price_pct: float = 100.0,
                      tol: float = 1e-12) -> dict:
    """The discount margin at which a loan's price, as the loan engine defines it (100 x
    PV receipts / PV draws funded, both at the curve plus m), is `price_pct`:
    P(m) = 100 sum_i R_i w_i / sum_i D_i w_i with w_i = DF_i exp(-m t_i), R and D the mean
    receipts and funded draws per date (`mean` [2, dates], USD; gpufin.engines.loan.LenderCash).
    `cov` [2 dates, 2 dates] is the covariance over paths of x = (receipts, draws), from
    which the standard errors of the price at m, of the margin and of the analytic CS01
    follow by the delta method. Returns margin, margin_bp, price_pct, cs01 (analytic),
    cs01_bumped (central +-1 bp), their standard errors and paths."""
    t, _, _ = _check(times_years, np.atleast_2d(np.asarray(mean, dtype=float))[0], price_pct, 1.0)
    df = np.asarray(df, dtype=float)
    receipts, funded = np.asarray(mean, dtype=float)

    def legs(m):
        w = df * np.exp(-m * t)
        return w, math.fsum(receipts * w), math.fsum(funded * w)

    def price(m):
        _, a, b = legs(m)
        return 100.0 * a / b

    lo, hi = MARGIN_BRACKET
    if price(lo) < price_pct or price(hi) > price_pct:
        raise SpecError("market.loan_price", f"got {price_pct!r}; no margin in "
                        f"[{lo:.0%}, {hi:.0%}] prices the loan there")
    m = brentq(lambda x: price(x) - price_pct, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps)
    w, a, b = legs(m)
    da, db = -math.fsum(t * receipts * w), -math.fsum(t * funded * w)
    slope = 100.0 * (da / b - a * db / b ** 2)                    # dPrice/dm
    cov = np.asarray(cov, dtype=float)
    # each figure is linear in x near the means: its gradient over (receipts, draws) per date
    price_grad = 100.0 * np.concatenate([w / b, -a * w / b ** 2])
    slope_grad = 100.0 * np.concatenate([-db * w / b ** 2 - t * w / b,
                                         (-da / b ** 2 + 2 * a * db / b ** 3) * w + a * t * w / b ** 2])

    def stderr(grad):
        return math.sqrt(max(float(grad @ cov @ grad), 0.0) / paths)

    price_se = stderr(price_grad)
    return {"margin": m, "margin_bp": m / BP, "price_pct": price(m), "price_pct_stderr": price_se,
            "margin_stderr": price_se / abs(slope), "cs01": slope * BP, "cs01_stderr": stderr(slope_grad) * BP,
            "cs01_bumped": (price(m + BP) - price(m - BP)) / 2.0, "paths": paths}
