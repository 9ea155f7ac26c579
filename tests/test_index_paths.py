"""The innovations form of the Schwartz-Smith index (one normal a step): its linear map
reproduces the exact covariance of ln S on an irregular grid, and its paths with launch
jumps and spikes match the closed-form moments."""
import math

import numpy as np
import pytest

from gpufin.models.index import TwoFactor
from pricing_kernels.index_paths import two_factor_paths

TIMES = np.array([0.0, 1 / 365, 3 / 365, 0.1, 0.25, 0.26, 0.5, 1.0, 1.7, 3.0])
GAUSSIAN_CASES = [  # kappa, sigma_chi, sigma_xi, rho
    (2.0, 0.5, 0.2, 0.3),
    (0.5, 0.1, 0.4, -0.7),
    (8.0, 1.2, 0.05, 0.95),
    (1.0, 0.3, 0.0, 0.0),     # one-factor Schwartz
    (3.0, 0.0, 0.3, 0.0),     # random walk only
]


def exact_covariance(kappa, s_chi, s_xi, rho, t):
    """Cov(chi_s + xi_s, chi_t + xi_t) from a known start, s, t in the grid."""
    s, u = np.minimum.outer(t, t), np.maximum.outer(t, t)
    decay = np.exp(-kappa * (u - s))
    var_chi = s_chi ** 2 * (1.0 - np.exp(-2.0 * kappa * s)) / (2.0 * kappa)
    cov_chi_xi = rho * s_chi * s_xi * (1.0 - np.exp(-kappa * s)) / kappa
    return decay * var_chi + s_xi ** 2 * s + cov_chi_xi + decay * cov_chi_xi


@pytest.mark.parametrize("kappa,s_chi,s_xi,rho", GAUSSIAN_CASES)
def test_innovations_reproduce_the_exact_covariance(kappa, s_chi, s_xi, rho):
    model = TwoFactor(spot=2.0, kappa=kappa, sigma_chi=s_chi, sigma_xi=s_xi, rho=rho)
    a = model.kernel_args(TIMES)
    n = TIMES.size - 1
    c = np.zeros(n)                 # coefficients on Z_0 .. Z_{n-1}
    x = np.zeros(n)
    rows = []
    for i in range(n):
        z = np.eye(n)[i]
        x = x + (a.decay[i] - 1.0) * c + a.innovation_sd[i] * z
        c = a.decay[i] * c + a.gain[i] * z
        rows.append(x)
    implied = np.array(rows) @ np.array(rows).T
    exact = exact_covariance(kappa, s_chi, s_xi, rho, TIMES[1:])
    assert np.allclose(implied, exact, rtol=1e-11, atol=1e-14)


JUMP_CASES = [
    dict(launch_intensity=1.0, launch_mean=-0.16, launch_vol=0.1,
         spike_intensity=0.5, spike_mean=0.18, spike_vol=0.1),
    dict(launch_intensity=3.0, launch_mean=-0.3, launch_vol=0.2,
         spike_intensity=2.0, spike_mean=0.3, spike_vol=0.2, kappa=0.8),
    dict(spike_intensity=40.0, spike_mean=0.05, spike_vol=0.05, kappa=6.0),
    dict(launch_times=(0.3, 0.9), launch_mean=-0.2, launch_vol=0.05,
         spike_intensity=1.0, spike_mean=0.2, spike_vol=0.0, rho=-0.5),
]


@pytest.mark.parametrize("jumps", JUMP_CASES)
def test_index_paths_with_jumps_match_closed_form_moments(jumps):
    base = dict(spot=2.4, kappa=2.0, sigma_chi=0.5, sigma_xi=0.2, rho=0.3, mu_xi=-0.29)
    model = TwoFactor(**dict(base, **jumps))
    times = np.arange(13) / 12.0
    paths = two_factor_paths(np.uint64(11), 0, 40_000, model.kernel_args(times))
    for i in (1, 4, 12):
        s = paths[:, i]
        assert abs(s.mean() - model.mean(times[i])[0]) < 4 * s.std(ddof=1) / math.sqrt(s.size)
        logs = np.log(s)
        dev2 = (logs - logs.mean()) ** 2
        var_se = dev2.std(ddof=1) / math.sqrt(s.size)
        assert abs(logs.var(ddof=1) - model.log_variance(times[i])[0]) < 4 * var_se
