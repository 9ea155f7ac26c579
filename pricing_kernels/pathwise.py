"""Pathwise delta and vega in the same pass as the price (Glasserman, Monte Carlo Methods in
Financial Engineering, 2004, section 7.2).

A payoff pays sum_p DF_p f_p(A_p) with f(A) = omega (A - K) or max(omega (A - K), 0), Lipschitz
in the period average A, so the derivative may go inside the expectation:
dV/dtheta = E[sum_p DF_p f_p'(A_p) dA_p/dtheta], f' = omega, times 1{omega (A - K) > 0} for
an option.
- delta: every index model scales its whole path with the spot (d S_t / d ln S_0 = S_t), so
  dA/d ln S_0 = A less the past fixings' part (arithmetic), or G times the share of prints
  that move with the spot (geometric); PathwiseArgs tells the parts apart. The kernels sum
  dV/d ln S_0; gpufin divides by the spot.
- vega: each path carries D = d ln S_t / d vol (tangent[0]). GBM and Merton: D += d drift +
  d vol x Z each step, i.e. D_t = W_t - sigma t (jumps do not move with sigma). Schwartz and
  Schwartz-Smith (the innovations form, whose gains and standard deviations depend on
  sigma_chi): dX += (decay - 1) dc + d sd x Z, dc <- decay dc + d gain x Z, D = d shift + dX.
  Then dA/dvol = sum_i w_i S_i D_i (arithmetic) or G sum_i w_i D_i (geometric).
The control variate of the price (the same strip paid on geometric averages) gives each
Greek its own: the geometric strip's pathwise delta and vega, whose means have closed forms
under GBM. Barrier payoffs are not Lipschitz in the path: their sums here are computed and
not used (gpufin bumps them).

acc rows after pricing_kernels.payoff's: VEGA_ARITH and VEGA_GEO (running sums of a period,
cleared as ARITH and GEO are), DELTA and VEGA (the path's sums over periods), CV_DELTA and
CV_VEGA (those of the control variate). stats per payoff: three blocks of N_STATS sums
(count, Y, Y^2, X, X^2, XY): the price's, bit for bit as the price kernels form them, then
delta's and vega's, each with its control variate.
"""
from numba import njit

from pricing_kernels.lognormal import gbm_step, jump_bridge_step, lognormal_kernel
from pricing_kernels.payoff import (ARITH, CV, GEO, N_ACC, N_STATS, TOTAL, add_samples,
                                    close_terms, observe_barriers, observe_fixings,
                                    reset_averages, sample_count, settle_accumulate_all)
from pricing_kernels.threads import block_sums, range_kernel
from pricing_kernels.two_factor import event_step, plain_step, two_factor_kernel
from pricing_kernels.vecmath import exp_vec

VEGA_ARITH, VEGA_GEO, DELTA, VEGA, CV_DELTA, CV_VEGA = range(N_ACC, N_ACC + 6)
N_ACC_GREEKS = N_ACC + 6
DELTA_STATS, VEGA_STATS = N_STATS, 2 * N_STATS     # where each Greek's block of sums starts
N_STATS_GREEKS = 3 * N_STATS


@njit(inline="always")
def lognormal_tangent(i, row, z, d, model, vega):
    """d ln S / d sigma over step i (a LognormalVega record)."""
    for lane in range(d.shape[1]):
        d[0, lane] += vega.drift[i] + vega.vol[i] * z[row, lane]


@njit(inline="always")
def two_factor_tangent(i, row, z, d, model, vega):
    """d X and d c over step i (innovations form, a TwoFactorVega record), and d ln S."""
    decay = model.decay[i]
    for lane in range(d.shape[1]):
        dx = d[1, lane] + (decay - 1.0) * d[2, lane] + vega.innovation_sd[i] * z[row, lane]
        d[2, lane] = decay * d[2, lane] + vega.gain[i] * z[row, lane]
        d[1, lane] = dx
        d[0, lane] = vega.shift[i] + dx


