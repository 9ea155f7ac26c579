"""The exact Gaussian log-density of quotes on several price bases (the state-space model of
gpufin.models.calibration_bases), two ways:

- `banded_log_density`: from the precision of the whole state path, which is block
  tridiagonal (the state is Markov), so its Cholesky factor is banded (scipy.linalg
  cholesky_banded, O(dates x states^3)). With s the stacked states, prior mean mu and
  precision L, quotes y = A s + offsets + eps, eps ~ N(0, sigma_eps^2 I), and m the
  posterior mean (solving (L + A'A / sigma_eps^2)(m - mu) = A'(y - offsets - A mu) /
  sigma_eps^2):
      log p(y) = log p(y | m) + log p(m) - log p(m | y)
               = -1/2 [n ln(2 pi sigma_eps^2) + |y - offsets - A m|^2 / sigma_eps^2
                       + sum_i w_i' Q_i^-1 w_i + ln|P_0| + sum_i ln|Q_i| + ln|L + A'A / sigma_eps^2|]
  with w_i the innovations of m - mu (w_0 = m_0 - mu_0 under the start covariance P_0,
  w_i = (m_i - mu_i) - F_i (m_{i-1} - mu_{i-1}) under the step covariance Q_i): sums of
  squares that never cancel. It needs every variance positive (P_0, Q_i, sigma_eps) and
  none nearly singular beside the others (MIN_VARIANCE_RATIO, MIN_DECORRELATION, MIN_NOISE_RATIO).
- `filter_quotes`: the Kalman filter, quote by quote in Python, which any parameters allow
  (a volatility or the noise at 0 included) and which also gives the filtered factors after
  each quote; about 20 times slower per density than the banded form.

`log_density` takes the banded form where it applies and the filter otherwise. Quote k is
on date t[k] (years from the first quote, non-decreasing; equal dates allowed) and basis
basis[k] in 0..m-1: y[k] = chi + xi + b_j + offset[j] + eps (b_0 = offset[0] = 0). The
state is (chi, xi, b_1..b_{m-1}); chi and each b_j start stationary, xi at
N(level_mean, level_sd^2); between dates the transition is exact and diagonal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import LinAlgError, cho_solve_banded, cholesky_banded

# what the banded form is trusted with: a step variance down to MIN_VARIANCE_RATIO of the
# largest, a (chi, xi) step correlation up to sqrt(1 - MIN_DECORRELATION) in size, and a noise
# variance down to MIN_NOISE_RATIO of the largest step variance; the filter takes the rest
MIN_VARIANCE_RATIO = 1e-12
MIN_DECORRELATION = 1e-4
MIN_NOISE_RATIO = 1e-5


@dataclass(frozen=True)
class Params:
    """The model's parameters: the common ones and, per basis (entry 0, the base, unread),
    mean reversion (1/yr), volatility (1/sqrt(yr)) and offset (log)."""
    kappa: float
    sigma_chi: float
    sigma_xi: float
    rho: float
    mu_xi: float
    sigma_eps: float
    basis_kappa: np.ndarray
    basis_sigma: np.ndarray
    basis_offset: np.ndarray
    level_mean: float
    level_sd: float


class Design:
    """What the quotes fix, whatever the parameters: distinct dates, each quote's date and the
    state entries its loading sums, and the Gram matrix A'A of the loadings per date."""

    def __init__(self, t: np.ndarray, basis: np.ndarray, y: np.ndarray, bases: int):
        self.t, self.basis, self.y, self.n = t, basis, y, y.size
        self.states = ns = bases + 1
        self.dates, self.date_of = np.unique(t, return_inverse=True)
        d = self.dates.size
        # quote k loads chi, xi and (on a basis j > 0) b_j; a base quote's third entry is a
        # column of zeros (index ns) in the padded state, and a dropped bin (d ns) when summed
        self.third = np.where(basis > 0, 1 + basis, ns)
        entries = (np.zeros(self.n, dtype=np.int64), np.ones(self.n, dtype=np.int64), self.third)
        gram = np.zeros((d, ns + 1, ns + 1))
        for a in entries:
            for b in entries:
                np.add.at(gram, (self.date_of, a, b), 1.0)
        self.gram = gram[:, :ns, :ns]
        self.flat = [self.date_of * ns + a for a in entries[:2]] + [
            np.where(basis > 0, self.date_of * ns + self.third, d * ns)]

    @cached_property
    def band_index(self) -> tuple:
        """Where each block's entries go in lower banded storage (ab[i - j, j] = a[i, j]):
        (row, column) index arrays for the diagonal blocks (lower triangle) and the blocks
        below them."""
        ns, d = self.states, self.dates.size
        r, c = np.tril_indices(ns)
        start = np.arange(d)[:, None] * ns
        diagonal = (np.broadcast_to(r - c, (d, r.size)), start + c)
        rr, cc = np.meshgrid(np.arange(ns), np.arange(ns), indexing="ij")
        below = (np.broadcast_to((ns + rr - cc).ravel(), (d - 1, ns * ns)), start[:-1] + cc.ravel())
        return (r, c), diagonal, (rr.ravel(), cc.ravel()), below


