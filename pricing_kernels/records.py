"""The arguments of every kernel family, by name: one NamedTuple per family.

These records are the contract between gpufin (which builds each one in a single place:
the model's or instrument's `kernel_args`) and the kernels (which read their fields by
name). numba types a NamedTuple field by field, so a record costs what the same arguments
cost one by one. Records are flat (no record inside another): numba passes a record into a
parallel loop field by field, and a field that is itself a record cannot cross. Times are years ACT/365F, money USD, rates per year; "per step" arrays
have one entry per grid step (step i ends at grid date i + 1), "per date" arrays one per
grid date (date 0 = the valuation date).
"""
from typing import NamedTuple

import numpy as np


class LognormalArgs(NamedTuple):
    """GBM and Merton jump-diffusion paths (pricing_kernels.lognormal, index_paths)."""
    log_spot: float              # ln S_0
    drift: np.ndarray            # per step: mean of the diffusive log increment
    vol: np.ndarray              # per step: its standard deviation
    pois_cdf: np.ndarray         # (steps, kmax): P(jump count <= k); kmax = 0 without jumps
    jump_mean: float             # mean log jump
    jump_vol: float              # sd of the log jump
    bridge_var: np.ndarray       # per step: diffusive log variance (Brownian-bridge checks)


class TwoFactorArgs(NamedTuple):
    """Schwartz-Smith paths, exact on any grid, in the state form (chi and xi apart, the fleet
    kernel) and the innovations form (X = chi + xi from one normal a step), with launch jumps
    (in xi) and shortage spikes (in chi) as one Poisson stream of events
    (pricing_kernels.index_step)."""
    chi0: float                  # short-term factor at the valuation date
    xi0: float                   # long-term factor at the valuation date
    shift: np.ndarray            # per step: g(t) at the end of the step (forward-curve fit)
    decay: np.ndarray            # per step: e^{-kappa dt}
    mu_dt: np.ndarray            # per step: long-term drift x dt
    a11: np.ndarray              # per step: Cholesky factor of the step covariance (state form)
    a21: np.ndarray
    a22: np.ndarray
    gain: np.ndarray             # per step: innovations-form gain of E[chi | X so far]
    innovation_sd: np.ndarray    # per step: innovations-form standard deviation
    event_clock: np.ndarray      # per step: event rate x time at the end of the step
    event_rate: float            # launch + spike intensity, per year
    launch_share: float          # probability that an event is a launch
    launch_sched: np.ndarray     # per step: scheduled launches in the step
    launch_mean: float           # mean log launch jump
    launch_vol: float            # sd of the log launch jump
    spike_mean: float            # mean log spike
    spike_vol: float             # sd of the log spike
    kappa: float                 # mean reversion of the short factor (spikes decay at it), per year
    bridge_var: np.ndarray       # per step: variance of the X increment (Brownian-bridge checks)


class PayoffArgs(NamedTuple):
    """Payoffs observed on index paths, stacked along a leading payoff axis q
    (pricing_kernels.payoff; built by gpufin.engines.montecarlo.stack_payoffs)."""
    fix_weight: np.ndarray       # (q, steps): weight of the fixing at the end of the step
    close_period: np.ndarray     # (q, steps): period completed at the end of the step, or -1
    step_df: np.ndarray          # per step: discount factor at its end (rebates at the hit)
    strike: np.ndarray           # (q, periods)
    omega: np.ndarray            # (q, periods): +1 call or payer, -1 put or receiver
    linear: np.ndarray           # (q, periods): 1 pays omega (A - K) without the max
    pay_df: np.ndarray           # (q, periods): discount factor of the payment
    known_arith: np.ndarray      # (q, periods): part of the arithmetic average already fixed
    known_geo: np.ndarray        # (q, periods): part of the mean log already fixed
    flags: np.ndarray            # (q, N_FLAGS) int64: GEOMETRIC, BARRIER_DIR, KNOCK_IN, BRIDGE, AVERAGER
    levels: np.ndarray           # (q, 3): LOG_BARRIER, REBATE, REBATE_DF_EXPIRY
    fix_ptr: np.ndarray          # (steps + 1,): fix_q[fix_ptr[i]:fix_ptr[i+1]] fix at step i
    fix_q: np.ndarray
    close_ptr: np.ndarray        # the same for period closes
    close_q: np.ndarray
    monitor_ptr: np.ndarray      # the same for discrete barrier checks
    monitor_q: np.ndarray