@njit(inline="always")
def fix_tangent(i, q, spots, d, acc, fix_weight):
    """Add the fixing at the end of step i to payoff q's running derivative sums."""
    w = fix_weight[q, i]
    for lane in range(spots.size):
        acc[q, VEGA_ARITH, lane] += w * spots[lane] * d[0, lane]
        acc[q, VEGA_GEO, lane] += w * d[0, lane]


@njit
def close_with_greeks(i, q, acc, close_period, strike, omega, linear, pay_df, known_arith,
                      known_geo, flags, spot_arith, spot_share):
    """Pay payoff q's period closing at the end of step i as pricing_kernels.payoff's
    observe_close does (the same operations, so the same bits), and add its delta and vega
    and those of its control variate, from the same geometric average (one exponential per
    lane for both)."""
    p, r, k, om, df, lin, geometric = close_terms(i, q, close_period, strike, omega, linear,
                                                  pay_df, flags)
    if p < 0:
        return
    for lane in range(acc.shape[2]):
        a = known_arith[q, p] + acc[r, ARITH, lane]
        g = exp_vec(known_geo[q, p] + acc[r, GEO, lane])
        avg = g if geometric else a
        intrinsic = om * (avg - k)
        cv_intrinsic = om * (g - k)
        acc[q, TOTAL, lane] += df * (intrinsic if lin else max(intrinsic, 0.0))
        acc[q, CV, lane] += df * max(cv_intrinsic, 0.0)
        slope = om * df if (lin or intrinsic > 0.0) else 0.0
        cv_slope = om * df if cv_intrinsic > 0.0 else 0.0
        geo_spot_move = g * spot_share[q, p]
        geo_vol_move = g * acc[r, VEGA_GEO, lane]
        spot_move = geo_spot_move if geometric else spot_arith[q, p] + acc[r, ARITH, lane]
        vol_move = geo_vol_move if geometric else acc[r, VEGA_ARITH, lane]
        acc[q, DELTA, lane] += slope * spot_move
        acc[q, VEGA, lane] += slope * vol_move
        acc[q, CV_DELTA, lane] += cv_slope * geo_spot_move
        acc[q, CV_VEGA, lane] += cv_slope * geo_vol_move


@njit(inline="always")
def observe_greeks(i, logs, spots, d, acc, payoff, pathwise):
    """pricing_kernels.payoff.observe_prices (the same operations in the same order), with each
    fixing's derivative and each close's delta and vega (pathwise, a PathwiseArgs record)."""
    observe_barriers(i, logs, acc, payoff)
    observe_fixings(i, logs, spots, acc, payoff)
    for n in range(payoff.fix_ptr[i], payoff.fix_ptr[i + 1]):
        fix_tangent(i, payoff.fix_q[n], spots, d, acc, payoff.fix_weight)
    for n in range(payoff.close_ptr[i], payoff.close_ptr[i + 1]):
        close_with_greeks(i, payoff.close_q[n], acc, payoff.close_period, payoff.strike,
                          payoff.omega, payoff.linear, payoff.pay_df, payoff.known_arith,
                          payoff.known_geo, payoff.flags, pathwise.spot_arith, pathwise.spot_share)
    reset_averages(i, acc, payoff, ARITH, GEO)
    reset_averages(i, acc, payoff, VEGA_ARITH, VEGA_GEO)


@njit
def accumulate_greeks(acc, first_path, n_paths, antithetic, stats, b):
    """Add each payoff's delta and vega samples (and their control variates') of this lane
    group to its block's sums."""
    count = sample_count(acc.shape[2], first_path, n_paths, antithetic)
    for q in range(acc.shape[0]):
        add_samples(stats[q, b, DELTA_STATS:DELTA_STATS + N_STATS], acc[q], DELTA, CV_DELTA, count,
                    antithetic)
        add_samples(stats[q, b, VEGA_STATS:VEGA_STATS + N_STATS], acc[q], VEGA, CV_VEGA, count,
                    antithetic)


