"""GPU-backed loans (`instrument.kind = "loan"`) priced on collateral paths.

QuantLib builds the payment schedule once (US government-bond calendar, modified
following, ACT/360 accrual) and the forward SOFR of each period from the discount curve,
(DF(start) / DF(end) - 1) / accrual, the expected compounded SOFR of the period. The
collateral is a gpu-fleet (operating cash and collateral value per path and date,
gpufin.fleet) or an index model, whose simulated level is the collateral value and which
has no operating cash: debt service then comes from the sponsor and only the covenants and
the balloon can default (a zero-coupon bullet with no covenants, haircut or lag is Merton
1974 debt; with a haircut and no lag it pays min(principal, V_T (1 - haircut))). The waterfall runs in
pricing_kernels.loan; this module prepares its arrays and summarizes the paths.

Value conventions (USD): `value` = PV of the lender's receipts (interest, fees, principal,
recoveries) minus PV of the draws it funds after the valuation date; `price_pct` = 100 x
E[PV receipts] / E[PV of the draws funded] (no draw is funded after a default; 100 = par); `expected_loss` = E[DF(default) x claim - PV
recovery]; `lgd` = expected loss / E[DF(default) x claim]; `wal` in years of expected
principal repayments.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from gpufin.dates import DAYS_PER_YEAR, to_days
from gpufin.errors import SpecError
from gpufin.montecarlo import PATH_CHUNK, QUANTILES, Z95, contiguous, seed_key
from gpufin.spec import Spec, load_spec

AMORTIZATION = {"bullet": 0, "linear": 1, "annuity": 2, "sculpted": 3, "sweep": 4}
DEFAULT_SWEEP_SHARE = 0.5       # FACTS.md 8.5: 50% of excess cash (estimate)
CACHE_BYTES = 1 << 30           # collateral paths kept in memory for spread solving


@dataclass(frozen=True)
class Schedule:
    """Payment periods in days from the valuation date, ACT/360 accruals, base rates."""
    start_days: np.ndarray
    pay_days: np.ndarray
    accrual: np.ndarray          # ACT/360 year fraction of each period
    forward: np.ndarray          # forward SOFR of each period (simple, ACT/360)


def build_schedule(ins, market) -> Schedule:
    """QuantLib schedule from the valuation date to maturity at `payment_frequency`."""
    ql = market.ql
    maturity = to_days(ins.maturity, "instrument.maturity", market.valuation_date)
    if maturity <= 0:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a time after the valuation date")
    try:
        tenor = ql.Period(ins.payment_frequency)
    except RuntimeError:
        raise SpecError("instrument.payment_frequency",
                        f"got {ins.payment_frequency!r}; expected a tenor such as 1M, 3M or 6M") from None
    calendar = ql.UnitedStates(ql.UnitedStates.GovernmentBond)
    day0 = market.ql_date(0)
    dates = list(ql.Schedule(day0, market.ql_date(maturity), tenor, calendar, ql.ModifiedFollowing,
                             ql.ModifiedFollowing, ql.DateGeneration.Backward, False))
    dates[0] = day0        # money lent on the valuation date accrues from it, holiday or not
    days = np.array([d - day0 for d in dates], dtype=np.int64)
    a360 = ql.Actual360()
    accrual = np.array([a360.yearFraction(a, b) for a, b in zip(dates[:-1], dates[1:])])
    df = market.discount(days / DAYS_PER_YEAR)
    return Schedule(days[:-1], days[1:], accrual, (df[:-1] / df[1:] - 1.0) / accrual)


@dataclass(frozen=True)
class LoanTerms:
    schedule: Schedule
    rates: np.ndarray            # all-in annual rate of each period
    draw_days: np.ndarray
    draw_amounts: np.ndarray
    commitment: float
    amortization: str
    amort_start: int             # first payment with scheduled principal
    sweep_share: float
    floating: bool


def loan_terms(ins, market, spread: float | None = None) -> LoanTerms:
    """Check the loan's keys and fix its schedule, rates and draws."""
    schedule = build_schedule(ins, market)
    if (ins.coupon is None) == (ins.spread is None):
        raise SpecError("instrument.coupon", "give exactly one of coupon (fixed rate) or spread (over SOFR)")
    spread = ins.spread if spread is None else spread
    if spread is not None and spread <= -1.0:
        raise SpecError("instrument.spread", f"got {spread!r}; expected a spread above -100% (-1.0)")
    if ins.draws and ins.principal is not None:
        raise SpecError("instrument.principal", "give principal (one draw at time 0) or a draws list, not both")
    if ins.draws:
        draw_days = np.array([_draw_day(i, d, market) for i, d in enumerate(ins.draws)], dtype=np.int64)
        amounts = np.array([d.amount for d in ins.draws])
    elif ins.principal is not None:
        draw_days, amounts = np.zeros(1, dtype=np.int64), np.array([ins.principal])
    else:
        raise SpecError("instrument.principal", "missing; give principal or a draws list")
    commitment = ins.commitment if ins.commitment is not None else float(amounts.sum())
    if amounts.sum() > commitment * (1 + 1e-12):
        raise SpecError("instrument.draws", f"draws add up to {amounts.sum():,.2f}, above the commitment {commitment:,.2f}")
    if draw_days.max() >= schedule.pay_days[-1]:
        raise SpecError("instrument.maturity", f"got {ins.maturity!r}; expected a maturity after the last draw")
    rates = (np.full(schedule.accrual.size, ins.coupon) if ins.coupon is not None
             else np.maximum(schedule.forward, ins.floor) + spread)
    amort_start = int(np.searchsorted(schedule.pay_days, draw_days.max(), side="right"))
    sweep = ins.sweep_share if ins.sweep_share is not None else (
        DEFAULT_SWEEP_SHARE if ins.amortization == "sweep" else 0.0)
    return LoanTerms(schedule, rates, draw_days, amounts, commitment, ins.amortization,
                     amort_start, sweep, ins.spread is not None)


