"""The waterfall of a GPU-backed loan on collateral paths (gpufin.engines.loan prepares the
record, pricing_kernels.records.LoanArgs).

Per path, along the grid i = 0..last (the valuation date, every month, every payment and
draw date): interest (all-in rate of the period, on the accrual of each step) and the
commitment fee accrue, operating cash accumulates, draws fund the loan, and the LTV covenant
is tested (at flagged dates, or continuously with a Brownian-bridge crossing probability of
the collateral's log value).

At payment k the debt service due is the interest and the principal of the fixed schedule
(`principal_due[k]`, at most what is outstanding; the whole balance at maturity):
1. DSCR = operating cash / debt service, of the period or, with `ttm_first`, of the payments
   ttm_first[k]..k (the trailing twelve months). Below `dscr_trigger` the reserve may cure
   it: the reserve lifts the period's cash to dscr_trigger x debt service if it can. A DSCR
   still below the trigger is a covenant breach.
2. The debt service is paid from cash, then the cash trap, then the reserve. What cannot be
   paid is a payment default.
3. The reserve is topped up to `reserve_periods` x debt service.
4. With DSCR below `lockup_dscr` the loan is locked up: `lockup_sweep_share` of what is left
   prepays principal and the rest is trapped in the SPV (nothing goes to equity). Otherwise
   `sweep_share` prepays principal and the rest, with any trapped cash, goes to equity.
At maturity the balloon is met from cash, the trap, the reserve and the collateral's sale or
refinancing value x (1 - haircut); a shortfall is a payment default.
Customer prepayments paid to the loan (`prepaid`, per date) are held until the next payment,
where after the debt service and the reserve top-up they prepay principal (before the sweep;
installments fall away from the last, as with a sweep); what the balance cannot take is held
for later payments and, at maturity, meets the balloon with the cash.

A covenant breach (DSCR, or LTV above `ltv_trigger`) ends the loan only with
`accelerate` (default_on = "payment-or-covenant", acceleration = "always"), or with
`lender_optimal` where liquidating beats continuing (liquidation_wins); otherwise it is a
technical breach, recorded by its first time. The commitment fee accrues on the undrawn
amount until the last draw date (`fee_until`). At a default (payment or acceleration) at
grid date i the collateral is sold in n equal tranches, tranche q = 1..n at i + q lag / n:
1/n of the value at the first grid date on or after it x (1 - tranche_haircut), discounted
from i + q lag / n; the lender collects the operating cash (net of opex) of the GPUs not yet
sold until the last sale, and cash on hand + trap + reserve + held prepayments -
workout_cost x claim at i + lag; in PV at most the claim (principal + accrued interest and
fees) discounted from i + lag, and at least 0. A loan repaid in full with no draw left ends
there. With `sponsor` set (index collateral, no operating cash) debt service is paid by the
sponsor and only the covenants and the balloon can default; before the first draw the
sponsor pays the fees due.

With `best_of` the recovery is the larger of the liquidation's and the going concern's
(the lender keeps the SPV running: going[p, i] + the SPV's cash - workout_cost x claim, at i,
at most the claim).
flows[path, date] (only with `cash_by_date`; else flows has no dates): the lender's receipts
in USD at each date, undiscounted: interest, fees and principal where paid, and a default's
recovery (its PV carried forward) at the first date on or after the end of the lag (the going
concern's at the default date), so that sum_i df[i] flows[p, i] is the path's PV receipts
(out[p, RECEIPTS]) up to rounding.
out[path]: PV receipts, PV draws, ended in default (payment or acceleration), its time,
PV loss, PV claim, sum t x principal repaid, principal repaid, payment default (1/0), first
covenant breach time (NaN: none), accelerated (1/0), recovered as a going concern (1/0). ltv/dscr/equity[path, k]: at payment
k (NaN after the loan ended; equity in USD paid to the sponsor at k).
"""
import math

import numpy as np
from numba import njit

from pricing_kernels import CACHE
from pricing_kernels.rng import philox4x32, split_seed, uniform_open
from pricing_kernels.threads import range_kernel, run_ranges

BRIDGE_STREAM = 300
N_OUT = 12
RECEIPTS, DRAWS, ENDED, END_TIME, LOSS, CLAIM, TIME_PRINCIPAL, PRINCIPAL, PAYMENT_DEFAULT, \
    FIRST_BREACH, ACCELERATED, CONTINUED = range(N_OUT)


