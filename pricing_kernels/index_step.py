"""One exact step of the Schwartz-Smith rental index over a lane group, shared by kernels.

chi <- decay[i] chi + a11[i] Z1 + sum of spikes J_k e^{-kappa (t_end - tau_k)}
xi  <- xi + mu_dt[i] + a21[i] Z1 + a22[i] Z2 + N_launch m + sqrt(N_launch) s Z3
(a11, a21, a22): Cholesky factor of the exact step covariance; spike arrival times tau_k
uniform within the step; Poisson counts by inverse transform of 32-bit uniforms against
tables truncated where no uniform can reach (gpufin.models.poisson_cdf_table).
"""
import numpy as np
from numba import njit

from pricing_kernels.rng import fill_normals4, fill_words, normal_pair, uniform_open
from pricing_kernels.vecmath import exp_vec

LAUNCH_STREAM = 3
SPIKE_STREAM0 = 4


@njit(inline="always")
def index_scratch(lanes):
    """Work arrays of a lane group: chi, xi, z1, z2, zj (normals), words and spike_words (raw
    draws), ids (path ids), signs (antithetic), n_launch, n_spike (jump counts)."""
    return (np.empty(lanes), np.empty(lanes), np.empty((4, lanes)), np.empty((4, lanes)),
            np.zeros((4, lanes)), np.empty((4, lanes), dtype=np.uint64),
            np.empty((4, lanes), dtype=np.uint64), np.empty(lanes, dtype=np.uint64),
            np.empty(lanes), np.empty(lanes), np.empty(lanes))


@njit(inline="always")
def poisson_count(u, cdf_row):
    count = 0.0
    for k in range(cdf_row.size):
        count += 1.0 if u > cdf_row[k] else 0.0
    return count


@njit(inline="always")
def index_diffusion(i, row, chi, xi, z1, z2, decay, a11, a21, a22, mu_dt):
    """The Gaussian part of step i, from normals z1[row], z2[row]."""
    for lane in range(chi.size):
        chi[lane] = decay[i] * chi[lane] + a11[i] * z1[row, lane]
        xi[lane] += mu_dt[i] + a21[i] * z1[row, lane] + a22[i] * z2[row, lane]


@njit(inline="always")
def index_jumps(i, k0, k1, ids, signs, chi, xi, words, zj, spike_words, n_launch, n_spike,
                launch_cdf, launch_sched, launch_mean, launch_vol, spike_cdf, spike_mean,
                spike_vol, kappa_dt):
    """Launch jumps into xi and decayed spikes into chi; words[0:2] hold the count uniforms.
    Counts come first; sizes are drawn only when some lane of the group jumps."""
    most_launches = 0.0
    most_spikes = 0.0
    for lane in range(chi.size):
        n_launch[lane] = poisson_count(uniform_open(words[0, lane]), launch_cdf[i]) + launch_sched[i]
        n_spike[lane] = poisson_count(uniform_open(words[1, lane]), spike_cdf[i])
        most_launches = max(most_launches, n_launch[lane])
        most_spikes = max(most_spikes, n_spike[lane])
    if most_launches > 0.0:
        fill_normals4(k0, k1, ids, signs, LAUNCH_STREAM, i, zj)
        for lane in range(chi.size):
            xi[lane] += n_launch[lane] * launch_mean + np.sqrt(n_launch[lane]) * launch_vol * zj[0, lane]
    for k in range(int(most_spikes)):
        fill_words(k0, k1, ids, SPIKE_STREAM0 + k, i, spike_words)
        for lane in range(chi.size):
            za, _ = normal_pair(spike_words[0, lane], spike_words[1, lane])
            age = uniform_open(spike_words[2, lane])
            size = (spike_mean + spike_vol * signs[lane] * za) * exp_vec(-kappa_dt[i] * age)
            chi[lane] += size if n_spike[lane] > k else 0.0
