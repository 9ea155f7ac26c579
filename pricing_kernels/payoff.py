"""Payoff observation shared by every path kernel, one lane group at a time.

A payoff is a strip of averaging periods (one period for a European or an Asian, one
per month for a swap, cap or floor), optionally knocked in or out by a barrier. The
Python side (gpufin.engines.montecarlo.payoff_arrays) turns an instrument into these arrays once:

step arrays (length n_steps, event at the end of step i):
    fix_weight[i]   weight of the fixing at step i in its period average (1 / total fixings)
    close_period[i] period whose average is complete at the end of step i, or -1
    step_df[i]      discount factor at the end of step i (rebates paid at the hit)
period arrays (length n_periods):
    strike, omega (+1 call, -1 put), linear (1: pays omega*(A-K), no max),
    pay_df (discount factor of the payment), known_arith / known_geo (the part of the
    arithmetic average / of the mean log already fixed: past and time-0 fixings)
scalars in `flags`: GEOMETRIC (payoff on the geometric average), BARRIER_DIR (+1 up,
    -1 down, 0 none), KNOCK_IN, BRIDGE (continuous barrier), AVERAGER (the payoff whose
    running averages this one reads: itself, or an earlier one with the same fixing
    schedule), and in `levels`: LOG_BARRIER, REBATE, REBATE_DF_EXPIRY.
Several payoffs are stacked along a leading axis; per step, (ptr, q) lists name the
payoffs with a fixing (averagers only), a period close or a barrier check at that step
(gpufin.engines.montecarlo.stack_payoffs).
The control variate of each path is the same strip paid on geometric averages.
"""
import numpy as np
from numba import njit

from pricing_kernels import CALLED
from pricing_kernels.rng import uniform_open
from pricing_kernels.vecmath import exp_vec

LANES = 16          # paths advanced together; loops over lanes vectorize
BLOCK = 1024        # paths per block: the unit of threading, chunking and summation
N_STATS = 6         # per block: count, sum Y, sum Y^2, sum X, sum X^2, sum XY

# acc rows (per lane)
ARITH, GEO, TOTAL, CV, HIT, HIT_DF = 0, 1, 2, 3, 4, 5
N_ACC = 6
# flags
GEOMETRIC, BARRIER_DIR, KNOCK_IN, BRIDGE, AVERAGER = 0, 1, 2, 3, 4
N_FLAGS = 5
# levels
LOG_BARRIER, REBATE, REBATE_DF_EXPIRY = 0, 1, 2


@njit(inline="always")
def observe_barrier(i, q, logs, acc, step_df, flags, levels):
    """Payoff q's barrier check at the end of step i."""
    b = levels[q, LOG_BARRIER]
    up = flags[q, BARRIER_DIR] > 0
    df = step_df[i]
    for lane in range(logs.size):
        crossed = logs[lane] >= b if up else logs[lane] <= b
        first = crossed and acc[q, HIT, lane] == 0.0
        acc[q, HIT_DF, lane] = df if first else acc[q, HIT_DF, lane]
        acc[q, HIT, lane] = 1.0 if crossed else acc[q, HIT, lane]


@njit(inline="always")
def observe_fixing(i, q, logs, spots, acc, fix_weight):
    """Add the fixing at the end of step i to payoff q's running averages."""
    w = fix_weight[q, i]
    for lane in range(logs.size):
        acc[q, ARITH, lane] += w * spots[lane]
        acc[q, GEO, lane] += w * logs[lane]


@njit(inline="always")
def close_terms(i, q, close_period, strike, omega, linear, pay_df, flags):
    """The period p of payoff q closing at the end of step i (-1: none, the rest then unset)
    and its terms: r, the payoff whose running averages it reads (flags[q, AVERAGER]), the
    strike, omega, the payment's discount factor, linear and geometric."""
    p = close_period[q, i]
    if p < 0:
        return p, q, 0.0, 0.0, 0.0, False, False
    return (p, flags[q, AVERAGER], strike[q, p], omega[q, p], pay_df[q, p], linear[q, p] != 0,
            flags[q, GEOMETRIC] != 0)