def _draw_day(i, draw, market) -> int:
    key = f"instrument.draws[{i}]"
    if (draw.time is None) == (draw.date is None):
        raise SpecError(key, "give exactly one of time or date")
    day = to_days(draw.time if draw.time is not None else draw.date, key, market.valuation_date)
    if day < 0:
        raise SpecError(key, "a draw before the valuation date belongs in principal")
    return day


# ---- collateral --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Collateral:
    """Collateral paths on a grid of days: (cash, value) chunks, bridge variances."""
    model: object
    market: object
    fleet: bool

    def paths(self, grid_days, n_paths, seed, chunk_paths):
        """Yield (first_path, cash[paths, dates], value[paths, dates])."""
        key = seed_key(seed)
        step = chunk_paths or PATH_CHUNK
        times = grid_days / DAYS_PER_YEAR
        if self.fleet:
            from pricing_kernels.fleet import fleet_paths
            args = [contiguous(v) for v in self.model.kernel_arrays(grid_days, self.market).values()]
            for first in range(0, n_paths, step):
                out = fleet_paths(key, first, min(step, n_paths - first), *args)
                yield first, out[2], out[3]
            return
        kernel, args = self._index_kernel(times)
        for first in range(0, n_paths, step):
            value = kernel(key, first, min(step, n_paths - first), *args)
            yield first, np.zeros_like(value), value

    def _index_kernel(self, times):
        from gpufin.models import Lognormal, TwoFactor
        from pricing_kernels import index_paths
        arrays = self.model.kernel_arrays(times, self.market)
        if isinstance(self.model, Lognormal):
            names = ("log_spot", "drift", "vol", "pois_cdf", "jump_mean", "jump_vol")
            return index_paths.lognormal_paths, [contiguous(arrays[n]) for n in names]
        return index_paths.two_factor_paths, [contiguous(arrays[n]) for n in TwoFactor.INNOVATION_ARGS]

    def bridge_variance(self, grid_days) -> np.ndarray:
        """Variance of the log collateral value over each grid step (index models)."""
        if self.fleet:
            raise SpecError("instrument.ltv_test", "continuous LTV monitoring needs an index model; use \"monthly\"")
        var = self.model.kernel_arrays(grid_days / DAYS_PER_YEAR, self.market)["bridge_var"]
        return np.concatenate([[0.0], var])


def build_collateral(s: Spec) -> Collateral:
    """The collateral model and market of a loan spec."""
    from gpufin.market import build_market
    from gpufin.models import build_model, with_forward_curve
    if s.model.kind == "gpu-fleet":
        from gpufin.simulate import fleet_setup
        setup = fleet_setup(replace(s, instrument=None))
        return Collateral(setup.model, setup.market, True)
    market = build_market(s.market, s.model.rate)
    model = with_forward_curve(build_model(s.model, market), s.market.forward_curve, market)
    return Collateral(model, market, False)