@njit(inline="always")
def settle_greeks(acc, payoff, pathwise, first_path, n_paths, antithetic, stats, b):
    """The price kernels' sums, then the Greeks'."""
    settle_accumulate_all(acc, payoff.flags, payoff.levels, first_path, n_paths, antithetic,
                          stats, b)
    accumulate_greeks(acc, first_path, n_paths, antithetic, stats, b)


@range_kernel
def lognormal_greek_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff,
                           vega, pathwise):
    """The sums of lognormal_greek_stats for blocks lo .. hi - 1."""
    lognormal_kernel(gbm_step, lognormal_tangent, observe_greeks, settle_greeks, N_ACC_GREEKS, lo,
                     hi, stats, seed, n_paths, first_block, antithetic, model, payoff, vega, pathwise)


@range_kernel
def lognormal_event_greek_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model,
                                 payoff, vega, pathwise):
    """The sums of lognormal_event_greek_stats for blocks lo .. hi - 1."""
    lognormal_kernel(jump_bridge_step, lognormal_tangent, observe_greeks, settle_greeks,
                     N_ACC_GREEKS, lo, hi, stats, seed, n_paths, first_block, antithetic, model,
                     payoff, vega, pathwise)


@range_kernel
def two_factor_greek_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff,
                            vega, pathwise):
    """The sums of two_factor_greek_stats for blocks lo .. hi - 1."""
    two_factor_kernel(plain_step, two_factor_tangent, observe_greeks, settle_greeks, N_ACC_GREEKS,
                      lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff, vega,
                      pathwise)


@range_kernel
def two_factor_event_greek_blocks(lo, hi, stats, seed, n_paths, first_block, antithetic, model,
                                  payoff, vega, pathwise):
    """The sums of two_factor_event_greek_stats for blocks lo .. hi - 1."""
    two_factor_kernel(event_step, two_factor_tangent, observe_greeks, settle_greeks, N_ACC_GREEKS,
                      lo, hi, stats, seed, n_paths, first_block, antithetic, model, payoff, vega,
                      pathwise)


def lognormal_greek_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff, vega,
                          pathwise):
    """pricing_kernels.lognormal.lognormal_stats with the sums of the pathwise delta and vega
    (`vega` a LognormalVega record, `pathwise` a PathwiseArgs record)."""
    return block_sums(lognormal_greek_blocks, N_STATS_GREEKS, n_blocks, seed, n_paths,
                      first_block, antithetic, model, payoff, vega, pathwise)


def lognormal_event_greek_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff,
                                vega, pathwise):
    """lognormal_greek_stats with Merton jumps or Brownian-bridge barrier checks."""
    return block_sums(lognormal_event_greek_blocks, N_STATS_GREEKS, n_blocks, seed, n_paths,
                      first_block, antithetic, model, payoff, vega, pathwise)


def two_factor_greek_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff, vega,
                           pathwise):
    """pricing_kernels.two_factor.two_factor_stats with the sums of the pathwise delta and vega
    (`vega` a TwoFactorVega record, `pathwise` a PathwiseArgs record)."""
    return block_sums(two_factor_greek_blocks, N_STATS_GREEKS, n_blocks, seed, n_paths,
                      first_block, antithetic, model, payoff, vega, pathwise)


def two_factor_event_greek_stats(seed, n_paths, first_block, n_blocks, antithetic, model, payoff,
                                 vega, pathwise):
    """two_factor_greek_stats with launch jumps, shortage spikes or Brownian-bridge barrier
    checks."""
    return block_sums(two_factor_event_greek_blocks, N_STATS_GREEKS, n_blocks, seed, n_paths,
                      first_block, antithetic, model, payoff, vega, pathwise)
