"""Random numbers keyed by time: how a linear Gaussian state is sampled on any grid so that its
value at a date never depends on which other dates the grid holds.

The state X (n factors) follows an exact affine step over dt years,
X_{t+dt} = phi(dt) * X_t + mean(dt) + N(0, cov(dt)), with phi diagonal (mean-reverting or
not). It is drawn at the canonical monthly dates m_k = k / 12 first, month k from the normals
keyed by k. A date t inside month k, (m_k, m_{k+1}), is then reached by bisection: the month
is halved LEVELS times (cells of about 0.95 days), each midpoint drawn from its exact bridge
law given the ends of its cell, keyed by the midpoint's place in the month's binary tree, and
t itself from its bridge law in its finest cell, keyed by its own time in minutes. Every number
therefore depends on (seed, path, stream, time) and the value at t is the same whether the
grid also holds other dates; two dates in different finest cells have the exact joint law
(the Markov property), so only dates less than a cell apart are drawn as if independent given
their cell. Each draw is one affine map, X = A X_left + B X_right + c + F Z (B = 0 for a
month's step), with the coefficients computed here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gpufin.spec.times import DAYS_PER_YEAR

MONTH = 1.0 / 12.0
LEVELS = 5                      # bisections of a month: finest cells of 30.4 / 32 days
NEAR = 1e-10                    # years: a date this close to m_k is the canonical date m_k
MINUTES_PER_YEAR = DAYS_PER_YEAR * 24 * 60

StepLaw = Callable[[float], tuple[np.ndarray, np.ndarray, np.ndarray]]   # dt -> (phi, mean, cov)


def factor(cov: np.ndarray) -> np.ndarray:
    """F with F F^T = cov for a positive semi-definite cov: Cholesky, or from the
    eigendecomposition when cov is singular (a factor without noise)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(cov)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def bridge(law: StepLaw, before: float, after: float):
    """(A, B, c, F) of X_t given X_a and X_b, where t - a = before and b - t = after (years)."""
    phi1, mean1, cov1 = law(before)
    phi2, mean2, cov2 = law(after)
    total = phi2[:, None] * cov1 * phi2[None, :] + cov2          # Var(X_b | X_a)
    gain = (cov1 * phi2[None, :]) @ np.linalg.pinv(total)         # Cov(X_t, X_b | X_a) Var^-1
    keep = np.eye(phi1.size) - gain * phi2[None, :]
    cov = keep @ cov1
    return keep * phi1[None, :], gain, keep @ mean1 - gain @ mean2, factor(0.5 * (cov + cov.T))


@dataclass(frozen=True)
class KeyedPlan:
    """Arrays of pricing_kernels.fleet's keyed sampling on a grid of `times` (years)."""
    month: np.ndarray          # per date: its month k, t in (m_k, m_{k+1}] (-1 for t = 0)
    canonical: np.ndarray      # per date: t is m_{k+1}
    cell: np.ndarray           # per date: its finest cell in the month, 0 .. 2**LEVELS - 1
    minute: np.ndarray         # per date: its time in minutes (the key of its own bridge)
    months: int                # canonical months to draw
    step: tuple                # (phi as a diagonal matrix, mean, F) of one month
    level: tuple               # (A, B, c, F) per bisection level, stacked
    final: tuple               # (A, B, c, F) per date (zeros for canonical dates), stacked


def keyed_plan(times: np.ndarray, law: StepLaw) -> KeyedPlan:
    """Where each date of `times` sits among the months and cells, and the coefficients of
    every draw (the same for a date whatever the other dates are)."""
    times = np.asarray(times, dtype=float)
    in_months = times / MONTH
    nearest = np.rint(in_months)
    canonical = np.abs(times - nearest * MONTH) <= NEAR
    month = np.where(canonical, nearest - 1, np.floor(in_months)).astype(np.int64)
    offset = np.where(canonical, 0.0, times - month * MONTH)
    cells = 2 ** LEVELS
    width = MONTH / cells
    cell = np.minimum(np.floor(offset / width), cells - 1).astype(np.int64)
    phi, mean, cov = law(MONTH)
    n = phi.size
    final = [np.zeros((times.size, n, n)), np.zeros((times.size, n, n)),
             np.zeros((times.size, n)), np.zeros((times.size, n, n))]
    for i in np.flatnonzero(~canonical & (times > 0.0)):
        before = offset[i] - cell[i] * width
        for store, value in zip(final, bridge(law, before, width - before)):
            store[i] = value
    level = [np.stack(parts) for parts in zip(*(bridge(law, MONTH / 2 ** (l + 1), MONTH / 2 ** (l + 1))
                                               for l in range(LEVELS)))]
    return KeyedPlan(month=month, canonical=canonical & (times > 0.0), cell=cell,
                     minute=np.rint(times * MINUTES_PER_YEAR).astype(np.int64),
                     months=int(month.max()) + 1 if times.size > 1 else 0,
                     step=(np.diag(phi), mean, factor(cov)), level=tuple(level), final=tuple(final))
