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

from pricing_kernels.payoff import (BLOCK, BRIDGE, BARRIER_DIR, LANES, LOG_BARRIER, N_ACC,
                                    N_STATS, accumulate_stats, bridge_hit, lane_ids, observe,
                                    reset, settle_barrier, HIT, HIT_DF)
from pricing_kernels.rng import fill_normals4, fill_words, split_seed, uniform_open


@njit(cache=True, parallel=True, error_model="numpy")
def lognormal_stats(seed, n_paths, first_block, n_blocks, antithetic, log_spot,
                    drift, vol, pois_cdf, jump_mean, jump_vol, bridge_var,
                    fix_period, fix_weight, close_period, monitor, step_df,
                    strike, omega, linear, pay_df, known_arith, known_geo, flags, levels):
    """Per-block sums (count, Y, Y^2, X, X^2, XY) of payoff Y and control variate X."""
    k0, k1 = split_seed(seed)
    n_steps = drift.size
    kmax = pois_cdf.shape[1]
    bridge = flags[BRIDGE] != 0
    up = flags[BARRIER_DIR] > 0
    groups_per_block = BLOCK // LANES
    stats = np.zeros((n_blocks, N_STATS))
    for b in prange(n_blocks):
        x = np.empty(LANES)
        z = np.empty((4, LANES))
        zj = np.empty((4, LANES))
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        acc = np.empty((N_ACC, LANES))
        for g in range(groups_per_block):
            group = (first_block + b) * groups_per_block + g
            first_path = group * LANES
            if first_path >= n_paths:
                break
            lane_ids(group, antithetic, ids, signs)
            reset(acc)
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
                        if bridge and bridge_hit(acc, lane, start, end, levels[LOG_BARRIER], up,
                                                 bridge_var[i], uniform_open(words[2, lane])):
                            acc[HIT, lane] = 1.0
                            acc[HIT_DF, lane] = step_df[i]
                        u = uniform_open(words[0, lane])
                        count = 0.0
                        for k in range(kmax):
                            count += 1.0 if u > pois_cdf[i, k] else 0.0
                        x[lane] = end + count * jump_mean + np.sqrt(count) * jump_vol * zj[0, lane]
                observe(i, x, acc, fix_period, fix_weight, close_period, monitor, step_df,
                        strike, omega, linear, pay_df, known_arith, known_geo, flags, levels)
            settle_barrier(acc, flags, levels)
            accumulate_stats(acc, first_path, n_paths, antithetic, stats[b])
    return stats
