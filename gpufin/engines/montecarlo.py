"""Monte Carlo driver: builds the time grid and kernel arrays once, runs the kernels in
chunks of whole blocks, and turns per-block sums into an estimate with its standard error.

Reproducibility: every path draws from Philox by (seed, path, stream, step); per-block
sums are formed in a fixed order inside the kernel and added across blocks with
`math.fsum` (exactly rounded, so independent of order). Hence the result is bitwise
the same for any thread count and any chunk size.

Index states (`index_chunks`, `Horizon`): the paths of every index of a model with, where
the model has one, its state (chi, xi) at each date: two-factor models (schwartz,
schwartz-smith, multi-index) jointly through gpufin.models.multi_index, GBM and Merton
through the path kernel (the level is the state). At a date h the state gives E_h[S_t] in
closed form, jumps and spikes included: exp(L(h, t) + e^{-kappa (t - h)} chi_h + xi_h), L
the index's `conditional_log_level`; S_h e^{-q (t - h)} DF(h) / DF(t) for GBM and Merton.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpufin.models.index import Lognormal, TwoFactor, build_model
from gpufin.models.multi_index import IndexPaths, build_indices
from pricing_kernels import lognormal, pathwise
from pricing_kernels.index_paths import lognormal_paths
from pricing_kernels.pathwise import DELTA_STATS, VEGA_STATS
from pricing_kernels.payoff import (AVERAGER, BARRIER_DIR, BLOCK, BRIDGE, GEOMETRIC, KNOCK_IN,
                                    N_FLAGS, N_STATS)
from gpufin.spec.schema import GBMSpec, JumpDiffusionSpec
from pricing_kernels.records import PathwiseArgs, PayoffArgs, make
from pricing_kernels.two_factor import two_factor_event_stats, two_factor_stats

SEED_MOD = 2 ** 64
Z95 = 1.959963984540054        # two-sided 95% normal quantile, for confidence intervals
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)   # quantiles reported by date (loans, fleets)
PATH_CHUNK = 16_384       # paths per call of the path-array kernels (fleet, index, loan)
# Grid for continuous barriers when the bridge is approximate (jumps, two factors) or
# when a knock-out rebate is paid at the hit, discounted from the end of the step it falls in.
DEFAULT_BARRIER_STEPS = 252
MERGE = 1e-10           # years: grid points closer than this are one point
# each price kernel's twin that also sums the pathwise delta and vega (pricing_kernels.pathwise)
GREEK_KERNELS = {lognormal.lognormal_stats: pathwise.lognormal_greek_stats,
                 lognormal.lognormal_event_stats: pathwise.lognormal_event_greek_stats,
                 two_factor_stats: pathwise.two_factor_greek_stats,
                 two_factor_event_stats: pathwise.two_factor_event_greek_stats}


@dataclass(frozen=True)
class Estimate:
    """Mean discounted payoff per unit notional, its standard error and sample count."""
    value: float
    stderr: float
    samples: int
    beta: float | None = None


@dataclass(frozen=True)
class Greeks:
    """Pathwise delta (per unit of spot) and vega (per 1.00 of volatility) per unit notional,
    with their standard errors."""
    delta: float
    delta_stderr: float
    vega: float
    vega_stderr: float


def time_grid(plan, model, steps_per_year: int | None) -> np.ndarray:
    """Grid in years: 0, every event, scheduled launches, and an optional uniform refinement
    (whose points within MERGE of an event give way to it)."""
    end = plan.maturity
    points = {0.0, *plan.event_times().tolist()}
    if isinstance(model, TwoFactor):
        points.update(t for t in model.launch_times if t <= end)
    knock = plan.barrier
    continuous = knock is not None and knock.monitor_times is None
    if steps_per_year is None:
        exact_bridge = isinstance(model, Lognormal) and not model.has_jumps
        rebate_at_hit = knock is not None and knock.rebate > 0.0 and not knock.knock_in
        needs_grid = continuous and (rebate_at_hit or not exact_bridge)
        steps_per_year = DEFAULT_BARRIER_STEPS if needs_grid else 0
    uniform = np.linspace(0.0, end, int(math.ceil(end * steps_per_year)) + 1) if steps_per_year else []
    return merged_grid(list(points), uniform)


def merged_grid(events, extra) -> np.ndarray:
    """The sorted union of `events` and the `extra` points that lie more than MERGE from every
    event (an event is never moved; a nearby extra point gives way to it)."""
    events = np.unique(np.asarray(events, dtype=float))
    extra = np.asarray(extra, dtype=float)
    if extra.size == 0:
        return events
    at = np.searchsorted(events, extra).clip(1, max(events.size - 1, 1))
    gap = np.minimum(np.abs(extra - events[at - 1]), np.abs(extra - events[np.minimum(at, events.size - 1)]))
    return np.union1d(events, extra[gap > MERGE])


def payoff_arrays(plan, grid: np.ndarray, market) -> dict:
    """The observation arrays of pricing_kernels.payoff for a plan on a grid (years), but the
    steps' discount factors (stack_payoffs')."""
    return {**schedule_arrays(plan, grid), **term_arrays(plan, market)}


def schedule_arrays(plan, grid: np.ndarray) -> dict:
    """payoff_arrays' steps at which the plan fixes, closes and monitors, and its flags: what
    neither its strikes, its known prints nor its curve change."""
    n_steps = grid.size - 1
    index = {t: i - 1 for i, t in enumerate(grid.tolist())}   # time -> step ending there
    fix_period = np.full(n_steps, -1, dtype=np.int64)
    fix_weight = np.zeros(n_steps)
    close_period = np.full(n_steps, -1, dtype=np.int64)
    for p, period in enumerate(plan.periods):
        steps = np.searchsorted(grid, period.print_times) - 1
        fix_period[steps] = p
        np.add.at(fix_weight, steps, 1.0 / period.total_prints)   # prints at one time add up
        last = period.print_times[-1] if period.print_times else None
        close_period[index[last] if last is not None else 0] = p
    monitor = np.zeros(n_steps, dtype=np.int64)
    flags = np.zeros(N_FLAGS, dtype=np.int64)
    flags[GEOMETRIC] = int(plan.geometric)
    knock = plan.barrier
    if knock is not None:
        if knock.monitor_times is None:
            monitor[:] = 1
            flags[BRIDGE] = 1
        else:
            monitor[[index[t] for t in knock.monitor_times]] = 1
        flags[BARRIER_DIR] = 1 if knock.up else -1
        flags[KNOCK_IN] = int(knock.knock_in)
    return dict(fix_period=fix_period, fix_weight=fix_weight, close_period=close_period,
                monitor=monitor, flags=flags)


def term_arrays(plan, market) -> dict:
    """payoff_arrays' strikes, known prints, payment discount factors and barrier levels."""
    periods = plan.periods
    pay_times = np.array([p.pay_time for p in periods], dtype=float)
    levels = np.zeros(3)
    knock = plan.barrier
    if knock is not None:
        levels[:] = (math.log(knock.level), knock.rebate, market.discount(plan.maturity)[0])
    return dict(strike=np.array([p.strike for p in periods], dtype=float),
                omega=np.array([p.omega for p in periods], dtype=float),
                linear=np.array([int(p.linear) for p in periods], dtype=np.int64),
                pay_df=market.discount(pay_times) if plan.discounted else np.ones(pay_times.size),
                known_arith=np.array([p.known_sum / p.total_prints for p in periods]),
                known_geo=np.array([p.known_log_sum / p.total_prints for p in periods]),
                levels=levels)


