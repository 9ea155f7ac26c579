"""GPU fleet paths: rental index, utilization, operating cash flow and collateral value.

Per path and date i (0 = valuation date) the kernel writes, per GPU-fleet:
  out[0] index S (USD/GPU-hr), out[1] merchant utilization U, out[2] operating cash flow of
  the period ending at date i (USD), out[3] collateral value (USD).
Index: the Schwartz-Smith step of pricing_kernels.index_step (state form: income
values read chi and xi apart). Utilization U = logistic(Y),
Y <- theta + (Y - theta) u_decay[i] + b1[i] Z1 + b2[i] Z2 + b3[i] Z3: (b1, b2, b3) is the
last row of the exact 3x3 step covariance's Cholesky factor, so Y is correlated with the
index shocks. Customer u defaults at an exponential time (hazard[u]) drawn once per path;
contract c belongs to customer[c].
Income value per GPU at date i:
  sum_j w[i,j] (exp(log_a[i,j] + c[i,j] chi + xi) E[logistic(m + sd Z)]) - opex_pv[i]
with m = theta + (Y - theta) d[i,j] + cov[i,j] = -(util_base[i,j] - d[i,j] Y) and the
expectation by Gauss-Hermite quadrature in symmetric pairs (pair_s, pair_w), floored
at `salvage`: the conditional expectation of discounted merchant margin (gpufin.models.fleet).
Contract start[c] and end[c] are date indices: contract c earns in periods start < i <= end,
contracted_cash[c] while its customer pays and released_cash[c] (its prepayment, held in the
SPV's account and released as the service is delivered) whether or not the customer pays.
Each path's numbers depend on (seed, path) only: any chunking or thread count gives the
same bits. RNG streams: 0, 1 index shocks, jumps as in pricing_kernels.index_step, 100 Z3, 200 default times.
"""
import numpy as np
from numba import njit, prange

from pricing_kernels import CACHE, PRANGE
from pricing_kernels.index_step import (has_jumps, index_diffusion, index_jumps, jump_scratch,
                                        jump_start)
from pricing_kernels.payoff import LANES
from pricing_kernels.rng import fill_normals4, fill_words, split_seed, uniform_open
from pricing_kernels.vecmath import exp_vec, log_vec

UTIL_STREAM = 100
DEFAULT_STREAM = 200
INCOME, RESIDUAL, BOOK = 0, 1, 2
E_LOG_MAX = 69.0
GH_PAIRS = 5         # gpufin.models.fleet.GH_NODES / 2, fixed so that the pair loop unrolls


@njit(inline="always")
def logistic(y):
    return 1.0 / (1.0 + exp_vec(-y))


@njit(inline="always")
def income_values(i, chi, xi, y, w, log_a, c, d, util_base, pair_s, pair_w, j0, opex_pv, floor,
                  out):
    """Per-GPU income-approach values at date i for a lane group (lanes innermost, so the
    loops vectorize). Gauss-Hermite nodes +-x_k pair
    up: with E = e^{-m} and s_k = 2 cosh(sd x_k),
    logistic(m + sd x_k) + logistic(m - sd x_k) = (2 + E s_k) / (1 + E s_k + E^2);
    one exp per month and one division per pair (|ln E| <= E_LOG_MAX keeps E^2 finite; it
    changes only utilizations below about 1e-14)."""
    n = chi.size
    for lane in range(n):
        out[lane] = 0.0
    for j in range(j0[i], w.shape[1]):
        for lane in range(n):
            level = w[i, j] * exp_vec(log_a[i, j] + c[i, j] * chi[lane] + xi[lane])
            e = exp_vec(min(max(util_base[i, j] - d[i, j] * y[lane], -E_LOG_MAX), E_LOG_MAX))
            util = 0.0
            for k in range(GH_PAIRS):
                s = pair_s[i, j, k]
                util += pair_w[k] * (2.0 + e * s) / (1.0 + e * (s + e))
            out[lane] += level * util
    for lane in range(n):
        out[lane] = max(out[lane] - opex_pv[i], floor)