# ---- the run --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoanRun:
    """Everything fixed before the waterfall: terms, grid and kernel arrays."""
    spec: Spec
    terms: LoanTerms
    collateral: Collateral
    grid_days: np.ndarray
    arrays: dict


def prepare(s: Spec, spread: float | None = None, collateral: Collateral | None = None) -> LoanRun:
    ins = s.instrument
    collateral = collateral or build_collateral(s)
    market = collateral.market
    terms = loan_terms(ins, market, spread)
    sched = terms.schedule
    lag_days = int(round(ins.liquidation_lag * DAYS_PER_YEAR))
    end = int(sched.pay_days[-1]) + lag_days
    monthly = np.rint(np.arange(0, end / DAYS_PER_YEAR * 12 + 1) * DAYS_PER_YEAR / 12).astype(np.int64)
    test_days = _ltv_test_days(ins, market)
    grid = np.unique(np.concatenate([[0, end], monthly[monthly <= end], sched.start_days,
                                     sched.pay_days, terms.draw_days, test_days]))
    return with_reserve(LoanRun(s, terms, collateral, grid, _kernel_arrays(s, terms, collateral, grid, lag_days)))


def with_reserve(run: LoanRun) -> LoanRun:
    """Fund the debt-service reserve at closing: reserve_periods x the first debt service
    (an SPV's account; none under a sponsor, i.e. index-model collateral)."""
    from pricing_kernels.loan import scheduled_principal
    a, terms = run.arrays, run.terms
    drawn = float(terms.draw_amounts[terms.draw_days == 0].sum())
    first = drawn * a["period_rate"][0] + scheduled_principal(
        a["amortization"], 0, a["pay_index"].size, a["amort_start"], drawn, a["period_rate"], a["sculpted"])
    reserve = run.spec.instrument.reserve_periods * first if run.collateral.fleet else 0.0
    return replace(run, arrays=dict(a, reserve0=reserve))


def _ltv_test_days(ins, market) -> np.ndarray:
    if not isinstance(ins.ltv_test, list):
        return np.zeros(0, dtype=np.int64)
    days = np.array([to_days(t, "instrument.ltv_test", market.valuation_date) for t in ins.ltv_test],
                    dtype=np.int64)
    if days.size and days.min() < 0:
        raise SpecError("instrument.ltv_test", f"got {ins.ltv_test!r}; expected times on or after the valuation date")
    return days


def _kernel_arrays(s, terms, collateral, grid, lag_days) -> dict:
    ins, sched, market = s.instrument, terms.schedule, collateral.market
    times = grid / DAYS_PER_YEAR
    df = market.discount(times)
    period = np.searchsorted(sched.pay_days, grid, side="left")      # payment period of step ending at grid[i]
    inside = period < sched.pay_days.size
    rate = np.where(inside, terms.rates[np.minimum(period, sched.pay_days.size - 1)], 0.0)
    accrual = np.concatenate([[0.0], np.diff(grid) / 360.0])
    draws = np.zeros(grid.size)
    np.add.at(draws, np.searchsorted(grid, terms.draw_days), terms.draw_amounts)
    pay_index = np.searchsorted(grid, sched.pay_days).astype(np.int64)
    ltv_trigger = ins.ltv_trigger if ins.ltv_trigger is not None else math.inf
    ltv_test = np.zeros(grid.size, dtype=np.bool_)
    continuous = ins.ltv_trigger is not None and ins.ltv_test == "continuous"
    if ins.ltv_trigger is not None:
        if isinstance(ins.ltv_test, list):
            ltv_test[np.searchsorted(grid, _ltv_test_days(ins, market))] = True
        elif ins.ltv_test == "payment":
            ltv_test[pay_index] = True
        else:
            ltv_test[grid <= sched.pay_days[-1]] = True
    bridge = collateral.bridge_variance(grid) if continuous else np.zeros(grid.size)
    target = np.searchsorted(grid, grid + lag_days).clip(max=grid.size - 1)
    lag_df = market.discount((grid + lag_days) / DAYS_PER_YEAR)
    return dict(times=times, df=df, accrual=accrual, rate=rate, fee=ins.commitment_fee,
                commitment=terms.commitment, draws=draws,
                fee_until=int(np.searchsorted(grid, terms.draw_days.max())), pay_index=pay_index,
                period_rate=terms.rates * sched.accrual,
                amortization=AMORTIZATION[terms.amortization], amort_start=terms.amort_start,
                sculpted=np.zeros(sched.pay_days.size), sweep_share=terms.sweep_share,
                reserve_periods=ins.reserve_periods, reserve0=0.0, ltv_trigger=ltv_trigger, ltv_test=ltv_test,
                continuous=continuous, bridge_var=bridge,
                dscr_trigger=ins.dscr_trigger if ins.dscr_trigger is not None else -math.inf,
                haircut=ins.liquidation_haircut, lag_index=target.astype(np.int64), lag_df=lag_df,
                sponsor=not collateral.fleet)


