"""Payoff observation shared by every path kernel, one lane group at a time.

A payoff is a strip of averaging periods (one period for a European or an Asian, one
per month for a swap, cap or floor), optionally knocked in or out by a barrier. The
Python side (gpufin.plan) turns an instrument into these arrays once:

step arrays (length n_steps, event at the end of step i):
    fix_period[i]   period fixed at the end of step i, or -1
    fix_weight[i]   weight of that fixing in its period average (1 / total fixings)
    close_period[i] period whose average is complete at the end of step i, or -1
    monitor[i]      1 when the barrier is checked at the end of step i
    step_df[i]      discount factor at the end of step i (rebates paid at the hit)
period arrays (length n_periods):
    strike, omega (+1 call, -1 put), linear (1: pays omega*(A-K), no max),
    pay_df (discount factor of the payment), known_arith / known_geo (the part of the
    arithmetic average / of the mean log already fixed: past and time-0 fixings)
scalars in `flags`: GEOMETRIC (payoff on the geometric average), BARRIER_DIR (+1 up,
    -1 down, 0 none), KNOCK_IN, and in `levels`: LOG_BARRIER, REBATE, REBATE_DF_EXPIRY.
The control variate of each path is the same strip paid on geometric averages.
"""
import numpy as np
from numba import njit

from pricing_kernels.vecmath import exp_vec

LANES = 16          # paths advanced together; loops over lanes vectorize
BLOCK = 1024        # paths per block: the unit of threading, chunking and summation
N_STATS = 6         # per block: count, sum Y, sum Y^2, sum X, sum X^2, sum XY

# acc rows (per lane)
ARITH, GEO, TOTAL, CV, HIT, HIT_DF = 0, 1, 2, 3, 4, 5
N_ACC = 6
# flags
GEOMETRIC, BARRIER_DIR, KNOCK_IN, BRIDGE = 0, 1, 2, 3
# levels
LOG_BARRIER, REBATE, REBATE_DF_EXPIRY = 0, 1, 2


@njit(inline="always")
def reset(acc):
    for r in range(N_ACC):
        for lane in range(acc.shape[1]):
            acc[r, lane] = 0.0


@njit(inline="always")
def observe(i, logs, acc, fix_period, fix_weight, close_period, monitor, step_df,
            strike, omega, linear, pay_df, known_arith, known_geo, flags, levels):
    """Record the fixings, barrier checks and period closes at the end of step i."""
    n = logs.size
    if monitor[i] != 0:
        b = levels[LOG_BARRIER]
        up = flags[BARRIER_DIR] > 0
        df = step_df[i]
        for lane in range(n):
            crossed = logs[lane] >= b if up else logs[lane] <= b
            first = crossed and acc[HIT, lane] == 0.0
            acc[HIT_DF, lane] = df if first else acc[HIT_DF, lane]
            acc[HIT, lane] = 1.0 if crossed else acc[HIT, lane]
    p = fix_period[i]
    if p >= 0:
        w = fix_weight[i]
        for lane in range(n):
            acc[ARITH, lane] += w * exp_vec(logs[lane])
            acc[GEO, lane] += w * logs[lane]
    p = close_period[i]
    if p >= 0:
        k = strike[p]
        om = omega[p]
        df = pay_df[p]
        lin = linear[p] != 0
        geometric = flags[GEOMETRIC] != 0
        for lane in range(n):
            a = known_arith[p] + acc[ARITH, lane]
            g = exp_vec(known_geo[p] + acc[GEO, lane])
            avg = g if geometric else a
            intrinsic = om * (avg - k)
            acc[TOTAL, lane] += df * (intrinsic if lin else max(intrinsic, 0.0))
            acc[CV, lane] += df * max(om * (g - k), 0.0)
            acc[ARITH, lane] = 0.0
            acc[GEO, lane] = 0.0


