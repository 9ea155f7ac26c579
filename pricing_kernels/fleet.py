"""GPU fleet paths: rental index, utilization, operating cash flow and collateral value.

Per path and date i (0 = valuation date) the kernel writes, per GPU-fleet, the series
  INDEX the index S (USD/GPU-hr), UTIL merchant utilization U, CASH operating cash flow of
  the period ending at date i (USD), VALUE collateral value (USD), and with `continuation`
  GOING the going-concern value of the SPV (USD): the fleet's income value plus, for each
  contract not ended whose customer still pays, the PV of its contracted cash (contract_pv)
  less the merchant revenue it displaces over its term (`displaced` weights), both with its
  customer's survival from the date.
Series s is out[s - first_series]: FleetArgs.first_series = INDEX writes every series,
CASH only the collateral's (all that a loan reads: less memory to fill). With
FleetArgs.write_state two more series follow the last: the index's state chi (spikes
included) and xi (launches included) at each date, such that ln INDEX = g(t) + chi + xi with
g the index's shift (TwoFactorArgs.shift, gpufin.models.index.TwoFactor.shift; g(0) = 0): a
hedge values futures at its horizon in closed form from them. They change no other series.
With FleetArgs.write_parts five more series follow (after the state's, when written), from
which gpufin.risk.loan_moves rebuilds the collateral under an index move m (every index level
times m): MOVING_CASH, the part of CASH that moves with the index (merchant revenue, re-let
contracts and the servicer's revenue-linked cost: CASH = (CASH - MOVING_CASH) + m MOVING_CASH);
GPUS, the billable GPUs; MERCHANT_VALUE, GPUS x the merchant value per GPU before opex and its
floor (income value per GPU = max(m x that - opex_pv, floor)); CONTRACTS_HELD and
MERCHANT_GIVEN_UP, GPUS x the going-concern value's contracted PV and the merchant revenue it
displaces (going per GPU = income value + held - m x given up). They change no other series.
With FleetArgs.basis the Gaussian state has a fourth factor, the short factor c of a basis
index B of the same SKU: ln B = basis_shift + c + xi (gpufin.models.fleet.BasisIndex); the
merchant revenue, the income value (merchant_basis) and re-leasing contracts (relet_basis) may
earn B instead of the fleet's index, and write_state writes c after xi.
Index and utilization: the Gaussian state (chi, xi, Y), U = logistic(Y), is drawn with
numbers keyed by time (gpufin.models.keyed): each canonical month from its own normals, a
date inside a month by bisection from the month's ends, so a date's value never depends on
the other dates of the grid. Jumps: the Poisson events of pricing_kernels.index_step (keyed
by event number; a spike's weight is taken relative to the start of its month), and each
scheduled launch keyed by its rank.
Customer u defaults once per path at tau_u = Lambda_u^{-1}(-ln s_u), Lambda_u its cumulative
hazard (piecewise flat: hz_knots, hz_rates, hz_cum) and s_u its survival uniform; contract c
belongs to customer[c]. With a loading rho_u != 0 on the credit factor Z (a Gaussian copula,
Li 2000), s_u = Phi(sqrt(1 - rho_u^2) Phi^{-1}(u) - rho_u Z) instead of the uniform u itself, Z the
standardized sum of the index's monthly Gaussian shocks (factor_weights) over factor_months:
names default together, and early when rents fall (rho > 0). The platform (the last name, when
`platform` > 0) defaults the same way; at its default every contract ends (with
end_probability), or the servicer is replaced (a cost in the period of its default and
platform_downtime years without revenue). With releasing_downtime or relet_ratio > 0 a
defaulted customer's share earns nothing for releasing_downtime years (from its default, or its
contract's start if later), then is re-contracted to the contract's end at relet_ratio x the
index of the first date after the downtime (or earns the merchant rate if relet_ratio = 0).
Going-concern values (out[4]) see the default times, not the downtime, re-letting or
replacement cost.
Income value per GPU at date i: the merchant value of pricing_kernels.income (the conditional
expectation of discounted merchant revenue, gpufin.models.fleet) less opex_pv[i], floored at
`salvage`.
Billable GPUs: fleet[i], or with delay_probability > 0 each delivery late or not per path
(on_time or late GPUs of each delivery). Contract start[c] and end[c] are date indices: contract c earns in periods start < i <= end,
contracted_cash[c] while its customer pays and released_cash[c] (its prepayment, held in the
SPV's account and released as the service is delivered) whether or not the customer pays.
Each path's numbers depend on (keys, path) only: any chunking or thread count gives the
same bits. Three Philox keys: the kernel's `seed` (the index and its market: the index and
utilization shocks, their bridges and the jumps), fleet_args.credit_key (default times) and
fleet_args.fleet_key (the fleet's own draws). RNG streams: under `seed`, 0, 1 index shocks, 100
utilization shocks (counter: month // 4), 103 a basis factor's shocks (likewise; a bridge
takes its fourth normal from the draw of the other three), 101 bisection midpoints (month x 32 + node), 102 a
date's own bridge (its minute), 2 and 3 jumps as in pricing_kernels.index_step (3: counter =
the scheduled launch's rank); under credit_key, 200 default times (counter =
customer_counter[customer]) and 202 the platform's default time (word 0) and whether it ends
the contracts (word 1; counter = platform_counter); under fleet_key, 201 late deliveries
(counter = the delivery). The credit factor Z is drawn from streams 0, 1 and 100 of the months
it spans under fleet_args.factor_key: a fleet priced alone passes its `seed` for every key and
counters 0, 1, ... and 0 (Z is then its index's own shock); a loan in a book
(gpufin.loanbook.joint) passes the book's keys and counters, so that names shared by several
fleets default at one time on every path and Z is the shock of the book's lead index.
"""
import math

