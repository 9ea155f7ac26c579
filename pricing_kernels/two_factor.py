"""Schwartz-Smith two-factor paths with launch jumps and shortage spikes, exact on any grid.

ln S = shift[i] + chi + xi at the end of step i. Over a step:
chi <- decay[i] chi + a11[i] Z1 + sum of spikes J_k e^{-kappa (t_end - tau_k)}
xi  <- xi + mu_dt[i] + a21[i] Z1 + a22[i] Z2 + N_launch*m + sqrt(N_launch)*s*Z3
with (a11, a21, a22) the Cholesky factor of the exact step covariance, spike times tau_k
uniform within the step, Poisson counts by inverse transform (pricing_kernels.lognormal).
RNG streams: 0 Z1, 1 Z2 (four steps a draw), 2 uniforms (launch count, spike count,
bridge), 3 launch-size normals, 4 + k spike k (normal and arrival time).
"""
import numpy as np
from numba import njit, prange

from pricing_kernels.payoff import (BLOCK, BRIDGE, BARRIER_DIR, HIT, HIT_DF, LANES, LOG_BARRIER,
                                    N_ACC, N_STATS, accumulate_stats, bridge_hit, lane_ids,
                                    observe, reset, settle_barrier)
from pricing_kernels.rng import fill_normals4, fill_words, normal_pair, split_seed, uniform_open
from pricing_kernels.vecmath import exp_vec


@njit(inline="always")
def poisson_count(u, cdf_row):
    count = 0.0
    for k in range(cdf_row.size):
        count += 1.0 if u > cdf_row[k] else 0.0
    return count


@njit(cache=True, parallel=True, error_model="numpy")
def two_factor_stats(seed, n_paths, first_block, n_blocks, antithetic, chi0, xi0,
                     shift, decay, a11, a21, a22, mu_dt,
                     launch_cdf, launch_sched, launch_mean, launch_vol,
                     spike_cdf, spike_mean, spike_vol, kappa_dt, bridge_var,
                     fix_period, fix_weight, close_period, monitor, step_df,
                     strike, omega, linear, pay_df, known_arith, known_geo, flags, levels):
    """Per-block sums (count, Y, Y^2, X, X^2, XY) of payoff Y and control variate X."""
    k0, k1 = split_seed(seed)
    n_steps = decay.size
    jumps = launch_cdf.shape[1] > 0 or spike_cdf.shape[1] > 0 or launch_sched.max() > 0.0
    bridge = flags[BRIDGE] != 0
    up = flags[BARRIER_DIR] > 0
    groups_per_block = BLOCK // LANES
    stats = np.zeros((n_blocks, N_STATS))
    for b in prange(n_blocks):
        chi = np.empty(LANES)
        xi = np.empty(LANES)
        logs = np.empty(LANES)
        z1 = np.empty((4, LANES))
        z2 = np.empty((4, LANES))
        zj = np.empty((4, LANES))
        words = np.empty((4, LANES), dtype=np.uint64)
        spike_words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        acc = np.empty((N_ACC, LANES))
        n_launch = np.empty(LANES)
        n_spike_lane = np.empty(LANES)
        for g in range(groups_per_block):
            group = (first_block + b) * groups_per_block + g
            first_path = group * LANES
            if first_path >= n_paths:
                break
            lane_ids(group, antithetic, ids, signs)
            reset(acc)
            for lane in range(LANES):
                chi[lane] = chi0
                xi[lane] = xi0
                logs[lane] = chi0 + xi0
            for i in range(n_steps):
                if i % 4 == 0:
                    fill_normals4(k0, k1, ids, signs, 0, i // 4, z1)
                    fill_normals4(k0, k1, ids, signs, 1, i // 4, z2)
                r = i % 4
                for lane in range(LANES):
                    chi[lane] = decay[i] * chi[lane] + a11[i] * z1[r, lane]
                    xi[lane] += mu_dt[i] + a21[i] * z1[r, lane] + a22[i] * z2[r, lane]
                if jumps or bridge:
                    fill_words(k0, k1, ids, 2, i, words)
                if jumps:
                    # Counts first; sizes are drawn only when some lane of the group jumps.
                    most_launches = 0.0
                    most_spikes = 0.0
                    for lane in range(LANES):
                        n_launch[lane] = poisson_count(uniform_open(words[0, lane]), launch_cdf[i]) + launch_sched[i]
                        n_spike_lane[lane] = poisson_count(uniform_open(words[1, lane]), spike_cdf[i])
                        most_launches = max(most_launches, n_launch[lane])
                        most_spikes = max(most_spikes, n_spike_lane[lane])
                    if most_launches > 0.0:
                        fill_normals4(k0, k1, ids, signs, 3, i, zj)
                        for lane in range(LANES):
                            xi[lane] += (n_launch[lane] * launch_mean
                                         + np.sqrt(n_launch[lane]) * launch_vol * zj[0, lane])
                    for k in range(int(most_spikes)):
                        fill_words(k0, k1, ids, 4 + k, i, spike_words)
                        for lane in range(LANES):
                            za, _ = normal_pair(spike_words[0, lane], spike_words[1, lane])
                            age = uniform_open(spike_words[2, lane])
                            size = (spike_mean + spike_vol * signs[lane] * za) * exp_vec(-kappa_dt[i] * age)
                            chi[lane] += size if n_spike_lane[lane] > k else 0.0
                for lane in range(LANES):
                    end = shift[i] + chi[lane] + xi[lane]
                    if bridge and bridge_hit(acc, lane, logs[lane], end, levels[LOG_BARRIER], up,
                                             bridge_var[i], uniform_open(words[2, lane])):
                        acc[HIT, lane] = 1.0
                        acc[HIT_DF, lane] = step_df[i]
                    logs[lane] = end
                observe(i, logs, acc, fix_period, fix_weight, close_period, monitor, step_df,
                        strike, omega, linear, pay_df, known_arith, known_geo, flags, levels)
            settle_barrier(acc, flags, levels)
            accumulate_stats(acc, first_path, n_paths, antithetic, stats[b])
    return stats
