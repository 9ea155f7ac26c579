"""Schwartz-Smith two-factor paths with launch jumps and shortage spikes, exact on any grid.

ln S = shift[i] + chi + xi at the end of step i; the step itself is
pricing_kernels.index_step. RNG streams: 0 Z1, 1 Z2 (four steps a draw), 2 uniforms
(launch count, spike count, bridge), 3 launch-size normals, 4 + k spike k.
"""
import numpy as np
from numba import njit, prange

from pricing_kernels import CACHE
from pricing_kernels.payoff import (BLOCK, BRIDGE, LANES, N_ACC, N_STATS, bridge_all, lane_ids,
                                    observe_all, reset_all, settle_accumulate_all)
from pricing_kernels.index_step import index_diffusion, index_jumps, index_scratch
from pricing_kernels.rng import fill_normals4, fill_words, split_seed, uniform_open


@njit(cache=CACHE, parallel=True, error_model="numpy")
def two_factor_stats(seed, n_paths, first_block, n_blocks, antithetic, chi0, xi0,
                     shift, decay, a11, a21, a22, mu_dt,
                     launch_cdf, launch_sched, launch_mean, launch_vol,
                     spike_cdf, spike_mean, spike_vol, kappa_dt, bridge_var,
                     fix_period, fix_weight, close_period, monitor, step_df,
                     strike, omega, linear, pay_df, known_arith, known_geo, flags, levels):
    """stats[payoff, block] as in pricing_kernels.lognormal.lognormal_stats."""
    k0, k1 = split_seed(seed)
    n_steps = decay.size
    n_payoffs = flags.shape[0]
    jumps = launch_cdf.shape[1] > 0 or spike_cdf.shape[1] > 0 or launch_sched.max() > 0.0
    bridge = flags[:, BRIDGE].max() != 0
    groups_per_block = BLOCK // LANES
    stats = np.zeros((n_payoffs, n_blocks, N_STATS))
    for b in prange(n_blocks):
        chi, xi, z1, z2, zj, words, spike_words, ids, signs, n_launch, n_spike = index_scratch(LANES)
        logs = np.empty(LANES)
        acc = np.empty((n_payoffs, N_ACC, LANES))
        for g in range(groups_per_block):
            group = (first_block + b) * groups_per_block + g
            first_path = group * LANES
            if first_path >= n_paths:
                break
            lane_ids(group, antithetic, ids, signs)
            reset_all(acc)
            for lane in range(LANES):
                chi[lane] = chi0
                xi[lane] = xi0
                logs[lane] = chi0 + xi0
            for i in range(n_steps):
                if i % 4 == 0:
                    fill_normals4(k0, k1, ids, signs, 0, i // 4, z1)
                    fill_normals4(k0, k1, ids, signs, 1, i // 4, z2)
                index_diffusion(i, i % 4, chi, xi, z1, z2, decay, a11, a21, a22, mu_dt)
                if jumps or bridge:
                    fill_words(k0, k1, ids, 2, i, words)
                if jumps:
                    index_jumps(i, k0, k1, ids, signs, chi, xi, words, zj, spike_words, n_launch,
                                n_spike, launch_cdf, launch_sched, launch_mean, launch_vol,
                                spike_cdf, spike_mean, spike_vol, kappa_dt)
                for lane in range(LANES):
                    end = shift[i] + chi[lane] + xi[lane]
                    if bridge:
                        bridge_all(acc, lane, logs[lane], end, flags, levels, bridge_var[i],
                                   uniform_open(words[2, lane]), step_df[i])
                    logs[lane] = end
                observe_all(i, logs, acc, fix_period, fix_weight, close_period, monitor, step_df,
                            strike, omega, linear, pay_df, known_arith, known_geo, flags, levels)
            settle_accumulate_all(acc, flags, levels, first_path, n_paths, antithetic, stats, b)
    return stats