@njit(cache=CACHE, parallel=PRANGE, error_model="numpy")
def fleet_paths(seed, first_path, n_paths, ix, fleet_args):
    """out[series, path, date] for paths first_path .. first_path + n_paths - 1 of the fleet
    `fleet_args` (a FleetArgs record) on the index `ix` (a TwoFactorArgs record, state form)."""
    k0, k1 = split_seed(seed)
    decay, a11, a21, a22, mu_dt, shift = ix.decay, ix.a11, ix.a21, ix.a22, ix.mu_dt, ix.shift
    chi0, xi0 = ix.chi0, ix.xi0
    theta, y0, u_decay = fleet_args.theta, fleet_args.y0, fleet_args.u_decay
    b1, b2, b3 = fleet_args.b1, fleet_args.b2, fleet_args.b3
    times, hours, fleet, opex = fleet_args.times, fleet_args.hours, fleet_args.fleet, fleet_args.opex
    contracted_cash, share = fleet_args.contracted_cash, fleet_args.share
    start, end, customer = fleet_args.start, fleet_args.end, fleet_args.customer
    hazard, released_cash = fleet_args.hazard, fleet_args.released_cash
    valuation, floor, elasticity = fleet_args.valuation, fleet_args.floor, fleet_args.elasticity
    w, log_a, c, d = fleet_args.w, fleet_args.log_a, fleet_args.c, fleet_args.d
    util_base, pair_s, pair_w = fleet_args.util_base, fleet_args.pair_s, fleet_args.pair_w
    j0, opex_pv = fleet_args.j0, fleet_args.opex_pv
    residual_base, book = fleet_args.residual_base, fleet_args.book
    n_dates = shift.size + 1
    n_contracts = share.size
    jumps = has_jumps(ix)
    out = np.empty((4, n_paths, n_dates))
    n_groups = -(-n_paths // LANES)
    for g in prange(n_groups):
        scratch = jump_scratch(LANES)
        chi = np.empty(LANES)
        xi = np.empty(LANES)
        z1 = np.empty((4, LANES))
        z2 = np.empty((4, LANES))
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        y = np.empty(LANES)
        z3 = np.empty((4, LANES))
        tau = np.empty((max(hazard.size, 1), LANES))
        per_gpu = np.empty(LANES)
        for lane in range(LANES):
            ids[lane] = np.uint64(first_path + g * LANES + lane)
            signs[lane] = 1.0
            chi[lane] = chi0
            xi[lane] = xi0
            y[lane] = y0
        if jumps:
            jump_start(k0, k1, ids, scratch)
        for cu in range(hazard.size):
            fill_words(k0, k1, ids, DEFAULT_STREAM, cu, words)
            for lane in range(LANES):
                tau[cu, lane] = -log_vec(uniform_open(words[0, lane])) / hazard[cu]
        for i in range(n_dates):
            if i > 0:
                s = i - 1
                if s % 4 == 0:
                    fill_normals4(k0, k1, ids, signs, 0, s // 4, z1)
                    fill_normals4(k0, k1, ids, signs, 1, s // 4, z2)
                    fill_normals4(k0, k1, ids, signs, UTIL_STREAM, s // 4, z3)
                r = s % 4
                index_diffusion(s, r, chi, xi, z1, z2, decay, a11, a21, a22, mu_dt)
                if jumps:
                    index_jumps(s, k0, k1, ids, signs, scratch, ix, chi, xi, False)
                for lane in range(LANES):
                    y[lane] = (theta + (y[lane] - theta) * u_decay[s] + b1[s] * z1[r, lane]
                               + b2[s] * z2[r, lane] + b3[s] * z3[r, lane])
            g_shift = shift[i - 1] if i > 0 else 0.0
            if valuation == INCOME:
                income_values(i, chi, xi, y, w, log_a, c, d, util_base, pair_s, pair_w, j0,
                              opex_pv, floor, per_gpu)
            elif valuation == RESIDUAL:
                for lane in range(LANES):
                    per_gpu[lane] = residual_base[i] * exp_vec(elasticity * xi[lane])
            else:
                for lane in range(LANES):
                    per_gpu[lane] = book[i]
            for lane in range(LANES):
                p = g * LANES + lane
                if p >= n_paths:
                    break
                index = exp_vec(g_shift + chi[lane] + xi[lane])
                util = logistic(y[lane])
                cash = 0.0
                if i > 0:
                    contract_rate = 0.0
                    contracted_share = 0.0
                    for ci in range(n_contracts):
                        running = start[ci] < i and i <= end[ci]
                        on = running and tau[customer[ci], lane] > times[i]
                        contract_rate += (contracted_cash[ci] if on else 0.0) + (released_cash[ci] if running else 0.0)
                        contracted_share += share[ci] if on else 0.0
                    margin = contract_rate + (1.0 - contracted_share) * util * index - opex
                    cash = hours[i - 1] * fleet[i] * margin
                out[0, p, i] = index
                out[1, p, i] = util
                out[2, p, i] = cash
                out[3, p, i] = fleet[i] * per_gpu[lane]
    return out