def sculpt(run: LoanRun, mean_cash: np.ndarray) -> LoanRun:
    """Principal sculpted so that expected operating cash / debt service = target_dscr."""
    ins, terms, a = run.spec.instrument, run.terms, run.arrays
    outstanding = float(terms.draw_amounts.sum())
    principal = np.zeros(a["pay_index"].size)
    during = mean_cash[:a["pay_index"][-1] + 1]
    period_cash = np.add.reduceat(during, np.concatenate([[1], a["pay_index"][:-1] + 1]))
    for k in range(a["pay_index"].size):
        if k < terms.amort_start:
            continue
        interest = outstanding * a["period_rate"][k]
        principal[k] = min(max(period_cash[k] / ins.target_dscr - interest, 0.0), outstanding)
        outstanding -= principal[k]
    return with_reserve(replace(run, arrays=dict(a, sculpted=principal)))


class PathCache:
    """Collateral chunks of one (grid, paths, seed): kept in memory when small enough, so
    repeated waterfalls (spread solving) see the same paths without re-simulating."""

    def __init__(self, run: LoanRun, n_paths: int, seed: int, chunk_paths: int | None):
        self.run, self.n_paths, self.seed, self.chunk = run, n_paths, seed, chunk_paths
        size = 2 * 8 * n_paths * run.grid_days.size
        self.kept = list(self._generate()) if size <= CACHE_BYTES else None

    def _generate(self):
        return self.run.collateral.paths(self.run.grid_days, self.n_paths, self.seed, self.chunk)

    def __iter__(self):
        return iter(self.kept) if self.kept is not None else self._generate()

    def mean_cash(self) -> np.ndarray:
        return sum(cash.sum(axis=0) for _, cash, _ in self) / self.n_paths


def waterfall(run: LoanRun, cache: PathCache):
    """(out, ltv, dscr) over all paths, chunk by chunk."""
    from pricing_kernels.loan import loan_paths
    a = run.arrays
    key = seed_key(cache.seed)
    parts = [loan_paths(key, first, cash, value, *(contiguous(v) for v in a.values()))
             for first, cash, value in cache]
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(3))


def price_loan(s: Spec, spread: float | None = None, cache: PathCache | None = None) -> dict:
    """Price a loan spec (optionally at another spread) and summarize its paths."""
    run = prepare(s, spread, cache.run.collateral if cache else None)
    cache = cache or PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths)
    if run.terms.amortization == "sculpted":
        if not run.collateral.fleet:
            raise SpecError("instrument.amortization", "sculpted amortization needs gpu-fleet collateral (operating cash)")
        run = sculpt(run, cache.mean_cash())
    out, ltv, dscr = waterfall(run, cache)
    return summarize(run, out, ltv, dscr)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = x.size
    mean = math.fsum(x) / n
    return mean, math.sqrt(math.fsum((x - mean) ** 2) / (n - 1) / n)


def _ratio_se(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """mean(num) / mean(den) and its delta-method standard error."""
    n = num.size
    mn, md = math.fsum(num) / n, math.fsum(den) / n
    if md == 0.0:
        return math.nan, math.nan
    ratio = mn / md
    resid = num - ratio * den
    return ratio, math.sqrt(math.fsum(resid ** 2) / (n - 1) / n) / abs(md)


def _quantiles_by_date(values: np.ndarray, run: LoanRun) -> list[dict]:
    days = run.terms.schedule.pay_days
    rows = []
    for k, day in enumerate(days):
        col = values[:, k]
        col = col[np.isfinite(col)]
        row = {"date": str(run.collateral.market.anchor + _td(day)), "paths": int(col.size)}
        if col.size:
            row.update({f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, np.quantile(col, QUANTILES))})
        rows.append(row)
    return rows


