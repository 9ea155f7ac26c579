"""Tail estimators of a Monte Carlo sample of losses: VaR and ES with their standard errors.

One convention for every command (the loan book's credit risk, hedging, and the quantile
columns of `portfolio var` and the q99 columns, which use the same numpy quantile), over N
losses L_1..L_N (any unit; a loss is minus a P&L) at a confidence `level` in (0, 1):
- the tail size m = ceil((1 - level) N), at least 1 (1e-9 absorbs the rounding of 1 - level,
  so 1% of 3,000 paths is 30);
- VaR = np.quantile(L, level), numpy's default (linear) method, so a row's VaR equals its
  q99 column at level 0.99;
- ES = the mean of the m worst losses, taken in order of loss, ties by path number (the
  lowest first), so the tail paths are a function of the sample alone;
- VaR's standard error by the delta method, sqrt(level (1 - level) / N) / f(VaR), with 1/f
  from the order statistics sqrt(N level (1 - level)) ranks either side of VaR's rank (half
  their spread; 0 where the distribution has an atom there);
- ES's standard error sqrt((s^2 + level (ES - VaR)^2) / m), s^2 the variance of the m tail
  losses (Manistre and Hancock 2005; data/SOURCES.md, P65).
"""
from __future__ import annotations

import math

import numpy as np


def tail_size(n: int, level: float) -> int:
    """m = ceil((1 - level) n), at least 1."""
    return max(1, math.ceil((1.0 - level) * n - 1e-9))


def tail_paths(losses: np.ndarray, level: float) -> np.ndarray:
    """Indices (ascending) of the m = tail_size worst losses, by loss then path number."""
    order = np.argsort(-np.asarray(losses, dtype=np.float64), kind="stable")
    return np.sort(order[:tail_size(len(order), level)])


def tail_measures(losses: np.ndarray, level: float) -> dict:
    """VaR and ES at `level` of the sample `losses` (in its unit), each with its standard
    error (see the module's estimators): keys var, var_stderr, es, es_stderr."""
    losses = np.asarray(losses, dtype=np.float64)
    n = losses.size
    ordered = np.sort(losses)
    m = tail_size(n, level)
    var = float(np.quantile(losses, level))
    rank, spread = level * (n - 1), math.sqrt(n * level * (1.0 - level))
    low, high = ordered[max(0, math.floor(rank - spread))], ordered[min(n - 1, math.ceil(rank + spread))]
    tail = losses[tail_paths(losses, level)]
    es = float(tail.mean())
    tail_var = float(tail.var(ddof=1)) if m > 1 else 0.0
    return {"var": var, "var_stderr": float(high - low) / 2.0,
            "es": es, "es_stderr": math.sqrt((tail_var + level * (es - var) ** 2) / m)}