import numpy as np
from numba import njit

from pricing_kernels import CACHE
from pricing_kernels.income import fleet_income, income_scratch
from pricing_kernels.index_step import EVENT_STREAM, LAUNCH_STREAM, jump_scratch, jump_start
from pricing_kernels.payoff import LANES
from pricing_kernels.rng import draw_normals4, draw_words, event_draw, split_seed, uniform_open
from pricing_kernels.threads import range_kernel, run_ranges
from pricing_kernels.vecmath import exp_vec, log_vec

UTIL_STREAM = 100
BISECT_STREAM = 101
DATE_STREAM = 102
BASIS_STREAM = 103
DEFAULT_STREAM = 200
DELAY_STREAM = 201
PLATFORM_STREAM = 202
LEVELS = 5           # gpufin.models.keyed.LEVELS
INDEX, UTIL, CASH, VALUE, GOING = range(5)      # the output series
INCOME, RESIDUAL, BOOK = 0, 1, 2
MOVING_CASH, GPUS, MERCHANT_VALUE, CONTRACTS_HELD, MERCHANT_GIVEN_UP = range(5)   # the parts' rows
N_PARTS = 5
ENDS, REPLACED = 1, 2    # what the platform's default does (gpufin.models.fleet.PLATFORM_CODES)
INV_SQRT2 = 0.7071067811865476
SQRT_2PI = 2.5066282746310002


@njit(inline="always")
def logistic(y):
    return 1.0 / (1.0 + exp_vec(-y))


@njit(inline="always")
def contract_rates(i, t, start, end, customer, contracted_cash, released_cash, share, tau, rate,
                   taken):
    """Per lane at date i (t years), the contracts' cash (USD per GPU-hour: contracted while the
    customer pays, the prepayment released while the term runs) in rate[lane], and the share
    of the GPUs that paying customers take in taken[lane]. A contract adds nothing outside its
    term, so only running contracts are visited; the lane loops are branch-free."""
    for lane in range(rate.size):
        rate[lane] = 0.0
        taken[lane] = 0.0
    for ci in range(start.size):
        if start[ci] < i <= end[ci]:
            cu, paid, part = customer[ci], contracted_cash[ci], share[ci]
            for lane in range(rate.size):
                on = tau[cu, lane] > t
                rate[lane] += (paid if on else 0.0) + released_cash[ci]
                taken[lane] += part if on else 0.0