STACKED = ("fix_period", "fix_weight", "close_period", "monitor", "flags", "levels")
PER_PERIOD = {"strike": 0.0, "omega": 1.0, "linear": 1, "pay_df": 0.0, "known_arith": 0.0,
              "known_geo": 0.0}


def stack_payoffs(arrays: list[dict], step_df: np.ndarray) -> PayoffArgs:
    """Payoff arrays of several plans on one grid, stacked along a leading payoff axis, with
    step_df the discount factor at each step's end (of the curve that pays rebates at a hit);
    period arrays are padded (padding periods are never closed, so they pay nothing).
    flags[q, AVERAGER] is the first payoff with q's fixing schedule; the *_ptr / *_q
    arrays list by step the payoffs that fix (leaders only), close and are monitored."""
    width = max(a["strike"].size for a in arrays)
    out = {"step_df": step_df}
    for name in STACKED:
        out[name] = np.stack([a[name] for a in arrays])
    schedules = {}      # payoffs fixed and closed on the same steps share running averages
    for q, a in enumerate(arrays):
        schedule = (a["fix_period"].tobytes(), a["fix_weight"].tobytes(), a["close_period"].tobytes())
        out["flags"][q, AVERAGER] = schedules.setdefault(schedule, q)
    leader = out["flags"][:, AVERAGER] == np.arange(len(arrays))
    events = {"fix": (out["fix_period"] >= 0) & leader[:, None], "close": out["close_period"] >= 0,
              "monitor": out["monitor"] != 0}
    for name, fill in PER_PERIOD.items():
        out[name] = np.full((len(arrays), width), fill, dtype=arrays[0][name].dtype)
        for q, a in enumerate(arrays):
            out[name][q, :a[name].size] = a[name]
    for name, mask in events.items():
        out[f"{name}_ptr"], out[f"{name}_q"] = step_lists(mask)
    return make(PayoffArgs, **{name: out[name] for name in PayoffArgs._fields})