@njit(inline="always")
def bridge_hit(acc, lane, log_start, log_end, log_barrier, up, variance, u):
    """Brownian-bridge crossing between two checks: P = exp(-2 (x0-b)(x1-b) / variance)."""
    d0 = log_start - log_barrier
    d1 = log_end - log_barrier
    same_side = (d0 < 0.0 and d1 < 0.0) if up else (d0 > 0.0 and d1 > 0.0)
    prob = np.exp(-2.0 * d0 * d1 / variance) if (same_side and variance > 0.0) else 0.0
    return u < prob and acc[HIT, lane] == 0.0


@njit(inline="always")
def settle_barrier(acc, flags, levels):
    """Replace knocked-out (or never knocked-in) payoffs by the rebate."""
    if flags[BARRIER_DIR] == 0:
        return
    rebate = levels[REBATE]
    knock_in = flags[KNOCK_IN] != 0
    for lane in range(acc.shape[1]):
        hit = acc[HIT, lane] != 0.0
        if knock_in:
            paid = acc[TOTAL, lane] if hit else rebate * levels[REBATE_DF_EXPIRY]
        else:
            paid = rebate * acc[HIT_DF, lane] if hit else acc[TOTAL, lane]
        acc[TOTAL, lane] = paid


@njit(inline="always")
def accumulate_stats(acc, first_path, n_paths, antithetic, stats):
    """Add this lane group's samples to its block's sums (antithetic pairs count as one)."""
    n = acc.shape[1]
    if antithetic:
        half = n // 2
        for lane in range(half):
            if first_path + 2 * lane < n_paths:
                y = 0.5 * (acc[TOTAL, lane] + acc[TOTAL, lane + half])
                x = 0.5 * (acc[CV, lane] + acc[CV, lane + half])
                _add(stats, y, x)
    else:
        for lane in range(n):
            if first_path + lane < n_paths:
                _add(stats, acc[TOTAL, lane], acc[CV, lane])


@njit(inline="always")
def _add(stats, y, x):
    stats[0] += 1.0
    stats[1] += y
    stats[2] += y * y
    stats[3] += x
    stats[4] += x * x
    stats[5] += x * y


@njit(inline="always")
def lane_ids(group, antithetic, path_ids, signs):
    """Random-stream path ids of one lane group; antithetic partners reuse ids with sign -1."""
    n = path_ids.size
    if antithetic:
        half = n // 2
        for lane in range(n):
            path_ids[lane] = np.uint64(group * half + (lane % half))
            signs[lane] = -1.0 if lane >= half else 1.0
    else:
        for lane in range(n):
            path_ids[lane] = np.uint64(group * n + lane)
            signs[lane] = 1.0


# ---- several payoffs on the same paths (arrays stacked along a leading payoff axis) ----------

@njit(inline="always")
def reset_all(acc):
    for q in range(acc.shape[0]):
        reset(acc[q])


@njit(inline="always")
def observe_all(i, logs, acc, fix_period, fix_weight, close_period, monitor, step_df,
                strike, omega, linear, pay_df, known_arith, known_geo, flags, levels):
    for q in range(acc.shape[0]):
        observe(i, logs, acc[q], fix_period[q], fix_weight[q], close_period[q], monitor[q], step_df,
                strike[q], omega[q], linear[q], pay_df[q], known_arith[q], known_geo[q], flags[q],
                levels[q])


@njit(inline="always")
def bridge_all(acc, lane, log_start, log_end, flags, levels, variance, u, df):
    """Brownian-bridge crossings of every continuously monitored payoff, one uniform per step."""
    for q in range(acc.shape[0]):
        if flags[q, BRIDGE] != 0 and bridge_hit(acc[q], lane, log_start, log_end,
                                               levels[q, LOG_BARRIER], flags[q, BARRIER_DIR] > 0,
                                               variance, u):
            acc[q, HIT, lane] = 1.0
            acc[q, HIT_DF, lane] = df


@njit(inline="always")
def settle_accumulate_all(acc, flags, levels, first_path, n_paths, antithetic, stats, b):
    for q in range(acc.shape[0]):
        settle_barrier(acc[q], flags[q], levels[q])
        accumulate_stats(acc[q], first_path, n_paths, antithetic, stats[q, b])
