"""Hedge quantities and their measures from P&L samples on common paths.

Inputs: `exposure[n]`, the exposure's P&L per path (USD), and `hedges[n, k]`, each
candidate's P&L per path for one unit of it (USD). A hedge holds `q[k]` units; the hedged
P&L is exposure + hedges @ q (a short position has q < 0). Losses are minus P&L.

- Dependent candidates: before either objective, a candidate whose centred P&L is a linear
  combination of those listed before it (a duplicate, a sum of others, a constant) is dropped,
  holding 0 units (`independent`): with it the optimum is a line or a plane, not a point.
- Minimum variance: q = argmin Var(exposure + hedges q), the least-squares regression of
  -exposure on the hedges with an intercept (numpy.linalg.lstsq on centred samples).
- Minimum ES: q = argmin ES_99(-(exposure + hedges q)), the Rockafellar-Uryasev (2000)
  linear programme min_{q, t, u} t + sum(u) / ((1 - a) n) with u_i >= -(x_i + h_i q) - t,
  u >= 0, solved exactly by HiGHS (scipy.optimize.linprog) with the constraints of the tail
  paths generated as they bind; its optimum is the sample ES of the hedged loss (the mean of
  the worst (1 - a) n paths).
- Measures, with standard errors: the variance (SE from the fourth moment), the 99% VaR and
  ES of the loss (gpufin.engines.tail: VaR the numpy quantile, ES the mean of the worst
  ceil(1% n) paths, Manistre-Hancock standard error); the hedge-accounting regression of
  the hedge's P&L on the exposure's (slope and R^2, the ASC 815 / IFRS 9 "highly effective"
  range being a slope in [-1.25, -0.8] and R^2 >= 0.8); the dollar-offset ratio over the
  exposure's worst 5% of paths; the residual (basis) risk, the standard deviation of the
  hedged P&L.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from gpufin.engines.tail import tail_measures, tail_size
from gpufin.errors import SpecError

ES_LEVEL = 0.99
OFFSET_TAIL = 0.05            # dollar offset over the exposure's worst 5% of paths
EFFECTIVE_SLOPE = (-1.25, -0.8)
EFFECTIVE_R2 = 0.8
TAIL_START = 4                # the ES programme starts from 4 x the tail's paths
BOX_SCALE = 2.0               # the ES programme's first box on |q_j|, in sd(exposure) / sd(hedge j)
MAX_DOUBLINGS = 60            # of the ES programme's box: 2^60 times the first box is no hedge
DEPENDENCE_TOL = 1e-8         # a candidate is dependent when under this share of its P&L's norm is new
OBJECTIVES = ("variance", "es")


def independent(hedges: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the candidates kept: in the order listed, each whose centred P&L
    keeps more than DEPENDENCE_TOL of its norm after projection on those kept before it. The
    columns are centred and scaled to unit norm and factored by a Householder QR in the
    order listed, |R_jj| being that share; the order (not column pivoting, which picks by
    norm and so by rounding among equals) keeps the first of two duplicates. A column that
    does not vary (norm at most DEPENDENCE_TOL of its raw norm) is dropped too."""
    centred = hedges - hedges.mean(axis=0)
    norms = np.linalg.norm(centred, axis=0)
    varies = np.flatnonzero(norms > DEPENDENCE_TOL * np.linalg.norm(hedges, axis=0))
    if varies.size == 0:
        return varies
    r = np.linalg.qr(centred[:, varies] / norms[varies], mode="r")
    return varies[np.abs(np.diag(r)) > DEPENDENCE_TOL]


