"""The waterfall of a GPU-backed loan on collateral paths (gpufin.engines.loan prepares the arrays).

Per path, along the grid i = 0..last (the valuation date, every month, every payment and
draw date): interest (ACT/360, all-in rate of the period) and the commitment fee accrue,
operating cash accumulates, draws fund the loan, the LTV covenant is tested (at flagged
dates, or continuously with a Brownian-bridge crossing probability of the collateral's log
value). At payment k: DSCR = operating cash of the period / debt service due; the
waterfall pays interest and scheduled principal from cash, then the reserve, tops the
reserve (funded at closing with `reserve0`) up to `reserve_periods` x debt service, sweeps `sweep_share` of what is left into
prepayment, and releases the rest to equity. At maturity the balloon is met from cash, the
reserve and the collateral's sale or refinancing value x (1 - haircut).
The commitment fee accrues on the undrawn amount until the last draw date (`fee_until`).
Default (debt service due and not covered by cash and the reserve, DSCR below its trigger,
LTV above its trigger, or an uncovered balloon) at grid date i: the lender recovers
min(claim, value at the first grid date on or after i + lag x (1 - haircut) + positive
cash on hand + reserve), discounted from i + lag; claim = principal + accrued interest and
fees. A loan repaid in full with no draw left ends there.
With `sponsor` set (index collateral, no operating cash) debt service is paid by the
sponsor and only the covenants and the balloon can default.
out[path]: PV receipts, PV draws, defaulted, default time, PV loss, PV claim, sum t x
principal repaid, principal repaid. ltv/dscr[path, k]: at payment k (NaN after default).
"""
import math

import numpy as np
from numba import njit, prange

from pricing_kernels import CACHE, PRANGE
from pricing_kernels.rng import philox4x32, split_seed, uniform_open

BULLET, LINEAR, ANNUITY, SCULPTED, SWEEP = 0, 1, 2, 3, 4
BRIDGE_STREAM = 300
N_OUT = 8


@njit(inline="always")
def scheduled_principal(kind, k, n_pay, start, outstanding, period_rate, sculpted):
    """Principal due at payment k (0-based) before any balloon."""
    if k < start or outstanding <= 0.0:
        return 0.0
    remaining = n_pay - k
    if kind == LINEAR:
        return outstanding / remaining
    if kind == ANNUITY:
        r = period_rate[k]
        if r <= 0.0:
            return outstanding / remaining
        return outstanding * r / (1.0 - (1.0 + r) ** (-remaining)) - outstanding * r
    if kind == SCULPTED:
        return min(sculpted[k], outstanding)
    return 0.0


@njit(cache=CACHE, parallel=PRANGE)
def loan_paths(seed, first_path, cash, value, loan):
    """The waterfall of `loan` (a LoanArgs record, pricing_kernels.records) on the collateral
    paths cash[path, date] and value[path, date]: (out, ltv, dscr) as above."""
    times, df, accrual, rate, draws = loan.times, loan.df, loan.accrual, loan.rate, loan.draws
    fee, commitment, fee_until = loan.fee, loan.commitment, loan.fee_until
    pay_index, period_rate, sculpted = loan.pay_index, loan.period_rate, loan.sculpted
    amortization, amort_start = loan.amortization, loan.amort_start
    sweep_share, reserve_periods, reserve0 = loan.sweep_share, loan.reserve_periods, loan.reserve0
    ltv_trigger, ltv_test, continuous = loan.ltv_trigger, loan.ltv_test, loan.continuous
    bridge_var, dscr_trigger, haircut = loan.bridge_var, loan.dscr_trigger, loan.haircut
    lag_index, lag_df, sponsor = loan.lag_index, loan.lag_df, loan.sponsor
    n_paths = cash.shape[0]
    n_pay = pay_index.size
    last = pay_index[-1]
    k0, k1 = split_seed(seed)
    out = np.zeros((n_paths, N_OUT))
    ltv = np.full((n_paths, n_pay), np.nan)
    dscr = np.full((n_paths, n_pay), np.nan)
    for p in prange(n_paths):
        path_id = np.uint64(first_path + p)
        outstanding = 0.0
        undrawn = commitment
        accrued = 0.0
        on_hand = 0.0        # operating cash of the current period
        reserve = reserve0
        receipts = 0.0
        pv_draws = 0.0
        k = 0
        default_at = -1
        for i in range(last + 1):
            if i > 0:
                committed = undrawn if i <= fee_until else 0.0
                accrued += (outstanding * rate[i] + committed * fee) * accrual[i]
                on_hand += cash[p, i]
                if continuous and outstanding > 0.0:
                    barrier = outstanding / ltv_trigger
                    v0, v1 = value[p, i - 1], value[p, i]
                    if v0 > barrier and v1 > barrier and bridge_var[i] > 0.0:
                        w = philox4x32(np.uint64(i), path_id & np.uint64(0xFFFFFFFF),
                                       path_id >> np.uint64(32), np.uint64(BRIDGE_STREAM), k0, k1)
                        crossing = math.exp(-2.0 * math.log(v0 / barrier) * math.log(v1 / barrier)
                                            / bridge_var[i])
                        if uniform_open(w[0]) < crossing:
                            default_at = i
                            break
            if draws[i] > 0.0:
                outstanding += draws[i]
                undrawn -= draws[i]
                pv_draws += df[i] * draws[i]
            if i == pay_index[k]:
                ltv[p, k] = outstanding / value[p, i] if value[p, i] > 0.0 else np.inf
            if ltv_test[i] and outstanding > ltv_trigger * value[p, i]:
                default_at = i
                break
            if i != pay_index[k]:
                continue
            interest = accrued
            principal = scheduled_principal(amortization, k, n_pay, amort_start, outstanding,
                                            period_rate, sculpted)
            final = i == last
            if final:
                principal = outstanding
            due = interest + (0.0 if final else principal)
            if not sponsor and due > 0.0:
                dscr[p, k] = on_hand / due
                if dscr[p, k] < dscr_trigger:
                    default_at = i
                    break
            if final:
                capacity = value[p, i] * (1.0 - haircut)
                if sponsor:
                    if capacity < principal:
                        default_at = i
                        break
                elif on_hand + reserve + capacity < interest + principal:
                    default_at = i
                    break
                on_hand = 0.0
                reserve = 0.0
            elif not sponsor:
                if on_hand >= due:
                    on_hand -= due
                elif on_hand + reserve >= due:
                    reserve -= due - on_hand
                    on_hand = 0.0
                else:
                    default_at = i
                    break
                top_up = min(on_hand, max(reserve_periods * due - reserve, 0.0))
                reserve += top_up
                on_hand -= top_up
                swept = min(sweep_share * on_hand, outstanding - principal)
                principal += swept
                on_hand = 0.0
            receipts += df[i] * (interest + principal)
            out[p, 6] += times[i] * principal
            out[p, 7] += principal
            outstanding -= principal
            accrued = 0.0
            k += 1
            if outstanding <= 0.0 and i >= fee_until:
                break                  # repaid, and no draw left: the loan is over
        if default_at >= 0:
            i = default_at
            claim = outstanding + accrued
            j = lag_index[i]
            recovered = min(claim, value[p, j] * (1.0 - haircut) + max(on_hand, 0.0) + reserve)
            receipts += lag_df[i] * recovered
            out[p, 2] = 1.0
            out[p, 3] = times[i]
            out[p, 4] = df[i] * claim - lag_df[i] * recovered
            out[p, 5] = df[i] * claim
        else:
            out[p, 3] = np.nan
        out[p, 0] = receipts
        out[p, 1] = pv_draws
    return out, ltv, dscr
