"""Schwartz-Smith two-factor paths with launch jumps and shortage spikes, exact on any grid.

ln S = shift[i] + X at the end of step i, X advanced in the innovations form of
pricing_kernels.index_step (one normal a step). RNG streams: 0 the innovations (four steps
a draw), 4 bridge uniforms (four steps a draw), and the jump streams of index_step.
Two kernels share one body, as in pricing_kernels.lognormal: two_factor_stats without
jumps or continuously monitored barriers (Schwartz, Schwartz-Smith without launches or
spikes) compiles without the event code of two_factor_event_stats. The body's hooks (step,
tangent, observe, settle) make it a price kernel here and a price-and-Greeks kernel in
pricing_kernels.pathwise.
"""
import numpy as np
from numba import njit

from pricing_kernels.payoff import (BLOCK, BRIDGE, LANES, N_ACC, N_STATS, any_flag, bridge_all,
                                    clear_rows, fixes_at, no_tangent, observe_prices,
                                    settle_prices, start_group)
from pricing_kernels.index_step import (has_jumps, index_innovation, index_jumps, jump_scratch,
                                        jump_start)
from pricing_kernels.rng import NORMAL_ROWS, draw_words, split_seed, step_normals
from pricing_kernels.threads import block_sums, range_kernel
from pricing_kernels.vecmath import exp_vec

BRIDGE_STREAM = 4


@njit(inline="always")
def plain_step(i, k0, k1, ids, signs, scratch, words, model, shift, c, x, logs, ends, spots,
               fixing, jumps, bridge, acc, flags, levels, bridge_var, step_df):
    """The end of step i once X is advanced, without jumps or bridge checks: ln S in ends and,
    with `fixing`, S in spots (the arguments of event_step, most unused)."""
    if fixing:
        for lane in range(x.size):
            ends[lane] = shift[i] + x[lane]
            spots[lane] = exp_vec(ends[lane])
    else:
        for lane in range(x.size):
            ends[lane] = shift[i] + x[lane]


@njit(inline="always")
def event_step(i, k0, k1, ids, signs, scratch, words, model, shift, c, x, logs, ends, spots,
               fixing, jumps, bridge, acc, flags, levels, bridge_var, step_df):
    """plain_step after step i's launch jumps and spikes (pricing_kernels.index_step; the
    first step also draws each path's first event time), then the Brownian-bridge checks
    between logs and ends (only in two_factor_event_stats)."""
    if jumps:
        if i == 0:
            jump_start(k0, k1, ids, scratch)
        index_jumps(i, k0, k1, ids, signs, scratch, model, c, x, True)
    plain_step(i, k0, k1, ids, signs, scratch, words, model, shift, c, x, logs, ends, spots,
               fixing, jumps, bridge, acc, flags, levels, bridge_var, step_df)
    if bridge:
        if i % 4 == 0:
            draw_words(k0, k1, ids, BRIDGE_STREAM, i // 4, words)
        bridge_all(acc, logs, ends, flags, levels, bridge_var[i], words[i % 4], step_df[i])


@njit(inline="always")
def two_factor_kernel(step, tangent, observe, settle, n_acc, lo, hi, stats, seed, n_paths,
                      first_block, antithetic, model, payoff, vega, pathwise):
    """The body of every two-factor kernel, over blocks lo .. hi - 1, with the hooks of
    pricing_kernels.lognormal.lognormal_kernel (`step` ends a step once X is advanced; the
    tangent in d[0] = d ln S, d[1] = d X, d[2] = d c)."""
    k0, k1 = split_seed(seed)
    chi0, xi0, shift, bridge_var = model.chi0, model.xi0, model.shift, model.bridge_var
    decay, gain, innovation_sd, mu_dt = model.decay, model.gain, model.innovation_sd, model.mu_dt
    flags, levels, step_df = payoff.flags, payoff.levels, payoff.step_df
    n_steps = decay.size
    n_payoffs = flags.shape[0]
    jumps = has_jumps(model)
    bridge = any_flag(flags, BRIDGE)
    for b in range(lo, hi):
        scratch = jump_scratch(LANES)
        c = np.empty(LANES)
        x = np.empty(LANES)
        z = np.empty((NORMAL_ROWS, LANES))
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
            for lane in range(LANES):
                c[lane] = chi0
                x[lane] = chi0 + xi0
                logs[lane] = chi0 + xi0
            clear_rows(d)
            for i in range(n_steps):
                row = step_normals(k0, k1, ids, signs, 0, i, n_steps, z)
                index_innovation(i, row, c, x, z, decay, gain, innovation_sd, mu_dt)
                step(i, k0, k1, ids, signs, scratch, bridge_words, model, shift, c, x, logs,
                     ends, spots, fixes_at(i, payoff), jumps, bridge, acc, flags, levels,
                     bridge_var, step_df)
                for lane in range(LANES):
                    logs[lane] = ends[lane]
                tangent(i, row, z, d, model, vega)
                observe(i, logs, spots, d, acc, payoff, pathwise)
            settle(acc, payoff, pathwise, first_path, n_paths, antithetic, stats, b)


@range_kernel
def two_factor_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff):
    """The sums of two_factor_stats for blocks lo .. hi - 1."""
    two_factor_kernel(plain_step, no_tangent, observe_prices, settle_prices, N_ACC, lo, hi, stats,
                      seed, n_paths, first_block, antithetic, model, payoff, None, None)


@range_kernel
def two_factor_event_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff):
    """The sums of two_factor_event_stats for blocks lo .. hi - 1."""
    two_factor_kernel(event_step, no_tangent, observe_prices, settle_prices, N_ACC, lo, hi, stats,
                      seed, n_paths, first_block, antithetic, model, payoff, None, None)


def two_factor_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff):
    """stats[payoff, block] as in pricing_kernels.lognormal.lognormal_stats, on the paths of
    `model` (a TwoFactorArgs record, innovations form): without jumps or continuously
    monitored barriers."""
    return block_sums(two_factor_blocks, N_STATS, n_blocks, seed, n_paths, first_block, antithetic,
                      model, payoff)


def two_factor_event_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff):
    """two_factor_stats with launch jumps, shortage spikes or Brownian-bridge barrier checks."""
    return block_sums(two_factor_event_blocks, N_STATS, n_blocks, seed, n_paths, first_block,
                      antithetic, model, payoff)