class LognormalVega(NamedTuple):
    """Derivatives with respect to sigma of LognormalArgs' per-step arrays, for the pathwise
    vega (pricing_kernels.pathwise; built by gpufin.models.index.Lognormal.vega_args)."""
    drift: np.ndarray            # per step: d drift / d sigma = -sigma dt
    vol: np.ndarray              # per step: d vol / d sigma = sqrt(dt)


class TwoFactorVega(NamedTuple):
    """Derivatives with respect to sigma_chi of TwoFactorArgs' innovations-form arrays, for the
    pathwise vega (pricing_kernels.pathwise; built by gpufin.models.index.TwoFactor.vega_args)."""
    shift: np.ndarray            # per step: d g(t) / d sigma_chi at the end of the step
    gain: np.ndarray             # per step: d gain / d sigma_chi
    innovation_sd: np.ndarray    # per step: d innovation_sd / d sigma_chi


class PathwiseArgs(NamedTuple):
    """What the pathwise delta reads beside PayoffArgs (pricing_kernels.pathwise; built by
    gpufin.engines.montecarlo.pathwise_args). Every index model scales its whole path with
    the spot (d ln S_t / d ln S_0 = 1), so only the prints already fixed need telling apart:
    those at time 0 move with the spot, past fixings do not."""
    spot_arith: np.ndarray       # (q, periods): part of the arithmetic average fixed at time 0
    spot_share: np.ndarray       # (q, periods): share of the prints that move with the spot