@njit(**CALLED)
def observe_close(i, q, acc, close_period, strike, omega, linear, pay_df, known_arith, known_geo,
                  flags):
    """Pay payoff q's period closing at the end of step i, from the running averages of
    payoff flags[q, AVERAGER]."""
    p, r, k, om, df, lin, geometric = close_terms(i, q, close_period, strike, omega, linear,
                                                  pay_df, flags)
    if p < 0:
        return
    for lane in range(acc.shape[2]):
        a = known_arith[q, p] + acc[r, ARITH, lane]
        g = exp_vec(known_geo[q, p] + acc[r, GEO, lane])
        avg = g if geometric else a
        intrinsic = om * (avg - k)
        acc[q, TOTAL, lane] += df * (intrinsic if lin else max(intrinsic, 0.0))
        acc[q, CV, lane] += df * max(om * (g - k), 0.0)


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
    add_samples(stats, acc, TOTAL, CV, sample_count(acc.shape[1], first_path, n_paths, antithetic),
                antithetic)


@njit(inline="always")
def sample_count(lanes, first_path, n_paths, antithetic):
    """Samples of a lane group that fall before the last path: one per lane, or one per
    antithetic pair (lanes `lane` and `lane + lanes // 2`)."""
    if antithetic:
        return min(lanes // 2, (n_paths - first_path + 1) // 2)
    return min(lanes, n_paths - first_path)


@njit(inline="always")
def lane_sample(acc, row, lane, antithetic):
    """Sample `lane` of an acc row: the lane's value, or the mean of its antithetic pair."""
    if antithetic:
        return 0.5 * (acc[row, lane] + acc[row, lane + acc.shape[1] // 2])
    return acc[row, lane]


@njit(inline="always")
def add_samples(stats, acc, y_row, x_row, count, antithetic):
    """Add the samples y (acc row y_row) and their control variates x (row x_row) of lanes
    0 .. count - 1 to the N_STATS sums (count, Y, Y^2, X, X^2, XY), in lane order; the sums
    stay in registers through the loop (stored once, not once per lane)."""
    n, sum_y, sum_yy, sum_x, sum_xx, sum_xy = stats[0], stats[1], stats[2], stats[3], stats[4], stats[5]
    for lane in range(count):
        y = lane_sample(acc, y_row, lane, antithetic)
        x = lane_sample(acc, x_row, lane, antithetic)
        n += 1.0
        sum_y += y
        sum_yy += y * y
        sum_x += x
        sum_xx += x * x
        sum_xy += x * y
    stats[0], stats[1], stats[2], stats[3], stats[4], stats[5] = n, sum_y, sum_yy, sum_x, sum_xx, sum_xy


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

@njit(**CALLED)
def start_group(block, g, n_paths, antithetic, path_ids, signs, acc):
    """First path of lane group g of `block` with its path ids and signs set and its payoff
    sums cleared, or -1 when the group starts past the last path (a call: once a lane group)."""
    group = block * (BLOCK // LANES) + g
    first_path = group * LANES
    if first_path >= n_paths:
        return -1
    lane_ids(group, antithetic, path_ids, signs)
    reset_all(acc)
    return first_path


@njit(inline="always")
def reset_all(acc):
    """Clear the sums of every payoff of a lane group."""
    for q in range(acc.shape[0]):
        clear_rows(acc[q])


@njit(inline="always")
def clear_rows(a):
    """Set a 2-d array to zero (a loop: a slice assignment would compile NumPy's fill
    functions with every kernel, for no speed)."""
    for row in range(a.shape[0]):
        for lane in range(a.shape[1]):
            a[row, lane] = 0.0


@njit(inline="always")
def any_flag(flags, column):
    """Whether some payoff q has flags[q, column] != 0 (a loop: np.max would compile NumPy's
    reduction functions with every kernel)."""
    some = False
    for q in range(flags.shape[0]):
        some = some or flags[q, column] != 0
    return some


@njit(inline="always")
def observe_barriers(i, logs, acc, payoff):
    """The discrete barrier checks at the end of step i."""
    for n in range(payoff.monitor_ptr[i], payoff.monitor_ptr[i + 1]):
        observe_barrier(i, payoff.monitor_q[n], logs, acc, payoff.step_df, payoff.flags,
                        payoff.levels)


@njit(inline="always")
def fixes_at(i, payoff):
    """Whether a payoff fixes at the end of step i. The kernel bodies then set spots = e^logs
    in the lane loop that ends the step: in a lane loop of its own, the exponential and the
    running sums cost about three times as much, which left a GBM Asian at 0.62 of the
    speed-of-light kernel of bench/bench_light.py per core (0.89 with it)."""
    return payoff.fix_ptr[i + 1] > payoff.fix_ptr[i]


@njit(inline="always")
def observe_fixings(i, logs, spots, acc, payoff):
    """The fixings at the end of step i (spots = e^logs on steps with one, see fixes_at)."""
    for n in range(payoff.fix_ptr[i], payoff.fix_ptr[i + 1]):
        observe_fixing(i, payoff.fix_q[n], logs, spots, acc, payoff.fix_weight)


@njit(inline="always")
def observe_closes(i, acc, payoff):
    """The period closes at the end of step i."""
    for n in range(payoff.close_ptr[i], payoff.close_ptr[i + 1]):
        observe_close(i, payoff.close_q[n], acc, payoff.close_period, payoff.strike, payoff.omega,
                      payoff.linear, payoff.pay_df, payoff.known_arith, payoff.known_geo,
                      payoff.flags)


@njit(inline="always")
def reset_averages(i, acc, payoff, row_a, row_b):
    """Clear rows row_a and row_b (running sums over a period) of the averagers whose period
    closed at the end of step i."""
    for n in range(payoff.close_ptr[i], payoff.close_ptr[i + 1]):
        q = payoff.close_q[n]
        if payoff.flags[q, AVERAGER] == q:
            for lane in range(acc.shape[2]):
                acc[q, row_a, lane] = 0.0
                acc[q, row_b, lane] = 0.0


@njit(**CALLED)
def bridge_all(acc, log_starts, log_ends, flags, levels, variance, words, df):
    """Brownian-bridge crossings of every continuously monitored payoff over one step, one
    uniform per path (from words[lane])."""
    for q in range(acc.shape[0]):
        if flags[q, BRIDGE] == 0:
            continue
        for lane in range(log_starts.size):
            if bridge_hit(acc[q], lane, log_starts[lane], log_ends[lane], levels[q, LOG_BARRIER],
                          flags[q, BARRIER_DIR] > 0, variance, uniform_open(words[lane])):
                acc[q, HIT, lane] = 1.0
                acc[q, HIT_DF, lane] = df


@njit(**CALLED)
def settle_accumulate_all(acc, flags, levels, first_path, n_paths, antithetic, stats, b):
    for q in range(acc.shape[0]):
        settle_barrier(acc[q], flags[q], levels[q])
        accumulate_stats(acc[q], first_path, n_paths, antithetic, stats[q, b])


# ---- the hooks of the shared kernel bodies (lognormal.lognormal_kernel,
# two_factor.two_factor_kernel) that make them price kernels; pricing_kernels.pathwise has
# the hooks that add the pathwise Greeks -------------------------------------------------------

@njit(inline="always")
def no_tangent(i, row, z, tangent, model, vega):
    """No derivative of the path is carried."""


@njit(inline="always")
def observe_prices(i, logs, spots, tangent, acc, payoff, pathwise):
    """Record the barrier checks, fixings and period closes of every payoff (a PayoffArgs
    record, pricing_kernels.records) at the end of step i. The payoffs with an event at step i
    are listed by step (x_q[x_ptr[i]:x_ptr[i+1]]), so a step costs nothing for payoffs without
    one. Payoffs with the same fixing schedule share the running averages of the first of them
    (flags[q, AVERAGER], the only one listed in fix_q); the index level is computed once for
    all (spots is scratch; tangent and pathwise unused). The hook itself holds the four steps:
    behind a wrapper, numba's inlining would copy their expanded IR once more per kernel."""
    observe_barriers(i, logs, acc, payoff)
    observe_fixings(i, logs, spots, acc, payoff)
    observe_closes(i, acc, payoff)
    reset_averages(i, acc, payoff, ARITH, GEO)


@njit(inline="always")
def settle_prices(acc, payoff, pathwise, first_path, n_paths, antithetic, stats, b):
    """settle_accumulate_all (pathwise unused)."""
    settle_accumulate_all(acc, payoff.flags, payoff.levels, first_path, n_paths, antithetic,
                          stats, b)
