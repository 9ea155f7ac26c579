"""GBM and Merton jump-diffusion paths, exact in distribution on any grid.

log S advances by drift[i] + vol[i] * Z (drift and vol prepared by Python from the curve,
the dividend yield and the jump compensator), plus, with jumps, N ~ Poisson(lambda dt)
log jumps N(jump_mean, jump_vol**2) summed exactly as N*mean + sqrt(N)*vol*Z'.
Poisson counts come from `pois_cdf[i, k] = P(N <= k)`, truncated where the tail is below
the resolution of a 32-bit uniform, so the inverse transform is exact.
RNG streams: 0 diffusion normals (four steps a draw), 2 uniforms (jump count, bridge),
3 jump-size normals.
"""
import numpy as np
from numba import njit, prange

from pricing_kernels import CACHE
from pricing_kernels.payoff import (BLOCK, BRIDGE, LANES, N_ACC, N_STATS, bridge_all, lane_ids,
                                    observe_all, reset_all, settle_accumulate_all)
from pricing_kernels.rng import fill_normals4, fill_words, poisson_count, split_seed, uniform_open


@njit(cache=CACHE, parallel=True, error_model="numpy")
def lognormal_stats(seed, n_paths, first_block, n_blocks, antithetic, log_spot,
                    drift, vol, pois_cdf, jump_mean, jump_vol, bridge_var,
                    fix_weight, close_period, step_df,
                    strike, omega, linear, pay_df, known_arith, known_geo, flags, levels,
                    fix_ptr, fix_q, close_ptr, close_q, monitor_ptr, monitor_q):
    """stats[payoff, block] = sums (count, Y, Y^2, X, X^2, XY) of payoff Y and control variate X,
    for payoffs stacked along the first axis of the payoff arrays (pricing_kernels.payoff)."""
    k0, k1 = split_seed(seed)
    n_steps = drift.size
    n_payoffs = flags.shape[0]
    kmax = pois_cdf.shape[1]
    bridge = flags[:, BRIDGE].max() != 0
    groups_per_block = BLOCK // LANES
    stats = np.zeros((n_payoffs, n_blocks, N_STATS))
    for b in prange(n_blocks):
        x = np.empty(LANES)
        z = np.empty((4, LANES))
        zj = np.zeros((4, LANES))       # read (times 0) on bridge steps without jumps
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        spots = np.empty(LANES)
        acc = np.empty((n_payoffs, N_ACC, LANES))
        for g in range(groups_per_block):
            group = (first_block + b) * groups_per_block + g
            first_path = group * LANES
            if first_path >= n_paths:
                break
            lane_ids(group, antithetic, ids, signs)
            reset_all(acc)
            for lane in range(LANES):
                x[lane] = log_spot
            for i in range(n_steps):
                if i % 4 == 0:
                    fill_normals4(k0, k1, ids, signs, 0, i // 4, z)
                zrow = i % 4
                mu = drift[i]
                sd = vol[i]
                if kmax == 0 and not bridge:
                    for lane in range(LANES):
                        x[lane] += mu + sd * z[zrow, lane]
                else:
                    fill_words(k0, k1, ids, 2, i, words)
                    if kmax > 0:
                        fill_normals4(k0, k1, ids, signs, 3, i, zj)
                    for lane in range(LANES):
                        start = x[lane]
                        end = start + mu + sd * z[zrow, lane]
                        if bridge:
                            bridge_all(acc, lane, start, end, flags, levels, bridge_var[i],
                                       uniform_open(words[2, lane]), step_df[i])
                        count = poisson_count(uniform_open(words[0, lane]), pois_cdf[i])
                        x[lane] = end + count * jump_mean + np.sqrt(count) * jump_vol * zj[0, lane]
                observe_all(i, x, spots, acc, fix_weight, close_period, step_df,
                            strike, omega, linear, pay_df, known_arith, known_geo, flags, levels,
                            fix_ptr, fix_q, close_ptr, close_q, monitor_ptr, monitor_q)
            settle_accumulate_all(acc, flags, levels, first_path, n_paths, antithetic, stats, b)
    return stats