class FleetArgs(NamedTuple):
    """A GPU fleet's utilization, cash flow and collateral value (pricing_kernels.fleet, beside
    the TwoFactorArgs of its index; built by gpufin.models.fleet.FleetModel.kernel_args)."""
    y0: float                    # Y = logit(utilization) at the valuation date
    month: np.ndarray            # per date: its month k, t in (m_k, m_{k+1}] (int64; gpufin.models.keyed)
    canonical: np.ndarray        # per date: the date is the month's end m_{k+1} (bool)
    cell: np.ndarray             # per date: its finest bisection cell in the month (int64)
    minute: np.ndarray           # per date: its time in minutes, the key of its own bridge (int64)
    months: int                  # canonical months drawn
    step_a: np.ndarray           # (n, n): one month's step of (chi, xi, Y[, c]) without jumps, X' = a X + c + f Z; n = 3, 4 with a basis
    step_c: np.ndarray           # (3,)
    step_f: np.ndarray           # (3, 3)
    level_a: np.ndarray          # (levels, 3, 3): midpoint bridges, X = a X_left + b X_right + c + f Z
    level_b: np.ndarray          # (levels, 3, 3)
    level_c: np.ndarray          # (levels, 3)
    level_f: np.ndarray          # (levels, 3, 3)
    final_a: np.ndarray          # (dates, 3, 3): each date's bridge in its finest cell
    final_b: np.ndarray          # (dates, 3, 3)
    final_c: np.ndarray          # (dates, 3)
    final_f: np.ndarray          # (dates, 3, 3)
    spike_decay: np.ndarray      # per date: e^{-kappa (t - m_k)}, spikes' decay since the month began
    month_decay: float           # e^{-kappa / 12}
    launch_at: np.ndarray        # scheduled launch times, sorted (years)
    times: np.ndarray            # per date: years from the valuation date
    hours: np.ndarray            # per step: hours in the period
    fleet: np.ndarray            # per date: billable GPUs
    delay_probability: float     # probability that a delivery is late (independently per delivery)
    on_time: np.ndarray          # [delivery, date]: its billable GPUs if on time
    late: np.ndarray             # [delivery, date]: and if late
    opex: float                  # USD per GPU-hour
    contracted_cash: np.ndarray  # per contract: USD per GPU-hour of the fleet its customer pays, after prepayment
    released_cash: np.ndarray    # per contract: USD per GPU-hour of the fleet released from the prepayment account
    share: np.ndarray            # per contract: share of the fleet
    start: np.ndarray            # per contract: date index of its start (int64)
    end: np.ndarray              # per contract: date index of its end (int64)
    customer: np.ndarray         # per contract: its customer (int64)
    hazard: np.ndarray           # per customer: default hazard, per year
    valuation: int               # 0 income, 1 residual, 2 book
    w: np.ndarray                # (dates, months): income weights (discount x hours x survival)
    log_a: np.ndarray            # (dates, months): conditional log level of the index
    c: np.ndarray                # (dates, months): e^{-kappa tau}
    d: np.ndarray                # (dates, months): e^{-kappa_u tau}
    util_base: np.ndarray        # (dates, months): utilization mean terms
    pair_s: np.ndarray           # (dates, months, pairs): 2 cosh(sd x_k) of Gauss-Hermite pairs
    pair_w: np.ndarray           # (pairs,): their weights
    j0: np.ndarray               # per date: first month still ahead (int64)
    opex_pv: np.ndarray          # per date: PV of opex per GPU over the remaining life
    floor: float                 # salvage value per GPU, USD
    residual_base: np.ndarray    # per date: residual-curve value per GPU before the index move
    elasticity: float            # residual value's elasticity to the long-term index level
    book: np.ndarray             # per date: book value per GPU
    continuation: bool           # also write the SPV's going-concern value (series GOING)
    first_series: int            # first series written (pricing_kernels.fleet): INDEX all, CASH a loan's
    write_state: bool            # also write the index's state chi and xi (two series after the others)
    write_parts: bool            # also write the series that rebuild cash and value under index moves (pricing_kernels.fleet)
    displaced: np.ndarray        # (contracts, dates, months): survival x 1 in its term, weights of the merchant revenue it displaces
    contract_pv: np.ndarray      # (contracts, dates): PV per GPU of its contracted cash still to come, survival included
    split: np.ndarray            # per date: the first month of the income sum taken from its table (int64; months: none)
    box: np.ndarray              # (4,): chi_lo, chi_hi, y_lo, y_hi of the income table (lo > hi: exact everywhere)
    table: np.ndarray            # (dates, 1 + contracts, CHI_NODES, Y_NODES): Chebyshev coefficients of the far months (pricing_kernels.income)
    factor_weights: np.ndarray   # (3,): weights of a month's index normals (streams 0, 1, 100) in the credit factor Z
    factor_months: int           # canonical months whose shocks make up Z
    factor_key: np.ndarray       # (2,) uint64: Philox key words of the index whose shocks make up Z
    credit_key: np.ndarray       # (2,) uint64: Philox key words of the default times (streams 200, 202)
    customer_counter: np.ndarray # per customer: counter of its default-time draw (int64, below 2**32)
    platform_counter: int        # counter of the platform's default-time draw (below 2**32)
    fleet_key: np.ndarray        # (2,) uint64: Philox key words of the fleet's own draws (late deliveries)
    name_loading: np.ndarray     # per name (the customers, then the platform): loading on Z
    hz_knots: np.ndarray         # (names, knots): start of each flat hazard segment, years (padded with inf)
    hz_rates: np.ndarray         # (names, knots): hazard per year of each segment (padded with 0)
    hz_cum: np.ndarray           # (names, knots): cumulative hazard at each knot (padded with inf)
    platform: int                # 0 none, 1 the contracts end at its default, 2 the servicer is replaced
    end_probability: float       # probability that the platform's default ends the contracts
    replacement_usd: float       # cost of replacing the servicer, USD
    replacement_months: float    # and months of the fleet's revenue
    platform_downtime: float     # years without revenue after the platform's default (replace-servicer)
    month_hours: float           # hours in a month (1/12 year)
    basis: bool                  # a basis index: a fourth Gaussian factor c (its short factor) follows Y
    basis_c0: float              # c at the valuation date
    basis_shift: np.ndarray      # per date: ln B - c - xi of the basis index B (its shift and basis level)
    merchant_basis: bool         # merchant revenue and the income value earn B (else the fleet's index)
    relet_basis: bool            # re-leasing contracts are struck on B
    period_start: np.ndarray     # per date: start of the period ending there, years (the previous cash date)
    releasing_downtime: float    # years a defaulted customer's share earns nothing
    relet_ratio: float           # > 0: then re-contracted at this x the index; 0: merchant
    contracted: float            # billable share of a contracted GPU's hours


