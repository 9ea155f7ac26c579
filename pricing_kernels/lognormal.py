"""GBM and Merton jump-diffusion paths, exact in distribution on any grid.

log S advances by drift[i] + vol[i] * Z (drift and vol prepared by Python from the curve,
the dividend yield and the jump compensator), plus, with jumps, N ~ Poisson(lambda dt)
log jumps N(jump_mean, jump_vol**2) summed exactly as N*mean + sqrt(N)*vol*Z'.
Poisson counts come from `pois_cdf[i, k] = P(N <= k)`, truncated where the tail is below
the resolution of a 32-bit uniform, so the inverse transform is exact.
RNG streams: 0 diffusion normals (four steps a draw), 2 uniforms (jump count, bridge),
3 jump-size normals.
Two kernels share one body: lognormal_stats for plain GBM, and lognormal_event_stats,
whose steps also draw jumps and bridge crossings. Kept apart, the first compiles without
the second's code (a first run waits seconds less). The body's hooks (tangent, observe,
settle) make it a price kernel here and a price-and-Greeks kernel in pricing_kernels.pathwise.
On a step with a fixing, the step hook also leaves e^x in spots, from the lane loop that
advances x (pricing_kernels.payoff.fixes_at).
"""
import numpy as np
from numba import njit

from pricing_kernels.payoff import (BLOCK, BRIDGE, LANES, N_ACC, N_STATS, any_flag, bridge_all,
                                    clear_rows, fixes_at, no_tangent, observe_prices,
                                    settle_prices, start_group)
from pricing_kernels.rng import (NORMAL_ROWS, draw_normals4, draw_words, poisson_count, split_seed,
                                 step_normals, uniform_open)
from pricing_kernels.threads import block_sums, range_kernel
from pricing_kernels.vecmath import exp_vec


@njit
def jump_bridge_step(i, k0, k1, ids, signs, x, ends, spots, fixing, z, zrow, mu, sd, words, zj,
                     pois_cdf, jump_mean, jump_vol, bridge, acc, flags, levels, bridge_var,
                     step_df):
    """Step i with Merton jumps and/or Brownian-bridge barrier checks (out of line, and only
    in lognormal_event_stats); z[zrow] holds this step's diffusion normals; with `fixing`,
    spots = e^x at the end of the step (pricing_kernels.payoff.fixes_at). It takes the
    fields it reads, not whole records: an out-of-line call copies what it is given."""
    draw_words(k0, k1, ids, 2, i, words)
    if pois_cdf.shape[1] > 0:
        draw_normals4(k0, k1, ids, signs, 3, i, zj)
    for lane in range(x.size):
        ends[lane] = x[lane] + (mu + sd * z[zrow, lane])     # rounded as in gbm_step
    if bridge:
        bridge_all(acc, x, ends, flags, levels, bridge_var[i], words[2], step_df[i])
    for lane in range(x.size):
        count = poisson_count(uniform_open(words[0, lane]), pois_cdf[i])
        x[lane] = ends[lane] + count * jump_mean + np.sqrt(count) * jump_vol * zj[0, lane]
    if fixing:
        for lane in range(x.size):
            spots[lane] = exp_vec(x[lane])


@njit(inline="always")
def gbm_step(i, k0, k1, ids, signs, x, ends, spots, fixing, z, zrow, mu, sd, words, zj, pois_cdf,
             jump_mean, jump_vol, bridge, acc, flags, levels, bridge_var, step_df):
    """Step i of plain GBM (the arguments of jump_bridge_step, most unused)."""
    if fixing:
        for lane in range(x.size):
            x[lane] += mu + sd * z[zrow, lane]
            spots[lane] = exp_vec(x[lane])
    else:
        for lane in range(x.size):
            x[lane] += mu + sd * z[zrow, lane]


@njit(inline="always")
def lognormal_kernel(step, tangent, observe, settle, n_acc, lo, hi, stats, seed, n_paths,
                     first_block, antithetic, model, payoff, vega, pathwise):
    """The body of every lognormal kernel, over blocks lo .. hi - 1: `step` advances the paths
    one grid step, `tangent` their derivative with respect to sigma (in tangent[0], from
    `vega`), `observe` records the payoffs' events and `settle` adds each lane group's samples
    to stats[payoff, block] (zeros to start; from n_acc rows of running sums per payoff and
    lane)."""
    k0, k1 = split_seed(seed)
    drift, vol, log_spot = model.drift, model.vol, model.log_spot
    pois_cdf, jump_mean, jump_vol = model.pois_cdf, model.jump_mean, model.jump_vol
    bridge_var, flags, levels, step_df = model.bridge_var, payoff.flags, payoff.levels, payoff.step_df
    n_steps = drift.size
    n_payoffs = flags.shape[0]
    bridge = any_flag(flags, BRIDGE)
    for b in range(lo, hi):
        x = np.empty(LANES)
        ends = np.empty(LANES)
        z = np.empty((NORMAL_ROWS, LANES))
        zj = np.empty((4, LANES))
        clear_rows(zj)                  # read (times 0) on bridge steps without jumps
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        spots = np.empty(LANES)
        d = np.empty((1, LANES))
        acc = np.empty((n_payoffs, n_acc, LANES))
        for g in range(BLOCK // LANES):
            first_path = start_group(first_block + b, g, n_paths, antithetic, ids, signs, acc)
            if first_path < 0:
                break
            for lane in range(LANES):
                x[lane] = log_spot
            clear_rows(d)
            for i in range(n_steps):
                row = step_normals(k0, k1, ids, signs, 0, i, n_steps, z)
                step(i, k0, k1, ids, signs, x, ends, spots, fixes_at(i, payoff), z, row, drift[i],
                     vol[i], words, zj, pois_cdf, jump_mean, jump_vol, bridge, acc, flags, levels,
                     bridge_var, step_df)
                tangent(i, row, z, d, model, vega)
                observe(i, x, spots, d, acc, payoff, pathwise)
            settle(acc, payoff, pathwise, first_path, n_paths, antithetic, stats, b)


@range_kernel
def lognormal_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff):
    """The sums of lognormal_stats for blocks lo .. hi - 1."""
    lognormal_kernel(gbm_step, no_tangent, observe_prices, settle_prices, N_ACC, lo, hi, stats,
                     seed, n_paths, first_block, antithetic, model, payoff, None, None)


@range_kernel
def lognormal_event_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff):
    """The sums of lognormal_event_stats for blocks lo .. hi - 1."""
    lognormal_kernel(jump_bridge_step, no_tangent, observe_prices, settle_prices, N_ACC, lo, hi,
                     stats, seed, n_paths, first_block, antithetic, model, payoff, None, None)


def lognormal_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff):
    """stats[payoff, block] = sums (count, Y, Y^2, X, X^2, XY) of payoff Y and control variate X
    for the payoffs of `payoff` (a PayoffArgs record) on the paths of `model` (a LognormalArgs
    record): GBM without continuously monitored barriers."""
    return block_sums(lognormal_blocks, N_STATS, n_blocks, seed, n_paths, first_block, antithetic,
                      model, payoff)


def lognormal_event_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff):
    """lognormal_stats with Merton jumps or Brownian-bridge barrier checks."""
    return block_sums(lognormal_event_blocks, N_STATS, n_blocks, seed, n_paths, first_block,
                      antithetic, model, payoff)