PARTIALS = 32          # room for partial sums to start with (sums of like magnitudes need few)


@njit(cache=CACHE)
def exact_sum(x):
    """math.fsum(x) of a 1-d float64 array of finite values: the same algorithm (Shewchuk's
    non-overlapping partials, then CPython's round-half-even fix-up across partials), so the
    same correctly rounded double, at compiled speed. A sum that overflows comes back
    infinite (math.fsum raises)."""
    partials = np.empty(PARTIALS)
    n = 0
    for value in x:
        v = value
        m = 0
        for j in range(n):
            y = partials[j]
            if abs(v) < abs(y):
                v, y = y, v
            hi = v + y
            lo = y - (hi - v)
            if lo != 0.0:
                partials[m] = lo
                m += 1
            v = hi
        n = m
        if v != 0.0:
            if n == partials.size:         # up to one partial per bit of the double range
                partials = np.concatenate((partials, np.empty(partials.size)))
            partials[n] = v
            n += 1
    hi = 0.0
    lo = 0.0
    if n > 0:
        n -= 1
        hi = partials[n]
        while n > 0:
            v = hi
            n -= 1
            y = partials[n]
            hi = v + y
            lo = y - (hi - v)
            if lo != 0.0:
                break
        if n > 0 and ((lo < 0.0 and partials[n - 1] < 0.0) or (lo > 0.0 and partials[n - 1] > 0.0)):
            y = lo * 2.0
            v = hi + y
            if y == v - hi:
                hi = v
    return hi


@njit(inline="always")
def bridge_crossed(path_id, i, k0, k1, v0, v1, barrier, variance):
    """Whether the collateral's log value crossed below `barrier` between two grid dates."""
    if not (v0 > barrier and v1 > barrier and variance > 0.0):
        return False
    w = philox4x32(np.uint64(i), path_id & np.uint64(0xFFFFFFFF), path_id >> np.uint64(32),
                   np.uint64(BRIDGE_STREAM), k0, k1)
    crossing = math.exp(-2.0 * math.log(v0 / barrier) * math.log(v1 / barrier) / variance)
    return uniform_open(w[0]) < crossing


@njit(inline="always")
def tranche_proceeds(p, i, value, lag_index, lag_df, tranche_index, tranche_df, haircut):
    """Sale proceeds of the collateral sold in equal tranches after a default at date i, in
    USD at the end of the lag (each earlier tranche carried there from its own sale)."""
    n_sales = tranche_index.shape[1] + 1
    proceeds = value[p, lag_index[i]] * (1.0 - haircut) / n_sales
    for q in range(n_sales - 1):
        proceeds += value[p, tranche_index[i, q]] * (1.0 - haircut) / n_sales * (tranche_df[i, q] / lag_df[i])
    return proceeds


@njit(inline="always")
def workout_cash(p, i, cash, df, lag_index, tranche_index):
    """PV of the operating cash (USD) of the GPUs not yet sold, from a default at date i to
    the last sale."""
    n_sales = tranche_index.shape[1] + 1
    collected = 0.0
    sold = 0
    for m in range(i + 1, lag_index[i] + 1):
        while sold < n_sales - 1 and tranche_index[i, sold] < m:
            sold += 1
        collected += df[m] * cash[p, m] * (1.0 - sold / n_sales)
    return collected


@njit(inline="always")
def liquidation_wins(sale, going, cash, claim, workout, carry, continuing):
    """Lender-optimal acceleration at a covenant breach: whether selling now (the collateral's
    value after the haircut, carried over the lag by `carry` = DF(lag end) / DF(now), plus the
    SPV's cash, less the workout cost; at most the claim) beats letting the loan run: worth
    `continuing` (the rest of the loan if every payment is made) at most, and no more than
    the SPV as a going concern (USD at the breach)."""
    liquidation = min(carry * sale + cash - workout * claim, claim)
    return liquidation >= min(continuing, going + cash - workout * claim)