def _steps(p: Params, h: np.ndarray, ns: int) -> tuple:
    """Per step of h years: the diagonal of the transition F [step, state] and the step
    covariance Q [step, state, state]."""
    m = ns - 1
    f = np.empty((h.size, ns))
    q = np.zeros((h.size, ns, ns))
    f[:, 0] = np.exp(-p.kappa * h)
    f[:, 1] = 1.0
    q[:, 0, 0] = p.sigma_chi ** 2 * -np.expm1(-2.0 * p.kappa * h) / (2.0 * p.kappa)
    q[:, 0, 1] = q[:, 1, 0] = p.rho * p.sigma_chi * p.sigma_xi * -np.expm1(-p.kappa * h) / p.kappa
    q[:, 1, 1] = p.sigma_xi ** 2 * h
    for j in range(1, m):
        k, s = p.basis_kappa[j], p.basis_sigma[j]
        f[:, 1 + j] = np.exp(-k * h)
        q[:, 1 + j, 1 + j] = s * s * -np.expm1(-2.0 * k * h) / (2.0 * k)
    return f, q


def _start(p: Params, ns: int) -> tuple:
    """The prior mean and (diagonal) variance of the first date's state."""
    mean = np.zeros(ns)
    mean[1] = p.level_mean
    var = np.empty(ns)
    var[0] = p.sigma_chi ** 2 / (2.0 * p.kappa)
    var[1] = p.level_sd ** 2
    for j in range(1, ns - 1):
        var[1 + j] = p.basis_sigma[j] ** 2 / (2.0 * p.basis_kappa[j])
    return mean, var


def _inverse_chi_xi(q: np.ndarray, noise: float) -> tuple:
    """The inverse and log-determinant of each step covariance: its (chi, xi) block in
    closed form, the rest diagonal; None where a step covariance is not safely positive
    definite, or the noise too small beside it (the constants above)."""
    det = q[:, 0, 0] * q[:, 1, 1] - q[:, 0, 1] ** 2
    diag = np.diagonal(q, axis1=1, axis2=2)
    scale = max(float(diag.max()), 1e-300)
    if not ((diag > MIN_VARIANCE_RATIO * scale).all() and (det > MIN_DECORRELATION * diag[:, 0] * diag[:, 1]).all()
            and noise > MIN_NOISE_RATIO * scale):
        return None
    inv = np.zeros_like(q)
    inv[:, 0, 0], inv[:, 1, 1] = q[:, 1, 1] / det, q[:, 0, 0] / det
    inv[:, 0, 1] = inv[:, 1, 0] = -q[:, 0, 1] / det
    ns = q.shape[1]
    inv[:, range(2, ns), range(2, ns)] = 1.0 / diag[:, 2:]
    return inv, np.log(det) + np.log(diag[:, 2:]).sum(axis=1)


