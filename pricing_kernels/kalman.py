"""Kalman filters of the Schwartz-Smith model on irregular dates: one price series
(gpufin.models.calibration) and quotes on several price bases (gpufin.models.calibration_bases).

y_t = chi_t + xi_t + eps_t with the exact state transition between observation dates;
the first observation starts a diffuse long-term factor (see gpufin.models.calibration).
"""
import math

import numpy as np
from numba import njit

from pricing_kernels import CACHE


@njit(cache=CACHE)
def kalman_filter(y, dt, kappa, sigma_chi, sigma_xi, rho, mu_xi, sigma_eps, chi, xi):
    """Log-likelihood of y[1:] given y[0]; writes the filtered chi and xi (means) per date."""
    v0 = sigma_chi * sigma_chi / (2.0 * kappa)
    noise = sigma_eps * sigma_eps
    a, b = 0.0, y[0]
    p11, p12, p22 = v0, -v0, v0 + noise
    chi[0], xi[0] = a, b
    loglik = 0.0
    for i in range(1, y.size):
        h = dt[i - 1]
        decay = math.exp(-kappa * h)
        q11 = sigma_chi * sigma_chi * -math.expm1(-2.0 * kappa * h) / (2.0 * kappa)
        q12 = rho * sigma_chi * sigma_xi * -math.expm1(-kappa * h) / kappa
        q22 = sigma_xi * sigma_xi * h
        a = decay * a
        b = b + mu_xi * h
        p11 = decay * decay * p11 + q11
        p12 = decay * p12 + q12
        p22 = p22 + q22
        f = p11 + 2.0 * p12 + p22 + noise
        if not f > 0.0:
            return -np.inf
        v = y[i] - a - b
        k1 = (p11 + p12) / f
        k2 = (p12 + p22) / f
        a += k1 * v
        b += k2 * v
        p11, p12, p22 = p11 - k1 * k1 * f, p12 - k1 * k2 * f, p22 - k2 * k2 * f
        chi[i], xi[i] = a, b
        loglik -= 0.5 * (math.log(2.0 * math.pi * f) + v * v / f)
    return loglik


@njit(cache=CACHE)
def kalman_bases(t, basis, y, kappa, sigma_chi, sigma_xi, rho, mu_xi, sigma_eps, basis_kappa,
                 basis_sigma, basis_offset, level_mean, level_sd, mean, cov, chi, xi, decay, g):
    """Log-likelihood of quotes on m price bases (gpufin.models.calibration_bases).

    Quote k, on date t[k] (years, non-decreasing; equal dates allowed) and basis
    basis[k] in 0..m-1, is y[k] = chi + xi + b_j + basis_offset[j] + eps, with b_0 = 0 and
    basis_offset[0] = 0 for the base basis. The state is (chi, xi, b_1..b_{m-1}) (length
    m + 1, the layout of `mean` and `cov`): b_j an OU in log with mean reversion
    basis_kappa[j] and volatility basis_sigma[j]; chi and each b_j start stationary, xi at
    N(level_mean, level_sd^2). The transition between dates is diagonal and exact; quotes of
    one date are taken one at a time. Returns the log-density of all of y; leaves in `mean`,
    `cov` the state after the last quote and in chi[k], xi[k] the filtered factor means after
    quote k. Entry 0 of basis_kappa, basis_sigma and basis_offset is not read. decay and g
    (length m + 1) are work arrays: allocated by the caller, they keep numba's typing of NumPy's
    constructors out of the first compile (about 0.15 s of a first `gpufin calibrate`).
    """
    m = basis_kappa.size
    ns = m + 1
    noise = sigma_eps * sigma_eps
    for r in range(ns):
        mean[r] = 0.0
        for c in range(ns):
            cov[r, c] = 0.0
    mean[1] = level_mean
    cov[0, 0] = sigma_chi * sigma_chi / (2.0 * kappa)
    cov[1, 1] = level_sd * level_sd
    for j in range(1, m):
        cov[1 + j, 1 + j] = basis_sigma[j] * basis_sigma[j] / (2.0 * basis_kappa[j])
    for r in range(ns):
        decay[r] = 1.0
    loglik = 0.0
    for k in range(y.size):
        h = t[k] - t[k - 1] if k > 0 else 0.0
        if h > 0.0:
            decay[0] = math.exp(-kappa * h)
            for j in range(1, m):
                decay[1 + j] = math.exp(-basis_kappa[j] * h)
            for r in range(ns):
                mean[r] *= decay[r]
                for c in range(ns):
                    cov[r, c] *= decay[r] * decay[c]
            mean[1] += mu_xi * h
            q12 = rho * sigma_chi * sigma_xi * -math.expm1(-kappa * h) / kappa
            cov[0, 0] += sigma_chi * sigma_chi * -math.expm1(-2.0 * kappa * h) / (2.0 * kappa)
            cov[0, 1] += q12
            cov[1, 0] += q12
            cov[1, 1] += sigma_xi * sigma_xi * h
            for j in range(1, m):
                bk, bs = basis_kappa[j], basis_sigma[j]
                cov[1 + j, 1 + j] += bs * bs * -math.expm1(-2.0 * bk * h) / (2.0 * bk)
        j = basis[k]
        pred = mean[0] + mean[1]
        for r in range(ns):
            g[r] = cov[r, 0] + cov[r, 1]
        if j > 0:
            pred += mean[1 + j] + basis_offset[j]
            for r in range(ns):
                g[r] += cov[r, 1 + j]
        f = g[0] + g[1] + noise
        if j > 0:
            f += g[1 + j]
        if not f > 0.0:
            return -np.inf
        v = y[k] - pred
        for r in range(ns):
            mean[r] += g[r] * v / f
        for r in range(ns):
            for c in range(ns):
                cov[r, c] -= g[r] * g[c] / f
        chi[k], xi[k] = mean[0], mean[1]
        loglik -= 0.5 * (math.log(2.0 * math.pi * f) + v * v / f)
    return loglik
