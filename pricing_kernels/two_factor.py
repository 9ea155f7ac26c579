"""Schwartz-Smith two-factor paths with launch jumps and shortage spikes, exact on any grid.

ln S = shift[i] + X at the end of step i, X advanced in the innovations form of
pricing_kernels.index_step (one normal a step). RNG streams: 0 the innovations (four steps
a draw), 4 bridge uniforms (four steps a draw), and the jump streams of index_step.
The body's hooks (tangent, observe, settle) make it a price kernel here and a
price-and-Greeks kernel in pricing_kernels.pathwise.
"""
import numpy as np
from numba import njit, prange

from pricing_kernels import CACHE, PRANGE
from pricing_kernels.payoff import (BLOCK, BRIDGE, LANES, N_ACC, N_STATS, bridge_all, no_tangent,
                                    observe_prices, settle_prices, start_group)
from pricing_kernels.index_step import (has_jumps, index_innovation, index_jumps, jump_scratch,
                                        jump_start)
from pricing_kernels.rng import fill_normals4, fill_words, split_seed

BRIDGE_STREAM = 4


@njit(inline="always")
def two_factor_kernel(tangent, observe, settle, n_acc, n_stats, seed, n_paths, first_block,
                      n_blocks, antithetic, model, payoff, vega, pathwise):
    """The body of every two-factor kernel, with the hooks of
    pricing_kernels.lognormal.lognormal_kernel (the tangent in d[0] = d ln S, d[1] = d X,
    d[2] = d c)."""
    k0, k1 = split_seed(seed)
    chi0, xi0, shift, bridge_var = model.chi0, model.xi0, model.shift, model.bridge_var
    decay, gain, innovation_sd, mu_dt = model.decay, model.gain, model.innovation_sd, model.mu_dt
    flags, levels, step_df = payoff.flags, payoff.levels, payoff.step_df
    n_steps = decay.size
    n_payoffs = flags.shape[0]
    jumps = has_jumps(model)
    bridge = flags[:, BRIDGE].max() != 0
    stats = np.zeros((n_payoffs, n_blocks, n_stats))
    for b in prange(n_blocks):
        scratch = jump_scratch(LANES)
        c = np.empty(LANES)
        x = np.empty(LANES)
        z = np.empty((4, LANES))
        bridge_words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        logs = np.empty(LANES)
        ends = np.empty(LANES)
        spots = np.empty(LANES)
        d = np.empty((3, LANES))
        acc = np.empty((n_payoffs, n_acc, LANES))
        for g in range(BLOCK // LANES):
            first_path = start_group(first_block + b, g, n_paths, antithetic, ids, signs, acc)
            if first_path < 0:
                break
            if jumps:
                jump_start(k0, k1, ids, scratch)
            for lane in range(LANES):
                c[lane] = chi0
                x[lane] = chi0 + xi0
                logs[lane] = chi0 + xi0
            d[:] = 0.0
            for i in range(n_steps):
                row = i % 4
                if row == 0:
                    fill_normals4(k0, k1, ids, signs, 0, i // 4, z)
                    if bridge:
                        fill_words(k0, k1, ids, BRIDGE_STREAM, i // 4, bridge_words)
                index_innovation(i, row, c, x, z, decay, gain, innovation_sd, mu_dt)
                if jumps:
                    index_jumps(i, k0, k1, ids, signs, scratch, model, c, x, True)
                for lane in range(LANES):
                    ends[lane] = shift[i] + x[lane]
                if bridge:
                    bridge_all(acc, logs, ends, flags, levels, bridge_var[i], bridge_words[row],
                               step_df[i])
                for lane in range(LANES):
                    logs[lane] = ends[lane]
                tangent(i, row, z, d, model, vega)
                observe(i, logs, spots, d, acc, payoff, pathwise)
            settle(acc, payoff, pathwise, first_path, n_paths, antithetic, stats, b)
    return stats


@njit(cache=CACHE, parallel=PRANGE, error_model="numpy")
def two_factor_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff):
    """stats[payoff, block] as in pricing_kernels.lognormal.lognormal_stats, on the paths of
    `model` (a TwoFactorArgs record, innovations form)."""
    return two_factor_kernel(no_tangent, observe_prices, settle_prices, N_ACC, N_STATS, seed,
                             n_paths, first_block, n_blocks, antithetic, model, payoff, None, None)