def loan_paths(seed, first_path, cash, value, going, loan):
    """The waterfall of `loan` (a LoanArgs record, pricing_kernels.records) on the collateral
    paths cash[path, date], value[path, date] and going[path, date] (the going-concern value,
    read only with `best_of` or `lender_optimal`): (out, ltv, dscr, equity, flows) as above."""
    n_paths, n_pay = cash.shape[0], loan.pay_index.size
    out = np.zeros((n_paths, N_OUT))
    ltv, dscr, equity = (np.full((n_paths, n_pay), np.nan) for _ in range(3))
    flows = np.zeros((n_paths, loan.times.size if loan.cash_by_date else 0))
    period_cash = np.zeros((n_paths, n_pay))       # the DSCR window's cash and debt service
    period_due = np.zeros((n_paths, n_pay))
    run_ranges(loan_range, n_paths, out, ltv, dscr, equity, flows, period_cash, period_due, seed,
               first_path, cash, value, going, loan)
    return out, ltv, dscr, equity, flows


@range_kernel(error_model="python")
def loan_range(lo, hi, out, ltv, dscr, equity, flows, period_cash, period_due, seed, first_path,
               cash, value, going, loan):
    """The rows of loan_paths' outputs for paths lo .. hi - 1."""
    times, df, accrual, rate, draws = loan.times, loan.df, loan.accrual, loan.rate, loan.draws
    fee, commitment, fee_until = loan.fee, loan.commitment, loan.fee_until
    pay_index, principal_due, ttm_first = loan.pay_index, loan.principal_due, loan.ttm_first
    sweep_share, lockup_dscr, lockup_sweep = loan.sweep_share, loan.lockup_dscr, loan.lockup_sweep_share
    reserve_periods, reserve0 = loan.reserve_periods, loan.reserve0
    ltv_trigger, ltv_test, continuous = loan.ltv_trigger, loan.ltv_test, loan.continuous
    bridge_var, dscr_trigger, haircut = loan.bridge_var, loan.dscr_trigger, loan.haircut
    lag_index, lag_df, sponsor, accelerate = loan.lag_index, loan.lag_df, loan.sponsor, loan.accelerate
    workout, prepaid = loan.workout_cost, loan.prepaid
    best_of, lender_optimal, observed = loan.best_of, loan.lender_optimal, loan.observed
    tranche_haircut, tranche_index, tranche_df = loan.tranche_haircut, loan.tranche_index, loan.tranche_df
    by_date = loan.cash_by_date
    last = pay_index[-1]
    k0, k1 = split_seed(seed)
    for p in range(lo, hi):
        path_id = np.uint64(first_path + p)
        outstanding = 0.0
        undrawn = commitment
        accrued = 0.0
        on_hand = 0.0        # operating cash of the current period
        trap = 0.0           # cash trapped by a lock-up
        reserve = reserve0
        held = 0.0           # customer prepayments waiting for the next payment
        receipts = 0.0
        pv_draws = 0.0
        k = 0
        end_at = -1
        payment_default = False
        first_breach = np.nan
        for i in range(last + 1):
            breach = False
            if i > 0:
                committed = undrawn if i <= fee_until else 0.0
                accrued += (outstanding * rate[i] + committed * fee) * accrual[i]
                on_hand += cash[p, i]
                if continuous and outstanding > 0.0:
                    breach = bridge_crossed(path_id, i, k0, k1, value[p, i - 1], value[p, i],
                                            outstanding / ltv_trigger, bridge_var[i])
            if draws[i] > 0.0:
                outstanding += draws[i]
                undrawn -= draws[i]
                pv_draws += df[i] * draws[i]
            held += prepaid[i]
            if i == pay_index[k]:
                ltv[p, k] = outstanding / value[p, i] if value[p, i] > 0.0 else np.inf
            breach = breach or (ltv_test[i] and outstanding > ltv_trigger * value[p, i])
            if i == pay_index[k]:
                interest = accrued
                final = i == last
                principal = outstanding if final else min(principal_due[k], outstanding)
                due = interest + (0.0 if final else principal)
                locked = False
                # before the first draw only fees are due, and the sponsor pays them
                paid_by_sponsor = sponsor or (outstanding <= 0.0 and not final)
                if not paid_by_sponsor and due > 0.0:
                    period_cash[p, k] = on_hand
                    period_due[p, k] = due
                    covered = 0.0
                    owed = 0.0
                    for j in range(ttm_first[k], k + 1):
                        covered += period_cash[p, j]
                        owed += period_due[p, j]
                    if covered < dscr_trigger * owed and reserve > 0.0:
                        cure = min(reserve, dscr_trigger * owed - covered)   # the reserve cures it
                        reserve -= cure
                        on_hand += cure
                        covered += cure
                        period_cash[p, k] += cure
                    dscr[p, k] = covered / owed
                    breach = breach or dscr[p, k] < dscr_trigger
                    locked = dscr[p, k] < lockup_dscr
                if breach and math.isnan(first_breach):
                    first_breach = times[i]
                if final:
                    capacity = value[p, i] * (1.0 - haircut)       # sale or refinancing
                    cash_left = 0.0 if sponsor else on_hand + trap + reserve + held
                    owed = principal if sponsor else interest + principal   # a sponsor pays interest
                    if cash_left + capacity < owed:
                        payment_default = True
                        end_at = i
                        break
                    equity[p, k] = max(cash_left - owed, 0.0)
                    on_hand = 0.0
                    trap = 0.0
                    reserve = 0.0
                elif not paid_by_sponsor:
                    pay = min(on_hand, due)
                    on_hand -= pay
                    from_trap = min(trap, due - pay)
                    trap -= from_trap
                    pay += from_trap
                    if reserve < due - pay:
                        payment_default = True
                        end_at = i
                        break
                    reserve -= due - pay
                    top_up = min(on_hand, max(reserve_periods * due - reserve, 0.0))
                    reserve += top_up
                    on_hand -= top_up
                    applied = min(held, outstanding - principal)     # prepaid by customers
                    principal += applied
                    held -= applied
                    share = lockup_sweep if locked else sweep_share
                    swept = min(share * on_hand, outstanding - principal)
                    principal += swept
                    on_hand -= swept
                    if locked:
                        trap += on_hand
                        equity[p, k] = 0.0
                    else:
                        equity[p, k] = on_hand + trap
                        trap = 0.0
                    on_hand = 0.0
                else:                  # the sponsor paid: the period's cash goes to it
                    equity[p, k] = on_hand
                    on_hand = 0.0
                receipts += df[i] * (interest + principal)
                if by_date:
                    flows[p, i] = interest + principal
                out[p, TIME_PRINCIPAL] += times[i] * principal
                out[p, PRINCIPAL] += principal
                outstanding -= principal
                accrued = 0.0
                k += 1
            if breach and math.isnan(first_breach):
                first_breach = times[i]
            if observed[i] > 0.0:    # a test date between cash dates: interest runs on to it
                accrued_now = accrued + outstanding * rate[i] * observed[i]
            else:
                accrued_now = accrued
            if breach and outstanding > 0.0 and (accelerate or (lender_optimal and liquidation_wins(
                    value[p, i] * (1.0 - haircut), going[p, i], on_hand + trap + reserve + held,
                    outstanding + accrued_now, workout, lag_df[i] / df[i],
                    outstanding * loan.riskless[i] + accrued_now))):
                accrued = accrued_now
                end_at = i
                break
            if outstanding <= 0.0 and i >= fee_until and k > 0:
                break                  # repaid, and no draw left: the loan is over
        if end_at >= 0:
            i = end_at
            claim = outstanding + accrued
            sale = (tranche_proceeds(p, i, value, lag_index, lag_df, tranche_index, tranche_df, tranche_haircut)
                    + max(on_hand, 0.0) + trap + reserve + held - workout * claim)
            collected = workout_cash(p, i, cash, df, lag_index, tranche_index)
            recovered = min(max(lag_df[i] * sale + collected, 0.0), lag_df[i] * claim)
            paid_at = lag_index[i]
            if best_of:                # the lender keeps the SPV running if that is worth more
                kept = df[i] * (going[p, i] + max(on_hand, 0.0) + trap + reserve + held - workout * claim)
                if min(kept, df[i] * claim) > recovered:
                    recovered = min(kept, df[i] * claim)
                    out[p, CONTINUED] = 1.0
                    paid_at = i
            receipts += recovered
            if by_date:
                flows[p, paid_at] += recovered / df[paid_at]
            out[p, ENDED] = 1.0
            out[p, END_TIME] = times[i]
            out[p, LOSS] = df[i] * claim - recovered
            out[p, CLAIM] = df[i] * claim
            out[p, PAYMENT_DEFAULT] = 1.0 if payment_default else 0.0
            out[p, ACCELERATED] = 0.0 if payment_default else 1.0
        else:
            out[p, END_TIME] = np.nan
        out[p, FIRST_BREACH] = first_breach
        out[p, RECEIPTS] = receipts
        out[p, DRAWS] = pv_draws