def hedge_quantities(exposure: np.ndarray, hedges: np.ndarray, objective: str) -> tuple[np.ndarray, list[int]]:
    """Quantities q[k] minimizing the objective ("variance" or "es") over the independent
    candidates (see `independent`), 0 for the others, and the indices of those dropped."""
    if objective not in OBJECTIVES:
        raise SpecError("--objective", f"got {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    keep = independent(hedges)
    q = np.zeros(hedges.shape[1])
    if keep.size:
        solve = min_variance if objective == "variance" else min_es
        q[keep] = solve(exposure, hedges[:, keep])
    return q, sorted(set(range(hedges.shape[1])) - set(keep.tolist()))


def min_variance(exposure: np.ndarray, hedges: np.ndarray) -> np.ndarray:
    """Quantities q[k] minimizing the sample variance of exposure + hedges @ q."""
    x = exposure - exposure.mean()
    h = hedges - hedges.mean(axis=0)
    q, *_ = np.linalg.lstsq(h, -x, rcond=None)
    return q


def min_es(exposure: np.ndarray, hedges: np.ndarray, level: float = ES_LEVEL) -> np.ndarray:
    """Quantities q[k] minimizing the sample ES at `level` of the loss -(exposure + hedges @ q)
    (the Rockafellar-Uryasev linear programme, solved by HiGHS). Only tail paths bind, so the
    programme starts from the worst paths under the minimum-variance hedge, with each |q_j|
    in a box (BOX_SCALE x sd(exposure) / sd(hedge j), or more than the minimum-variance
    quantity), and adds every path whose loss exceeds the VaR level t of the solution until
    none does, doubling the box while the solution touches it: the solution then satisfies
    every path's constraint inside a box it does not touch, so it is the full programme's
    optimum. With linearly independent candidates (see `independent`) the optimum is bounded
    (a hedge with P&L of mean 0 that is not 0 on every path raises the ES for large enough
    quantities); a box doubled MAX_DOUBLINGS times, or a programme HiGHS does not solve, is a
    RuntimeError."""
    n = exposure.size
    start = min_variance(exposure, hedges)
    spread = np.maximum(hedges.std(axis=0), np.finfo(float).tiny)
    box = np.maximum(BOX_SCALE * exposure.std() / spread, 2.0 * np.abs(start)) + np.finfo(float).tiny
    active = np.zeros(n, dtype=bool)
    active[np.argsort(exposure + hedges @ start, kind="stable")[:TAIL_START * tail_size(n, level)]] = True
    doublings = 0
    while True:
        q, t = _es_programme(exposure[active], hedges[active], 1.0 / ((1.0 - level) * n), box)
        loss = -(exposure + hedges @ q)
        outside = ~active & (loss > t + 1e-9 * (1.0 + abs(t)))
        touching = np.abs(q) >= box * (1.0 - 1e-9)
        if not outside.any() and not touching.any():
            return q
        active |= outside
        if touching.any():
            doublings += 1
            if doublings > MAX_DOUBLINGS:
                raise RuntimeError(f"the minimum-ES programme is unbounded: quantities past {box.max():.3g} "
                                   "units still lower the ES")
        box = np.where(touching, 2.0 * box, box)


def _es_programme(exposure: np.ndarray, hedges: np.ndarray, weight: float,
                  box: np.ndarray) -> tuple[np.ndarray, float]:
    """(q, t) minimizing t + weight sum_i max(-(x_i + h_i q) - t, 0) over the given paths,
    with |q_j| <= box_j."""
    m, k = hedges.shape
    cost = np.concatenate([np.zeros(k), [1.0], np.full(m, weight)])
    # -x_i - h_i q - t - u_i <= 0  <=>  -h_i q - t - u_i <= x_i
    rows = sparse.hstack([sparse.csr_matrix(-hedges), sparse.csr_matrix(-np.ones((m, 1))),
                          -sparse.identity(m, format="csr")], format="csr")
    bounds = [(-b, b) for b in box.tolist()] + [(None, None)] + [(0.0, None)] * m
    solved = linprog(cost, A_ub=rows, b_ub=exposure, bounds=bounds, method="highs")
    if not solved.success:
        raise RuntimeError(f"the minimum-ES programme did not solve ({solved.message})")
    return solved.x[:k], float(solved.x[k])


def variance(sample: np.ndarray) -> tuple[float, float]:
    """Sample variance and its standard error sqrt((m4 - s^4) / n)."""
    n = sample.size
    centred = sample - sample.mean()
    var = float(centred @ centred) / (n - 1)
    m4 = float(np.mean(centred ** 4))
    return var, math.sqrt(max(m4 - var * var, 0.0) / n)


def regression(hedge_pnl: np.ndarray, exposure: np.ndarray) -> dict:
    """Hedge accounting's regression of the hedge's P&L on the exposure's: slope, R^2 and their
    standard errors (OLS; R^2's by the delta method, sqrt(4 R^2 (1 - R^2)^2 / n))."""
    n = exposure.size
    x = exposure - exposure.mean()
    y = hedge_pnl - hedge_pnl.mean()
    sxx, syy, sxy = float(x @ x), float(y @ y), float(x @ y)
    if sxx <= 0.0 or syy <= 0.0:
        return {"slope": 0.0, "slope_stderr": 0.0, "r2": 0.0, "r2_stderr": 0.0}
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy)
    resid = max(syy - slope * sxy, 0.0) / (n - 2)
    return {"slope": slope, "slope_stderr": math.sqrt(resid / sxx), "r2": r2,
            "r2_stderr": math.sqrt(4.0 * r2 * (1.0 - r2) ** 2 / n)}