def _td(days):
    import datetime as dt
    return dt.timedelta(days=int(days))


def summarize(run: LoanRun, out: np.ndarray, ltv: np.ndarray, dscr: np.ndarray) -> dict:
    s, terms = run.spec, run.terms
    n = out.shape[0]
    draw0 = float(terms.draw_amounts[terms.draw_days == 0].sum())
    receipts, pv_draws = out[:, 0], out[:, 1]
    value, value_se = _mean_se(receipts - pv_draws + draw0)
    price, price_se = _ratio_se(100.0 * receipts, pv_draws)
    defaulted = out[:, 2] > 0.0
    loss = out[:, 4]
    el, el_se = _mean_se(loss)
    pd_life = float(defaulted.mean())
    lgd, lgd_se = _ratio_se(loss, out[:, 5]) if defaulted.any() else (math.nan, math.nan)
    years = range(1, int(math.ceil(terms.schedule.pay_days[-1] / DAYS_PER_YEAR)) + 1)
    default_time = np.where(defaulted, out[:, 3], np.inf)
    pd_by_year = [float(np.mean(default_time <= y + 1e-9)) for y in years]
    var99 = float(np.quantile(loss, 0.99))
    tail = np.sort(loss)[-max(1, math.ceil(0.01 * n)):]       # the worst 1% of paths
    half = Z95 * value_se
    result = {"value": value, "stderr": value_se, "ci95": [value - half, value + half],
              "paths": n, "seed": s.mc.seed, "method": "mc", "instrument": "loan",
              "model": s.model.kind,
              "price_pct": price, "price_pct_stderr": price_se,
              "expected_loss": el, "expected_loss_stderr": el_se,
              "pd": pd_life, "pd_stderr": math.sqrt(pd_life * (1 - pd_life) / n),
              "pd_by_year": pd_by_year, "lgd": lgd, "lgd_stderr": lgd_se,
              "wal": math.fsum(out[:, 6]) / math.fsum(out[:, 7]) if out[:, 7].any() else math.nan,
              "loss_var99": var99, "loss_es99": float(tail.mean()),
              "maturity_years": float(terms.schedule.pay_days[-1] / DAYS_PER_YEAR),
              "drawn": float(terms.draw_amounts.sum()), "commitment": terms.commitment,
              "amortization": terms.amortization, "payments": int(terms.schedule.pay_days.size)}
    if terms.floating:
        result["spread"] = float(terms.rates[0] - max(terms.schedule.forward[0], s.instrument.floor))
    else:
        result["coupon"] = s.instrument.coupon
    result["ltv_quantiles"] = _quantiles_by_date(ltv, run)
    if run.collateral.fleet:
        result["dscr_quantiles"] = _quantiles_by_date(dscr, run)
    return result


SPREAD_SCAN = (-0.02, 0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 0.99)


def _bracket(gap) -> tuple[float, float]:
    """The lowest scanned interval where the price crosses par from below. Price is not
    monotone in the spread: past some level the extra debt service causes defaults."""
    previous = None
    for spread in SPREAD_SCAN:
        above = gap(spread) >= 0.0
        if above and previous is not None:
            return previous, spread
        if above:
            raise SpecError("instrument.spread", f"the loan prices above par even at a spread of {spread:.2%}")
        previous = spread
    raise SpecError("instrument.spread", "no spread up to 99% prices the loan at par")


def solve_spread(spec, overrides=(), tol: float = 1e-7) -> dict:
    """The spread over SOFR at which price_pct = 100, on common random numbers; its standard
    error from the price's, through the slope of price in spread."""
    from scipy.optimize import brentq
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides)
    if s.instrument.kind != "loan" or s.instrument.spread is None:
        raise SpecError("instrument.spread", "--solve spread needs a floating-rate loan (a spread key)")
    cache = PathCache(prepare(s), s.mc.paths, s.mc.seed, s.mc.chunk_paths)

    def gap(spread):
        return price_loan(s, spread, cache)["price_pct"] - 100.0

    lo, hi = _bracket(gap)
    fair = brentq(gap, lo, hi, xtol=tol)
    result = price_loan(s, fair, cache)
    bump = 1e-4
    slope = (gap(fair + bump) - gap(fair - bump)) / (2 * bump)
    result.update(spread=fair, spread_stderr=result["price_pct_stderr"] / abs(slope),
                  solved="spread")
    return result