def banded_log_density(design: Design, p: Params) -> float | None:
    """log p(y) from the banded precision of the state path (module docstring), or None when
    a variance is not positive enough for it or there are no quotes (then filter_quotes
    applies)."""
    ns, d, noise = design.states, design.dates.size, p.sigma_eps ** 2
    mean0, var0 = _start(p, ns)
    if not (d > 0 and noise > 0.0 and (var0 > 0.0).all() and np.isfinite(var0).all()):
        return None
    f, q = _steps(p, np.diff(design.dates), ns)
    inverse = _inverse_chi_xi(q, noise) if d > 1 else (np.zeros((0, ns, ns)), np.zeros(0))
    if inverse is None:
        return None
    qinv, logdet_q = inverse
    # prior precision: diagonal blocks Q_i^-1 + F_{i+1} Q_{i+1}^-1 F_{i+1}, below them -Q_{i+1}^-1 F_{i+1}
    diag = design.gram / noise
    diag[0] += np.diag(1.0 / var0)
    diag[1:] += qinv
    diag[:-1] += qinv * f[:, :, None] * f[:, None, :]
    below = -qinv * f[:, None, :]
    (r, c), at_diag, (br, bc), at_below = design.band_index
    band = np.zeros((2 * ns, d * ns))
    band[at_diag] = diag[:, r, c]
    band[at_below] = below[:, br, bc]
    # prior mean path and the quotes' deviations from it
    mu = np.tile(mean0, (d, 1))
    mu[:, 1] += p.mu_xi * (design.dates - design.dates[0])
    offsets = np.where(design.basis > 0, p.basis_offset[design.basis], 0.0)
    padded = np.zeros((d, ns + 1))
    padded[:, :ns] = mu
    e = design.y - offsets - _fitted(padded, design)
    rhs = sum(np.bincount(at, weights=e, minlength=d * ns + 1)[:d * ns] for at in design.flat) / noise
    try:
        factor = cholesky_banded(band, lower=True, check_finite=False)
    except LinAlgError:
        return None
    dev = cho_solve_banded((factor, True), rhs, check_finite=False).reshape(d, ns)
    padded[:, :ns] = dev
    resid = e - _fitted(padded, design)
    w = dev[1:] - f * dev[:-1]
    quad = (float(resid @ resid) / noise + float(dev[0] ** 2 @ (1.0 / var0))
            + float(np.einsum("ir,irc,ic->", w, qinv, w)))
    logdet = (float(np.log(var0).sum()) + float(logdet_q.sum())
              + 2.0 * float(np.log(factor[0]).sum()) + design.n * math.log(noise))
    return -0.5 * (design.n * math.log(2.0 * math.pi) + quad + logdet)


def _fitted(padded: np.ndarray, design: Design) -> np.ndarray:
    """chi + xi + b_j per quote from states [date, state] padded with a column of zeros."""
    at = padded[design.date_of]
    rows = np.arange(design.n)
    return at[:, 0] + at[:, 1] + at[rows, design.third]


def filter_quotes(design: Design, p: Params) -> tuple:
    """The Kalman filter over the quotes one at a time: (log-density, state mean after the
    last quote, filtered chi and xi after each quote). -inf where an innovation variance is
    not positive and finite."""
    ns, n = design.states, design.n
    mean0, var0 = _start(p, ns)
    mean = [float(x) for x in mean0]
    cov = [[float(var0[r]) if r == c else 0.0 for c in range(ns)] for r in range(ns)]
    noise = p.sigma_eps ** 2
    steps = np.diff(design.t, prepend=design.t[:1])
    decays, step_cov = (a.tolist() for a in _steps(p, steps, ns))
    chi, xi = np.empty(n), np.empty(n)
    loglik = 0.0
    for k in range(n):
        if steps[k] > 0.0:
            decay, q = decays[k], step_cov[k]
            mean = [mr * dr for mr, dr in zip(mean, decay)]
            mean[1] += p.mu_xi * float(steps[k])
            cov = [[cov[r][c] * decay[r] * decay[c] + q[r][c] for c in range(ns)] for r in range(ns)]
        j = int(design.basis[k])
        loads = (0, 1) if j == 0 else (0, 1, 1 + j)
        pred = sum(mean[r] for r in loads) + (p.basis_offset[j] if j else 0.0)
        g = [sum(cov[r][c] for c in loads) for r in range(ns)]
        var = sum(g[r] for r in loads) + noise
        if not 0.0 < var < math.inf:
            return -math.inf, np.array(mean), chi, xi
        v = float(design.y[k]) - pred
        mean = [mr + gr * v / var for mr, gr in zip(mean, g)]
        cov = [[cov[r][c] - g[r] * g[c] / var for c in range(ns)] for r in range(ns)]
        chi[k], xi[k] = mean[0], mean[1]
        loglik -= 0.5 * (math.log(2.0 * math.pi * var) + v * v / var)
    return loglik, np.array(mean), chi, xi


def log_density(design: Design, p: Params) -> float:
    """log p(y): the banded form where it applies (banded_log_density), else the filter."""
    banded = banded_log_density(design, p)
    return filter_quotes(design, p)[0] if banded is None else banded