def step_lists(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, q) listing, for each step i, the payoffs q with mask[q, i] as q[ptr[i]:ptr[i+1]]."""
    steps, payoffs = np.nonzero(mask.T)
    ptr = np.searchsorted(steps, np.arange(mask.shape[1] + 1))
    return ptr.astype(np.int64), payoffs.astype(np.int64)


def pathwise_args(plans, spot: float) -> PathwiseArgs:
    """The PathwiseArgs of several plans on one model (spot in USD/GPU-hr), padded per period
    as stack_payoffs pads (a padding period never closes)."""
    width = max(len(plan.periods) for plan in plans)

    def per_period(value) -> np.ndarray:
        rows = [[value(p) for p in plan.periods] for plan in plans]
        return np.array([row + [0.0] * (width - len(row)) for row in rows], dtype=float)

    return make(PathwiseArgs, spot_arith=per_period(lambda p: p.today_prints * spot / p.total_prints),
                spot_share=per_period(lambda p: (p.today_prints + len(p.print_times)) / p.total_prints))


def kernel_call(model, grid, plans, market, pathwise: PathwiseArgs | None = None):
    """The kernel and its (model, payoff) records, for one or several plans on one grid
    (years); given the plans' PathwiseArgs, the kernel that also sums the pathwise delta and
    vega, and its records (model, payoff, vega, pathwise)."""
    model_args = model.kernel_args(grid, market)
    payoff_args = stack_payoffs([payoff_arrays(plan, grid, market) for plan in plans], market.discount(grid[1:]))
    bridge = payoff_args.flags[:, BRIDGE].any()
    if isinstance(model, Lognormal):
        events = model_args.pois_cdf.shape[1] > 0 or bridge
        kernel = lognormal.lognormal_event_stats if events else lognormal.lognormal_stats
    else:
        events = model_args.event_rate > 0.0 or model_args.launch_sched.any() or bridge
        kernel = two_factor_event_stats if events else two_factor_stats
    if pathwise is not None:
        return GREEK_KERNELS[kernel], (model_args, payoff_args, model.vega_args(grid), pathwise)
    return kernel, (model_args, payoff_args)


def seed_key(seed: int) -> np.uint64:
    """The Philox key of a seed: the seed reduced mod 2**64."""
    return np.uint64(seed % SEED_MOD)


def simulate_sums(kernel, args, n_paths: int, seed: int, antithetic: bool,
                  chunk_paths: int | None = None) -> np.ndarray:
    """sums[payoff] = (count, Y, Y^2, X, X^2, XY) over all paths, in chunks of whole blocks
    (a greek kernel's then add those of delta and vega, pricing_kernels.pathwise)."""
    n_blocks = -(-n_paths // BLOCK)
    chunk_blocks = n_blocks if not chunk_paths else max(1, chunk_paths // BLOCK)
    key = seed_key(seed)
    parts = [kernel(key, n_paths, first, min(chunk_blocks, n_blocks - first), antithetic, *args)
             for first in range(0, n_blocks, chunk_blocks)]
    stats = np.concatenate(parts, axis=1)
    return np.array([[math.fsum(stats[q, :, j]) for j in range(stats.shape[2])]
                     for q in range(stats.shape[0])])


def estimate(sums: np.ndarray, cv_mean: float | None) -> Estimate:
    """Sample mean and standard error; with cv_mean, the control-variate estimator
    Y - beta (X - E[X]) with beta = cov(X, Y) / var(X) estimated from the same samples."""
    n, sy, syy, sx, sxx, sxy = sums[:N_STATS]
    my, var_y = _mean_variance(n, sy, syy)
    if cv_mean is None:
        return Estimate(my, math.sqrt(var_y / n), int(n))
    mx, var_x = _mean_variance(n, sx, sxx)
    cov = (sxy - n * mx * my) / (n - 1)
    if var_x <= 0.0:
        return Estimate(my, math.sqrt(var_y / n), int(n))
    beta = cov / var_x
    residual = max(var_y - cov * cov / var_x, 0.0)
    return Estimate(my - beta * (mx - cv_mean), math.sqrt(residual / n), int(n), beta)


def greek_estimates(sums: np.ndarray, spot: float, cv_means: tuple | None) -> Greeks:
    """The pathwise Greeks from a greek kernel's sums (pricing_kernels.pathwise), with
    cv_means the (delta, vega) of the control variate (None: none). The kernels sum
    dV/d ln S_0, so delta is their estimate over the spot (USD/GPU-hr)."""
    cv_delta, cv_vega = (None, None) if cv_means is None else (cv_means[0] * spot, cv_means[1])
    delta = estimate(sums[DELTA_STATS:DELTA_STATS + N_STATS], cv_delta)
    vega = estimate(sums[VEGA_STATS:VEGA_STATS + N_STATS], cv_vega)
    return Greeks(float(delta.value / spot), delta.stderr / spot, float(vega.value), vega.stderr)


def _mean_variance(n: float, total: float, squares: float) -> tuple[float, float]:
    """Sample mean and (unbiased) variance from a count, a sum and a sum of squares."""
    mean = total / n
    return mean, max(squares - n * mean * mean, 0.0) / (n - 1)


SINGLE = "index"            # the name of a single-index model's index


@dataclass(frozen=True)
class LognormalIndex:
    """A GBM or Merton index as a one-index model with the interface of
    gpufin.models.multi_index.MultiIndex (names, index, simulate)."""
    model: Lognormal
    market: object
    names: tuple = (SINGLE,)

    def index(self, name: str) -> Lognormal:
        return self.model

    def simulate(self, times, n_paths: int, seed: int, first_path: int = 0) -> dict:
        level = lognormal_paths(seed_key(seed), first_path, n_paths, self.model.kernel_args(times, self.market))
        return {SINGLE: IndexPaths(level, None, None)}


def build_index_set(s, market):
    """The indices of a validated spec's index model: a MultiIndex (two-factor kinds), or a
    LognormalIndex (GBM and Merton, on `market`'s curve)."""
    if isinstance(s.model, (GBMSpec, JumpDiffusionSpec)):
        return LognormalIndex(build_model(s.model, s.timeline), market)
    return build_indices(s)


@dataclass(frozen=True)
class Horizon:
    """One index's paths and state at grid column `at`, time `time` (years)."""
    model: object
    market: object
    time: float
    paths: IndexPaths
    at: int

    def mean(self, times: np.ndarray) -> np.ndarray:
        """E_h[S_t] [paths, len(times)] for times t >= h (years), USD/GPU-hr."""
        times = np.asarray(times, dtype=float)
        if isinstance(self.model, Lognormal):
            dfs = self.market.discount(np.concatenate([[self.time], times]))
            growth = np.exp(-self.model.dividend * (times - self.time)) * dfs[0] / dfs[1:]
            return self.paths.level[:, self.at, None] * growth[None, :]
        decay = np.exp(-self.model.kappa * (times - self.time))
        log_level = self.model.conditional_log_level(self.time, times)
        return np.exp(log_level[None, :] + decay[None, :] * self.paths.chi[:, self.at, None]
                      + self.paths.xi[:, self.at, None])

    def long_factor(self) -> np.ndarray:
        """The index's long-term factor per path: xi_h (two-factor), ln S_h (GBM, Merton)."""
        if isinstance(self.model, Lognormal):
            return np.log(self.paths.level[:, self.at])
        return self.paths.xi[:, self.at]


def index_chunks(indices, market, grid: np.ndarray, horizon: float, n_paths: int, seed: int):
    """Yield (first_path, {name: IndexPaths}, {name: Horizon}) chunk by chunk: every index on
    `grid` (years, holding `horizon`), paths numbered from first_path (any chunking gives
    the same numbers)."""
    at = int(np.searchsorted(grid, horizon))
    for first in range(0, n_paths, PATH_CHUNK):
        paths = indices.simulate(grid, min(PATH_CHUNK, n_paths - first), seed, first)
        yield first, paths, {name: Horizon(indices.index(name), market, horizon, p, at)
                             for name, p in paths.items()}


def state_estimate(indices, name: str, market, t: float, n_paths: int, seed: int, payoff) -> Estimate:
    """Mean and standard error of `payoff(horizon)` (a value per path from the Horizon of
    index `name` at t years, one exact step from 0) over n_paths paths of `seed`."""
    values = np.concatenate([payoff(horizons[name]) for _, _, horizons in
                             index_chunks(indices, market, np.array([0.0, t]), t, n_paths, seed)])
    n = values.size
    mean = math.fsum(values) / n
    return Estimate(mean, math.sqrt(math.fsum((values - mean) ** 2) / (n - 1) / n), n)