class LoanArgs(NamedTuple):
    """A loan's waterfall on a grid of dates (pricing_kernels.loan; built by
    gpufin.engines.loan)."""
    times: np.ndarray            # per date: years from the valuation date
    df: np.ndarray               # per date: discount factor
    accrual: np.ndarray          # per date: accrual fraction of the step ending there
    observed: np.ndarray         # per date: at a test-only date, the accrual fraction since the last cash date (else 0)
    rate: np.ndarray             # per date: all-in annual rate of the step ending there
    fee: float                   # commitment fee on the undrawn amount, per year
    commitment: float            # USD
    draws: np.ndarray            # per date: USD drawn
    fee_until: int               # date index of the last draw
    pay_index: np.ndarray        # per payment: its date index (int64)
    principal_due: np.ndarray    # per payment: principal of the fixed schedule, USD
    ttm_first: np.ndarray        # per payment: first payment of its DSCR window (int64; k: the period)
    sweep_share: float           # share of excess cash swept into prepayment
    lockup_dscr: float           # DSCR below which cash is locked up (-inf: never)
    lockup_sweep_share: float    # share of excess cash swept during a lock-up (the rest is trapped)
    reserve_periods: float       # debt-service reserve target, in periods of debt service
    reserve0: float              # reserve funded at closing, USD
    ltv_trigger: float           # LTV covenant (inf: none)
    ltv_test: np.ndarray         # per date: tested there (bool)
    continuous: bool             # LTV monitored between dates by a Brownian bridge
    bridge_var: np.ndarray       # per date: log-variance of the collateral over the step
    dscr_trigger: float          # DSCR covenant (-inf: none)
    accelerate: bool             # a covenant breach ends the loan (else it is technical)
    haircut: float               # haircut on selling (or refinancing) the whole collateral at once
    workout_cost: float          # workout cost of a default, as a fraction of the claim
    lag_index: np.ndarray        # per date: date index at the end of the liquidation lag (int64)
    lag_df: np.ndarray           # per date: discount factor at the end of the lag
    sponsor: bool                # debt service paid by a sponsor (index collateral)
    best_of: bool                # recovery: the better of liquidation and the going concern
    lender_optimal: bool         # a covenant breach accelerates where liquidating beats continuing
    riskless: np.ndarray         # per date: the rest of the loan's riskless value per USD outstanding
    prepaid: np.ndarray          # per date: customer prepayments received for the loan, USD
    tranche_haircut: float       # haircut on each of the equal tranches sold after a default
    tranche_index: np.ndarray    # [date, tranche]: date index of each tranche sold before the
                                 # last, which is sold at lag_index (int64; no column: one sale)
    tranche_df: np.ndarray       # [date, tranche]: discount factor at that tranche's sale time
    cash_by_date: bool           # also write the lender's cash by date (flows); else flows has no dates


class MultiIndexArgs(NamedTuple):
    """Several correlated Schwartz-Smith indices on one grid (pricing_kernels.multi_index;
    built by gpufin.models.multi_index.MultiIndex.kernel_args). The Gaussian state holds K
    factors (each index's short factor, and the long factor of each index that is not a basis
    index); index n is ln S = shift[n] + F[short_slot[n]] + F[long_slot[n]] + long_offset[n].
    Launch processes are one per SKU group; spike processes one per index."""
    state0: np.ndarray           # (K,): the factors at the valuation date
    decay: np.ndarray            # (steps, K): e^{-kappa dt} (1 for a long factor)
    mu_dt: np.ndarray            # (steps, K): drift x dt (long factors)
    chol: np.ndarray             # (steps, K, K): lower Cholesky factor of the step covariance
    short_slot: np.ndarray       # per index: its short factor (int64)
    long_slot: np.ndarray        # per index: its long factor, its base's for a basis index (int64)
    long_offset: np.ndarray      # per index: log offset of its long factor (a basis index's level)
    shift: np.ndarray            # (indices, steps): g(t) at the end of the step
    launch_group: np.ndarray     # per index: the launch group moving its long factor, -1 none (int64)
    launch_mean: np.ndarray      # per index: mean log launch jump of its long factor
    launch_vol: np.ndarray       # per index: sd of the log launch jump (one normal per launch, shared)
    launch_rate: np.ndarray      # per group: Poisson launch intensity, per year
    launch_clock: np.ndarray     # (groups, steps): launch_rate x time at the end of the step
    launch_sched: np.ndarray     # (groups, steps): scheduled launches in the step
    spike_rate: np.ndarray       # per index: Poisson spike intensity of its short factor, per year
    spike_clock: np.ndarray      # (indices, steps): spike_rate x time at the end of the step
    spike_mean: np.ndarray       # per index: mean log spike
    spike_vol: np.ndarray        # per index: sd of the log spike
    kappa: np.ndarray            # per index: mean reversion of its short factor (spikes decay at it), per year


def make(record: type, **fields):
    """A record with every field named: arrays C-contiguous, scalars of their declared type
    (so the kernels compile once per family, not once per scalar type a caller passes)."""
    kinds = record.__annotations__
    values = {}
    for name, value in fields.items():
        kind = kinds[name]
        if kind is np.ndarray:
            values[name] = np.ascontiguousarray(value)
        elif kind in (float, int, bool):
            values[name] = kind(value)
        else:
            values[name] = value
    return record(**values)
