"""The Kalman filter of the Schwartz-Smith model on one price series on irregular dates
(gpufin.models.calibration_mle): y_t = chi_t + xi_t + eps_t with the exact state transition
between observation dates; the first observation starts a diffuse long-term factor. (Quotes on
several price bases are filtered without numba: gpufin.models.state_space.)
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