def dollar_offset(hedge_pnl: np.ndarray, exposure: np.ndarray, tail: float = OFFSET_TAIL) -> float:
    """-sum(hedge P&L) / sum(exposure P&L) over the exposure's worst `tail` share of paths
    (the cumulative dollar-offset ratio of hedge accounting, on the scenarios that matter)."""
    worst = np.argsort(exposure, kind="stable")[:tail_size(exposure.size, 1.0 - tail)]
    total = float(exposure[worst].sum())
    return -float(hedge_pnl[worst].sum()) / total if total != 0.0 else math.nan


def risk(pnl: np.ndarray) -> dict:
    """A P&L sample's variance (USD^2), standard deviation, and the 99% VaR and ES of its loss
    -pnl (USD, gpufin.engines.tail), with standard errors."""
    var, var_se = variance(pnl)
    sd = math.sqrt(var)
    return {"variance": var, "variance_stderr": var_se, "sd_usd": sd,
            "sd_usd_stderr": var_se / (2.0 * sd) if sd > 0.0 else 0.0, **tail_measures(-pnl, ES_LEVEL)}


def measures(exposure: np.ndarray, hedges: np.ndarray, quantities: np.ndarray) -> dict:
    """`unhedged` and `hedged` risk (gpufin.hedge.analytics.risk) of the hedge `quantities`,
    and its effectiveness: variance and ES reductions, the regression slope and R^2, the
    dollar offset, whether it is in the highly-effective range, and the residual risk (the
    hedged P&L's standard deviation, USD, and its share of the unhedged one)."""
    hedge_pnl = hedges @ quantities
    unhedged, hedged = risk(exposure), risk(exposure + hedge_pnl)
    fit = regression(hedge_pnl, exposure)
    reduction = 1.0 - hedged["variance"] / unhedged["variance"] if unhedged["variance"] > 0.0 else 0.0
    effective = EFFECTIVE_SLOPE[0] <= fit["slope"] <= EFFECTIVE_SLOPE[1] and fit["r2"] >= EFFECTIVE_R2
    return {"unhedged": unhedged, "hedged": hedged, "variance_reduction": reduction,
            "es_reduction_usd": unhedged["es"] - hedged["es"], **fit,
            "dollar_offset": dollar_offset(hedge_pnl, exposure), "highly_effective": bool(effective),
            "residual_risk_usd": hedged["sd_usd"], "residual_share": math.sqrt(max(1.0 - reduction, 0.0))}