@njit(cache=CACHE, error_model="numpy")
def releasing_rates(i, t0, t, times, start, end, customer, contracted_cash, released_cash, share, tau,
                    downtime, billable, relet, rate, taken, idle, relet_rate):
    """contract_rates for the period (t0, t] with re-leasing: a defaulted customer's share idles
    (idle[lane]: share x the part of the period lost) from a = max(default, contract start) for
    `downtime` years, and earns relet[contract, lane] x billable (USD per GPU-hour) from the
    first period that starts after a + downtime, if re-contracted (relet >= 0); relet_rate[lane]
    is that re-let part of rate[lane]."""
    span = max(t - t0, 1e-300)
    for lane in range(rate.size):
        rate[lane] = 0.0
        taken[lane] = 0.0
        idle[lane] = 0.0
        relet_rate[lane] = 0.0
    for ci in range(start.size):
        if start[ci] < i <= end[ci]:
            cu, paid, part, begin = customer[ci], contracted_cash[ci], share[ci], times[start[ci]]
            for lane in range(rate.size):
                on = tau[cu, lane] > t
                a = max(tau[cu, lane], begin)
                after = (relet[ci, lane] >= 0.0) & (t0 >= a + downtime)
                again = part * billable * relet[ci, lane] if after else 0.0
                rate[lane] += (paid if on else 0.0) + released_cash[ci] + again
                relet_rate[lane] += again
                taken[lane] += part if on | after else 0.0
                idle[lane] += part * max(min(t, a + downtime) - max(t0, a), 0.0) / span


@njit(cache=CACHE, error_model="numpy")
def capture_relet(i, t, times, start, end, customer, tau, downtime, ratio, index, relet):
    """relet[contract, lane] = ratio x index at the first date t >= a + downtime of a contract
    whose customer defaulted before its end (a = max(default, start)); -1 until then."""
    for ci in range(start.size):
        if start[ci] < times.size and i <= end[ci]:
            cu, begin, finish = customer[ci], times[start[ci]], times[end[ci]]
            for lane in range(index.size):
                a = max(tau[cu, lane], begin)
                take = (relet[ci, lane] < 0.0) & (a < finish) & (t >= a + downtime)
                relet[ci, lane] = ratio * index[lane] if take else relet[ci, lane]


@njit(inline="always")
def norm_cdf(x):
    return 0.5 * math.erfc(-x * INV_SQRT2)


@njit(inline="always")
def norm_ppf(p):
    """Phi^{-1}(p) for p in (0, 1): Abramowitz and Stegun 26.2.23 (error below 4.5e-4), then
    three Halley steps on Phi (erfc), which bring it to rounding error."""
    q = min(p, 1.0 - p)
    r = math.sqrt(-2.0 * math.log(q))
    x = -(r - (2.515517 + r * (0.802853 + r * 0.010328))
          / (1.0 + r * (1.432788 + r * (0.189269 + r * 0.001308))))
    for _ in range(3):
        u = (norm_cdf(x) - q) * SQRT_2PI * math.exp(0.5 * x * x)
        x -= u / (1.0 + 0.5 * x * u)
    return x if p < 0.5 else -x


