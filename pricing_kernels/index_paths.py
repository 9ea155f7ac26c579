"""Index levels at grid dates, per path (collateral paths for loans on index models).

out[path, i] is S at date i (date 0 = the valuation date). Same random streams and steps
as the pricing kernels: lognormal (GBM, Merton) as in pricing_kernels.lognormal, two-factor
through the innovations form of pricing_kernels.index_step. Paths are numbered from
first_path, so any chunking gives the same numbers.
"""
import numpy as np
from numba import njit

from pricing_kernels.index_step import (has_jumps, index_innovation, index_jumps, jump_scratch,
                                        jump_start)
from pricing_kernels.payoff import LANES
from pricing_kernels.rng import (NORMAL_ROWS, draw_normals4, draw_words, poisson_count, split_seed,
                                 step_normals, uniform_open)
from pricing_kernels.threads import range_kernel, run_ranges
from pricing_kernels.vecmath import exp_vec

JUMP_STREAM = 2
JUMP_SIZE_STREAM = 3


@njit(inline="always")
def _lane_setup(first_path, g, ids, signs):
    for lane in range(LANES):
        ids[lane] = np.uint64(first_path + g * LANES + lane)
        signs[lane] = 1.0


def lognormal_paths(seed, first_path, n_paths, model):
    """GBM / Merton index levels on the grid of `model` (a LognormalArgs record)."""
    out = np.empty((n_paths, model.drift.size + 1))
    run_ranges(lognormal_groups, -(-n_paths // LANES), out, seed, first_path, n_paths, model)
    return out


def two_factor_paths(seed, first_path, n_paths, model):
    """Schwartz-Smith index levels (with launch jumps and spikes) on the grid of `model` (a
    TwoFactorArgs record), in the innovations form of pricing_kernels.index_step."""
    out = np.empty((n_paths, model.decay.size + 1))
    run_ranges(two_factor_groups, -(-n_paths // LANES), out, seed, first_path, n_paths, model)
    return out


@range_kernel
def lognormal_groups(lo, hi, out, seed, first_path, n_paths, model):
    """The rows of lognormal_paths of lane groups lo .. hi - 1."""
    k0, k1 = split_seed(seed)
    log_spot, drift, vol, pois_cdf = model.log_spot, model.drift, model.vol, model.pois_cdf
    jump_mean, jump_vol = model.jump_mean, model.jump_vol
    n_steps = drift.size
    kmax = pois_cdf.shape[1]
    for g in range(lo, hi):
        x = np.full(LANES, log_spot)
        z = np.empty((NORMAL_ROWS, LANES))
        zj = np.empty((4, LANES))
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        levels = np.empty((n_steps + 1, LANES))
        _lane_setup(first_path, g, ids, signs)
        for lane in range(LANES):
            levels[0, lane] = exp_vec(x[lane])
        for i in range(n_steps):
            row = step_normals(k0, k1, ids, signs, 0, i, n_steps, z)
            if kmax > 0:
                draw_words(k0, k1, ids, JUMP_STREAM, i, words)
                draw_normals4(k0, k1, ids, signs, JUMP_SIZE_STREAM, i, zj)
            for lane in range(LANES):
                x[lane] += drift[i] + vol[i] * z[row, lane]
                if kmax > 0:
                    count = poisson_count(uniform_open(words[0, lane]), pois_cdf[i])
                    x[lane] += count * jump_mean + np.sqrt(count) * jump_vol * zj[0, lane]
                levels[i + 1, lane] = exp_vec(x[lane])
        for lane in range(min(LANES, n_paths - g * LANES)):
            out[g * LANES + lane] = levels[:, lane]


@range_kernel
def two_factor_groups(lo, hi, out, seed, first_path, n_paths, model):
    """The rows of two_factor_paths of lane groups lo .. hi - 1."""
    k0, k1 = split_seed(seed)
    chi0, xi0, shift, mu_dt = model.chi0, model.xi0, model.shift, model.mu_dt
    decay, gain, innovation_sd = model.decay, model.gain, model.innovation_sd
    n_steps = decay.size
    jumps = has_jumps(model)
    for g in range(lo, hi):
        scratch = jump_scratch(LANES)
        c = np.full(LANES, chi0)
        x = np.full(LANES, chi0 + xi0)
        z = np.empty((NORMAL_ROWS, LANES))
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        levels = np.empty((n_steps + 1, LANES))
        _lane_setup(first_path, g, ids, signs)
        if jumps:
            jump_start(k0, k1, ids, scratch)
        for lane in range(LANES):
            levels[0, lane] = exp_vec(chi0 + xi0)
        for i in range(n_steps):
            row = step_normals(k0, k1, ids, signs, 0, i, n_steps, z)
            index_innovation(i, row, c, x, z, decay, gain, innovation_sd, mu_dt)
            if jumps:
                index_jumps(i, k0, k1, ids, signs, scratch, model, c, x, True)
            for lane in range(LANES):
                levels[i + 1, lane] = exp_vec(shift[i] + x[lane])
        for lane in range(min(LANES, n_paths - g * LANES)):
            out[g * LANES + lane] = levels[:, lane]