@njit(cache=CACHE, error_model="numpy")
def credit_factor(k0, k1, ids, signs, weights, months, z1, z2, z3, factor):
    """factor[lane] = Z, the weighted sum of the Gaussian index normals (streams 0, 1 and 100,
    as month_normals draws them) of months 0 .. months - 1: N(0, 1) for unit weights."""
    for lane in range(ids.size):
        factor[lane] = 0.0
    for q in range(-(-months // 4)):
        draw_normals4(k0, k1, ids, signs, 0, q, z1)
        draw_normals4(k0, k1, ids, signs, 1, q, z2)
        draw_normals4(k0, k1, ids, signs, UTIL_STREAM, q, z3)
        for row in range(min(4, months - 4 * q)):
            for lane in range(ids.size):
                factor[lane] += (weights[0] * z1[row, lane] + weights[1] * z2[row, lane]
                                 + weights[2] * z3[row, lane])


@njit(cache=CACHE, error_model="numpy")
def default_times(n, uniforms, loading, factor, knots, rates, cum, out):
    """out[lane] = the default time (years) of name n from its uniforms: -ln u (loading 0),
    else -ln(1 - Phi(X)), X = loading Z - sqrt(1 - loading^2) Phi^{-1}(u), through the inverse
    of its piecewise-linear cumulative hazard."""
    rho = loading[n]
    for lane in range(out.size):
        u = uniform_open(uniforms[lane])
        if rho == 0.0:
            e = -log_vec(u)
        else:
            x = rho * factor[lane] - math.sqrt(1.0 - rho * rho) * norm_ppf(u)
            e = -math.log1p(-norm_cdf(x))
        k = 0
        for j in range(1, knots.shape[1]):
            if cum[n, j] <= e:
                k = j
        out[lane] = knots[n, k] + ((e - cum[n, k]) / rates[n, k] if e > cum[n, k] else 0.0)


@njit(cache=CACHE, error_model="numpy")
def draw_defaults(ids, signs, fa, z1, z2, z3, words, factor, tau, platform_tau):
    """Each name's default time (years) per lane: tau[customer, lane] and, when the fleet has a
    platform, platform_tau[lane], whose draw stays in `words` (word 1: whether its default
    ends the contracts). The factor Z (into `factor`) is drawn only when a name loads on it."""
    correlated = False
    for n in range(fa.name_loading.size):
        correlated |= fa.name_loading[n] != 0.0
    if correlated:
        credit_factor(fa.factor_key[0], fa.factor_key[1], ids, signs, fa.factor_weights,
                      fa.factor_months, z1, z2, z3, factor)
    c0, c1 = fa.credit_key[0], fa.credit_key[1]
    n_customers = fa.hazard.size
    for cu in range(n_customers):
        draw_words(c0, c1, ids, DEFAULT_STREAM, fa.customer_counter[cu], words)
        default_times(cu, words[0], fa.name_loading, factor, fa.hz_knots, fa.hz_rates, fa.hz_cum,
                      tau[cu])
    if fa.platform > 0:
        draw_words(c0, c1, ids, PLATFORM_STREAM, fa.platform_counter, words)
        default_times(n_customers, words[0], fa.name_loading, factor, fa.hz_knots, fa.hz_rates,
                      fa.hz_cum, platform_tau)


@njit(cache=CACHE, error_model="numpy")
def servicer_cash(t0, t, hours, gpus, revenue, opex, platform_tau, downtime, cost_usd, cost_hours, cash):
    """cash[lane] (USD) of the period (t0, t] when the servicer is replaced at platform_tau:
    no revenue (USD per GPU-hour) for `downtime` years from then, and in the period of the
    default a cost of cost_usd plus cost_hours of the fleet's revenue."""
    span = max(t - t0, 1e-300)
    for lane in range(cash.size):
        tp = platform_tau[lane]
        lost = max(min(t, tp + downtime) - max(t0, tp), 0.0) / span
        hit = (t0 < tp) & (tp <= t)
        charge = cost_usd + cost_hours * gpus[lane] * revenue[lane] if hit else 0.0
        cash[lane] = hours * gpus[lane] * (revenue[lane] * (1.0 - lost) - opex) - charge


@njit(inline="always")
def going_values(i, t, end, customer, share, contract_pv, tau, income, partial, value):
    """Per lane, the going-concern value per GPU at date i (t years): the income value plus,
    for each contract not ended whose customer still pays, its contracted PV less the merchant
    revenue it displaces (partial[contract, lane])."""
    for lane in range(value.size):
        value[lane] = income[lane]
    for ci in range(end.size):
        if i <= end[ci]:
            cu, pv, part = customer[ci], contract_pv[ci, i], share[ci]
            for lane in range(value.size):
                value[lane] += (pv - part * partial[ci, lane]) if tau[cu, lane] > t else 0.0


@njit(cache=CACHE, error_model="numpy")
def going_parts(i, t, end, customer, share, contract_pv, tau, partial, held, given_up):
    """Per lane at date i (t years), the parts of going_values besides the income value: the
    contracted PV per GPU of the contracts not ended whose customer pays (held), and the
    merchant revenue they displace (given_up, which moves with the index)."""
    for lane in range(held.size):
        held[lane] = 0.0
        given_up[lane] = 0.0
    for ci in range(end.size):
        if i <= end[ci]:
            cu, pv, part = customer[ci], contract_pv[ci, i], share[ci]
            for lane in range(held.size):
                on = tau[cu, lane] > t
                held[lane] += pv if on else 0.0
                given_up[lane] += part * partial[ci, lane] if on else 0.0


@njit(inline="always")
def affine(a, c, f, left, z, out):
    """out = a left + c + f z per lane (a month's step); out is not an input."""
    for r in range(out.shape[0]):
        for lane in range(out.shape[1]):
            v = c[r]
            for j in range(out.shape[0]):
                v += a[r, j] * left[j, lane] + f[r, j] * z[j, lane]
            out[r, lane] = v


@njit(inline="always")
def bridge(a, b, c, f, at, left, right, z, out):
    """out = a[at] left + b[at] right + c[at] + f[at] z per lane, the coefficients read in
    place (a slice would count a reference); out is neither input."""
    for r in range(out.shape[0]):
        for lane in range(out.shape[1]):
            v = c[at, r]
            for j in range(out.shape[0]):
                v += a[at, r, j] * left[j, lane] + f[at, r, j] * z[j, lane]
                v += b[at, r, j] * right[j, lane]
            out[r, lane] = v


@njit(inline="always")
def copy_state(source, target):
    """target[:, :] = source, as loops (a slice assignment would count references)."""
    for r in range(source.shape[0]):
        for lane in range(source.shape[1]):
            target[r, lane] = source[r, lane]


@njit(inline="always")
def month_normals(k0, k1, ids, signs, month, z1, z2, z3, z5, z):
    """z[:, lane] = the normals of `month`, three, or four with a basis factor (four months
    share one draw per stream)."""
    row = month % 4
    basis = z.shape[0] > 3
    if row == 0:
        draw_normals4(k0, k1, ids, signs, 0, month // 4, z1)
        draw_normals4(k0, k1, ids, signs, 1, month // 4, z2)
        draw_normals4(k0, k1, ids, signs, UTIL_STREAM, month // 4, z3)
        if basis:
            draw_normals4(k0, k1, ids, signs, BASIS_STREAM, month // 4, z5)
    for lane in range(ids.size):
        z[0, lane] = z1[row, lane]
        z[1, lane] = z2[row, lane]
        z[2, lane] = z3[row, lane]
    if basis:
        for lane in range(ids.size):
            z[3, lane] = z5[row, lane]


@njit(inline="always")
def bridge_normals(k0, k1, ids, signs, stream, counter, z4, z):
    """z[:, lane] = the first three or four normals of (stream, counter)."""
    draw_normals4(k0, k1, ids, signs, stream, counter, z4)
    for r in range(z.shape[0]):
        for lane in range(ids.size):
            z[r, lane] = z4[r, lane]


@njit(inline="always")
def bisect(k0, k1, ids, signs, fa, i, start, end, z4, z, left, right, mid, out):
    """The Gaussian state at date i inside its month (gpufin.models.keyed): halve the month
    down to the date's finest cell from the month's ends `start` and `end`, then bridge."""
    month, cell = fa.month[i], fa.cell[i]
    copy_state(start, left)
    copy_state(end, right)
    heap = 1
    for level in range(LEVELS):
        bridge_normals(k0, k1, ids, signs, BISECT_STREAM, month * (1 << LEVELS) + heap, z4, z)
        bridge(fa.level_a, fa.level_b, fa.level_c, fa.level_f, level, left, right, z, mid)
        if (cell >> (LEVELS - 1 - level)) & 1:
            copy_state(mid, left)
            heap = 2 * heap + 1
        else:
            copy_state(mid, right)
            heap = 2 * heap
    bridge_normals(k0, k1, ids, signs, DATE_STREAM, fa.minute[i], z4, z)
    bridge(fa.final_a, fa.final_b, fa.final_c, fa.final_f, i, left, right, z, out)


@njit(inline="always")
def take_events(k0, k1, ids, signs, ix, clock, month_start, scratch, spikes, launched):
    """Consume each lane's Poisson events up to `clock` (event rate x time): a launch adds to
    `launched`; a spike at tau to `spikes`, weighted e^{kappa (tau - month_start)} (the
    spike part of chi at t in the month is spikes x e^{-kappa (t - month_start)})."""
    next_event, seen, _ = scratch
    for lane in range(ids.size):
        while next_event[lane] <= clock:
            seen[lane] += 1
            za, gap, kind = event_draw(k0, k1, ids[lane], EVENT_STREAM, seen[lane])
            z = signs[lane] * za
            if kind < ix.launch_share:
                launched[lane] += ix.launch_mean + ix.launch_vol * z
            else:
                tau = next_event[lane] / ix.event_rate
                spikes[lane] += (ix.spike_mean + ix.spike_vol * z) * np.exp(ix.kappa * (tau - month_start))
            next_event[lane] += gap


@njit(cache=CACHE, error_model="numpy")
def late_deliveries(d0, d1, ids, probability, words, is_late):
    """is_late[delivery, lane]: whether each delivery comes late on the lane's path."""
    for k in range(is_late.shape[0]):
        draw_words(d0, d1, ids, DELAY_STREAM, k, words)
        for lane in range(ids.size):
            is_late[k, lane] = uniform_open(words[0, lane]) < probability


def fleet_paths(seed, first_path, n_paths, ix, fleet_args):
    """out[series - first_series, path, date] for paths first_path .. first_path + n_paths - 1
    of the fleet `fleet_args` (a FleetArgs record) on the index `ix` (a TwoFactorArgs record),
    `seed` the Philox key of the index's draws; with fleet_args.write_state, chi and xi (and
    a basis index's c) in the rows after the series, and with write_parts the N_PARTS rows
    of the parts after those."""
    fa = fleet_args
    chi_row = (GOING + 1 if fa.continuation else GOING) - fa.first_series
    parts_row = chi_row + (3 if fa.basis else 2) if fa.write_state else chi_row
    out = np.empty((parts_row + N_PARTS if fa.write_parts else parts_row, n_paths, fa.times.size))
    run_ranges(fleet_groups, -(-n_paths // LANES), out, chi_row, parts_row, seed, first_path,
               n_paths, ix, fa)
    return out


@range_kernel
def fleet_groups(lo, hi, out, chi_row, parts_row, seed, first_path, n_paths, ix, fleet_args):
    """The paths of fleet_paths in lane groups lo .. hi - 1, the state's rows from chi_row and
    the parts' from parts_row."""
    k0, k1 = split_seed(seed)
    fa = fleet_args
    shift, chi0, xi0, event_rate = ix.shift, ix.chi0, ix.xi0, ix.event_rate
    times, hours, fleet, opex = fa.times, fa.hours, fa.fleet, fa.opex
    contracted_cash, share = fa.contracted_cash, fa.share
    start, end, customer = fa.start, fa.end, fa.customer
    hazard, released_cash = fa.hazard, fa.released_cash
    valuation, floor, elasticity = fa.valuation, fa.floor, fa.elasticity
    opex_pv = fa.opex_pv
    residual_base, book = fa.residual_base, fa.book
    launch_at, spike_decay = fa.launch_at, fa.spike_decay
    n_dates = times.size
    events = event_rate > 0.0
    going, displaced = fa.continuation, fa.displaced
    n_deliveries = fa.on_time.shape[0]
    delays = fa.delay_probability > 0.0
    n_customers = hazard.size
    d0, d1 = fa.fleet_key[0], fa.fleet_key[1]
    releasing = fa.releasing_downtime > 0.0 or fa.relet_ratio > 0.0
    relets = fa.relet_ratio > 0.0
    first = fa.first_series
    basis = fa.basis
    n_state = 4 if basis else 3
    parts = fa.write_parts
    for g in range(lo, hi):
        scratch = jump_scratch(LANES)
        z1 = np.empty((4, LANES))
        z2 = np.empty((4, LANES))
        z3 = np.empty((4, LANES))
        z4 = np.empty((4, LANES))
        z5 = np.empty((4, LANES))
        z = np.empty((n_state, LANES))
        start_state = np.empty((n_state, LANES))   # Gaussian (chi, xi, Y[, c]) at the month's start
        end_state = np.empty((n_state, LANES))     # and at its end
        state = np.empty((n_state, LANES))         # at the date
        left = np.empty((n_state, LANES))
        right = np.empty((n_state, LANES))
        mid = np.empty((n_state, LANES))
        spikes = np.zeros(LANES)
        launched = np.zeros(LANES)               # Poisson launches
        scheduled = np.zeros(LANES)              # scheduled launches
        words = np.empty((4, LANES), dtype=np.uint64)
        ids = np.empty(LANES, dtype=np.uint64)
        signs = np.empty(LANES)
        tau = np.empty((max(hazard.size, 1), LANES))
        factor = np.zeros(LANES)
        platform_tau = np.full(LANES, np.inf)
        relet = np.full((start.size if releasing else 0, LANES), -1.0)   # -1: not re-let
        idle = np.zeros(LANES)
        relet_rate = np.zeros(LANES)
        revenue = np.empty(LANES)
        moving = np.zeros(LANES)                 # the part of revenue that moves with the index
        moving_cash = np.zeros(LANES)
        raw_income = np.zeros(LANES)
        held = np.zeros(LANES)
        given_up = np.zeros(LANES)
        per_gpu = np.empty(LANES)
        gpus = np.empty(LANES)
        is_late = np.zeros((n_deliveries, LANES), dtype=np.bool_)
        income = np.empty(LANES)
        income_work = income_scratch(LANES, displaced.shape[0])
        index = np.empty(LANES)
        util = np.empty(LANES)
        rate = np.empty(LANES)
        taken = np.empty(LANES)
        cash = np.empty(LANES)
        value = np.empty(LANES)
        partial = np.empty((displaced.shape[0], LANES))
        chi = np.empty(LANES)
        xi = np.empty(LANES)
        y = np.empty(LANES)
        c = np.empty(LANES)                      # the basis index's short factor
        basis_level = np.empty(LANES)
        for lane in range(LANES):
            ids[lane] = np.uint64(first_path + g * LANES + lane)
            signs[lane] = 1.0
            state[0, lane] = chi0
            state[1, lane] = xi0
            state[2, lane] = fa.y0
            if basis:
                state[3, lane] = fa.basis_c0
        if events:
            jump_start(k0, k1, ids, scratch)
        if delays:
            late_deliveries(d0, d1, ids, fa.delay_probability, words, is_late)
        draw_defaults(ids, signs, fa, z1, z2, z3, words, factor, tau, platform_tau)
        if fa.platform == ENDS:
            for lane in range(LANES):
                ends = uniform_open(words[1, lane]) < fa.end_probability
                for cu in range(n_customers):
                    tau[cu, lane] = min(tau[cu, lane], platform_tau[lane] if ends else np.inf)
        month = -1                     # the month whose end end_state holds
        launches = 0                   # scheduled launches taken
        for i in range(n_dates):
            if i > 0:
                while month < fa.month[i]:
                    if month >= 0:     # close the month: its last events, the spikes' decay
                        if events:
                            take_events(k0, k1, ids, signs, ix, event_rate * (month + 1) / 12.0,
                                        month / 12.0, scratch, spikes, launched)
                        for lane in range(LANES):
                            spikes[lane] *= fa.month_decay
                    month += 1
                    copy_state(state if month == 0 else end_state, start_state)
                    month_normals(k0, k1, ids, signs, month, z1, z2, z3, z5, z)
                    affine(fa.step_a, fa.step_c, fa.step_f, start_state, z, end_state)
                if fa.canonical[i]:
                    copy_state(end_state, state)
                else:
                    bisect(k0, k1, ids, signs, fa, i, start_state, end_state, z4, z, left, right,
                           mid, state)
                if events:
                    take_events(k0, k1, ids, signs, ix, ix.event_clock[i - 1], month / 12.0,
                                scratch, spikes, launched)
                while launches < launch_at.size and launch_at[launches] <= times[i] + 1e-12:
                    draw_normals4(k0, k1, ids, signs, LAUNCH_STREAM, launches, z4)
                    for lane in range(LANES):
                        scheduled[lane] += ix.launch_mean + ix.launch_vol * z4[0, lane]
                    launches += 1
            for lane in range(LANES):
                chi[lane] = state[0, lane] + spikes[lane] * spike_decay[i]
                xi[lane] = state[1, lane] + launched[lane] + scheduled[lane]
                y[lane] = state[2, lane]
            if basis:
                for lane in range(LANES):
                    c[lane] = state[3, lane]
                    basis_level[lane] = exp_vec(fa.basis_shift[i] + c[lane] + xi[lane])
            merchant = basis_level if fa.merchant_basis else index
            for lane in range(LANES):
                gpus[lane] = fleet[i]
            if delays:
                for lane in range(LANES):
                    gpus[lane] = 0.0
                    for k in range(n_deliveries):
                        gpus[lane] += fa.late[k, i] if is_late[k, lane] else fa.on_time[k, i]
            g_shift = shift[i - 1] if i > 0 else 0.0
            if valuation == INCOME or going:
                fleet_income(LANES, i, c if fa.merchant_basis else chi, xi, y, fa, income_work, income,
                             partial)
                for lane in range(LANES):
                    raw_income[lane] = income[lane]
                    income[lane] = max(income[lane] - opex_pv[i], floor)
            if valuation == INCOME:
                for lane in range(LANES):
                    per_gpu[lane] = income[lane]
            elif valuation == RESIDUAL:
                for lane in range(LANES):
                    per_gpu[lane] = residual_base[i] * exp_vec(elasticity * xi[lane])
            else:
                for lane in range(LANES):
                    per_gpu[lane] = book[i]
            for lane in range(LANES):
                index[lane] = exp_vec(g_shift + chi[lane] + xi[lane])
                util[lane] = logistic(state[2, lane])
            if i > 0:
                if releasing:
                    releasing_rates(i, fa.period_start[i], times[i], times, start, end, customer,
                                    contracted_cash, released_cash, share, tau, fa.releasing_downtime,
                                    fa.contracted, relet, rate, taken, idle, relet_rate)
                    for lane in range(LANES):
                        revenue[lane] = rate[lane] + (1.0 - taken[lane] - idle[lane]) * util[lane] * merchant[lane]
                        moving[lane] = relet_rate[lane] + (1.0 - taken[lane] - idle[lane]) * util[lane] * merchant[lane]
                else:
                    contract_rates(i, times[i], start, end, customer, contracted_cash, released_cash,
                                   share, tau, rate, taken)
                    for lane in range(LANES):
                        revenue[lane] = rate[lane] + (1.0 - taken[lane]) * util[lane] * merchant[lane]
                        moving[lane] = (1.0 - taken[lane]) * util[lane] * merchant[lane]
                if fa.platform == REPLACED:
                    servicer_cash(fa.period_start[i], times[i], hours[i - 1], gpus, revenue, opex,
                                  platform_tau, fa.platform_downtime, fa.replacement_usd,
                                  fa.replacement_months * fa.month_hours, cash)
                    if parts:
                        servicer_cash(fa.period_start[i], times[i], hours[i - 1], gpus, moving, 0.0,
                                      platform_tau, fa.platform_downtime, 0.0,
                                      fa.replacement_months * fa.month_hours, moving_cash)
                else:
                    for lane in range(LANES):
                        cash[lane] = hours[i - 1] * gpus[lane] * (revenue[lane] - opex)
                        moving_cash[lane] = hours[i - 1] * gpus[lane] * moving[lane]
            else:
                for lane in range(LANES):
                    cash[lane] = 0.0
            if relets:
                capture_relet(i, times[i], times, start, end, customer, tau, fa.releasing_downtime,
                              fa.relet_ratio, basis_level if fa.relet_basis else index, relet)
            if going:
                going_values(i, times[i], end, customer, share, fa.contract_pv, tau, income,
                             partial, value)
                if parts:
                    going_parts(i, times[i], end, customer, share, fa.contract_pv, tau, partial, held,
                                given_up)
            for lane in range(min(LANES, n_paths - g * LANES)):
                p = g * LANES + lane
                if first == INDEX:
                    out[INDEX, p, i] = index[lane]
                    out[UTIL, p, i] = util[lane]
                out[CASH - first, p, i] = cash[lane]
                out[VALUE - first, p, i] = gpus[lane] * per_gpu[lane]
                if going:
                    out[GOING - first, p, i] = gpus[lane] * value[lane]
                if fa.write_state:
                    out[chi_row, p, i] = chi[lane]
                    out[chi_row + 1, p, i] = xi[lane]
                    if basis:
                        out[chi_row + 2, p, i] = c[lane]
                if parts:
                    out[parts_row + MOVING_CASH, p, i] = moving_cash[lane]
                    out[parts_row + GPUS, p, i] = gpus[lane]
                    out[parts_row + MERCHANT_VALUE, p, i] = gpus[lane] * raw_income[lane]
                    out[parts_row + CONTRACTS_HELD, p, i] = gpus[lane] * held[lane]
                    out[parts_row + MERCHANT_GIVEN_UP, p, i] = gpus[lane] * given_up[lane]


@njit(cache=CACHE, error_model="numpy")
def name_default_times(first_path, n_paths, fleet_args):
    """times[name, path]: the default time (years) of each customer, then of the platform when
    the fleet has one, on paths first_path .. first_path + n_paths - 1, as fleet_paths draws
    them (a customer's own time, before a platform's default ends its contracts)."""
    fa = fleet_args
    n_customers = fa.hazard.size
    out = np.empty((fa.name_loading.size, n_paths))
    z1 = np.empty((4, LANES))
    z2 = np.empty((4, LANES))
    z3 = np.empty((4, LANES))
    words = np.empty((4, LANES), dtype=np.uint64)
    ids = np.empty(LANES, dtype=np.uint64)
    signs = np.ones(LANES)
    factor = np.zeros(LANES)
    tau = np.empty((max(n_customers, 1), LANES))
    platform_tau = np.full(LANES, np.inf)
    for g in range(-(-n_paths // LANES)):
        for lane in range(LANES):
            ids[lane] = np.uint64(first_path + g * LANES + lane)
        draw_defaults(ids, signs, fa, z1, z2, z3, words, factor, tau, platform_tau)
        for lane in range(min(LANES, n_paths - g * LANES)):
            p = g * LANES + lane
            for cu in range(n_customers):
                out[cu, p] = tau[cu, lane]
            if fa.platform > 0:
                out[n_customers, p] = platform_tau[lane]
    return out
