"""The loan engine: a GPU-backed loan's waterfall on collateral paths (pricing_kernels.loan).

The collateral (gpufin.engines.collateral) is a gpu-fleet or an index model, whose
simulated level is the collateral value and which has no operating cash: debt service then
comes from the sponsor and only the covenants and the balloon can default (a zero-coupon
bullet with no covenants, haircut or lag is Merton 1974 debt; with a haircut and no lag it
pays min(principal, V_T (1 - haircut))). This module lays the loan's terms
(gpufin.instruments.loan) on a grid of times (years), builds the kernel's arrays, runs it chunk by
chunk and summarizes the paths.

Value conventions (USD): `value` = PV of the lender's receipts (interest, fees, principal,
recoveries) minus PV of the draws it funds after the valuation date; `price_pct` = 100 x
E[PV receipts] / E[PV of the draws funded] (no draw is funded after a default; 100 = par);
`expected_loss` = E[DF(default) x claim - PV recovery]; `lgd` = expected loss /
E[DF(default) x claim]; `wal` in years of expected principal repayments.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines.collateral import Collateral, build_collateral, new_gpu_values
from gpufin.engines.montecarlo import MERGE, QUANTILES, Z95, merged_grid, seed_key
from gpufin.errors import SpecError
from gpufin.market.data import load_market_data
from gpufin.instruments.loan import LoanTerms, loan_maturity, loan_terms, ltv_test_times
from gpufin.models.fleet import HOURS_PER_YEAR, FleetModel
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec
from gpufin.spec.times import DAYS_PER_YEAR, period_lengths
from pricing_kernels.loan import (ACCELERATED, CLAIM, CONTINUED, DRAWS, END_TIME, ENDED, FIRST_BREACH,
                                  LOSS, PAYMENT_DEFAULT, PRINCIPAL, RECEIPTS, TIME_PRINCIPAL, exact_sum,
                                  loan_paths)
from pricing_kernels.records import LoanArgs, make
from pricing_kernels.threads import map_threads

CACHE_BYTES = 1 << 30           # collateral paths kept in memory for spread solving
FIXED = ("linear", "annuity", "sculpted")   # amortizations whose schedule is fixed at origination


@dataclass(frozen=True)
class LoanRun:
    """Everything fixed before the waterfall: terms, grid and the kernel's record."""
    spec: Spec
    terms: LoanTerms
    collateral: Collateral
    grid: np.ndarray             # years
    observe: np.ndarray          # per date: a covenant test date only (no cash flow, no accrual)
    args: LoanArgs


def prepare(s: Spec, spread: float | None = None, collateral: Collateral | None = None) -> LoanRun:
    """The loan's terms, its collateral (a fleet receives its GPUs as the draws deliver them),
    the grid and the waterfall's record with the principal schedule fixed."""
    ins = s.instrument
    collateral = collateral or build_collateral(s)
    timeline = collateral.timeline
    terms = loan_terms(ins, collateral.market, timeline, spread)
    if collateral.fleet:
        shares = terms.draw_amounts / terms.drawn
        deliveries = tuple(zip(terms.delivery_times.tolist(), shares.tolist()))
        delay = ins.delivery_delay
        collateral = replace(collateral, model=replace(
            collateral.model, deliveries=deliveries, prepayments=ins.prepayments,
            continuation=ins.recovery == "best-of" or ins.acceleration == "lender-optimal",
            delay_probability=delay.probability if delay else 0.0,
            delay_years=delay.length if delay else 0.0))
    else:
        _refuse_without_fleet(ins)
    sched = terms.schedule
    lag = ins.liquidation_lag
    end = sched.pay_times[-1] + lag
    monthly = np.arange(0, math.floor(end * 12) + 1) / 12.0
    events = np.concatenate([[0.0, end], sched.start_times, sched.pay_times, terms.draw_times,
                             terms.delivery_times])
    cash_grid = merged_grid(events, monthly)
    grid = merged_grid(cash_grid, ltv_test_times(ins, timeline))
    observe = ~np.isin(grid, cash_grid)          # covenant test dates only: no cash, no accrual
    principal = terms.principal_due
    if principal is None:
        if not collateral.fleet:
            raise SpecError("instrument.amortization", "sculpted amortization needs gpu-fleet collateral (operating cash)")
        principal = sculpt(ins, terms, grid, collateral.model.base_case_cash(grid, observe))
    args = _kernel_args(s, terms, collateral, grid, observe, lag, principal)
    reserve = ins.reserve_periods * _first_debt_service(terms, args) if collateral.fleet else 0.0
    return LoanRun(s, terms, collateral, grid, observe, args._replace(reserve0=reserve))


def _refuse_without_fleet(ins) -> None:
    """The loan keys that need a gpu-fleet's contracts, deliveries or going concern."""
    if ins.prepayments == "loan":
        raise SpecError("instrument.prepayments", "got 'loan'; customer prepayments come from a "
                                                  "gpu-fleet's contracts, and an index model has none")
    if ins.acceleration == "lender-optimal":
        raise SpecError("instrument.acceleration", "got 'lender-optimal'; it weighs the sale against "
                                                   "the SPV as a going concern, which needs gpu-fleet collateral")
    if ins.delivery_delay is not None:
        raise SpecError("instrument.delivery_delay", "GPUs are delivered to a gpu-fleet; an index model has none")


def _first_debt_service(terms: LoanTerms, args: LoanArgs) -> float:
    """Interest and principal of the first payment on what is drawn at closing."""
    drawn = float(terms.draw_amounts[terms.draw_times == 0.0].sum())
    rate = terms.rates[0] * terms.schedule.accrual[0]
    return drawn * rate + min(args.principal_due[0], drawn)


def _ttm_first(pay_times: np.ndarray, basis: str) -> np.ndarray:
    """Per payment, the first payment of its DSCR window: itself, or the payments of the
    trailing twelve months."""
    k = np.arange(pay_times.size)
    if basis == "period":
        return k
    return np.searchsorted(pay_times, pay_times - 1.0 + MERGE, side="left").astype(np.int64)


def _kernel_args(s, terms, collateral, grid, observe, lag, principal) -> LoanArgs:
    """The waterfall's record on `grid` (years; `observe` flags its test-only dates, which
    neither accrue nor end a liquidation lag); `lag` is the liquidation lag in years."""
    ins, sched, market = s.instrument, terms.schedule, collateral.market
    df = market.discount(grid)
    period = np.searchsorted(sched.pay_times, grid, side="left")     # payment period of step ending at grid[i]
    inside = period < sched.pay_times.size
    rate = np.where(inside, terms.rates[np.minimum(period, sched.pay_times.size - 1)], 0.0)
    accrual = np.concatenate([[0.0], period_lengths(grid, observe) * sched.accrual_per_year])
    since_cash = grid - np.maximum.accumulate(np.where(observe, -np.inf, grid))
    observed = np.where(observe, since_cash * sched.accrual_per_year, 0.0)
    draws = np.zeros(grid.size)
    np.add.at(draws, np.searchsorted(grid, terms.draw_times), terms.draw_amounts)
    pay_index = np.searchsorted(grid, sched.pay_times).astype(np.int64)
    ltv_trigger = ins.ltv_trigger if ins.ltv_trigger is not None else math.inf
    ltv_test = np.zeros(grid.size, dtype=np.bool_)
    continuous = ins.ltv_trigger is not None and ins.ltv_test == "continuous"
    if ins.ltv_trigger is not None:
        if isinstance(ins.ltv_test, list):
            ltv_test[np.searchsorted(grid, ltv_test_times(ins, collateral.timeline) - MERGE)] = True
        elif ins.ltv_test == "payment":
            ltv_test[pay_index] = True
        else:
            ltv_test[grid <= sched.pay_times[-1]] = True
    bridge = collateral.bridge_variance(grid) if continuous else np.zeros(grid.size)
    cash_dates = np.flatnonzero(~observe)
    target = _sale_index(grid, cash_dates, lag)
    tranche_index, tranche_df = _tranche_sales(grid, cash_dates, lag, ins.liquidation_tranches, market)
    prepaid = (_customer_prepayments(collateral.model, grid, cash_dates)
               if collateral.fleet and ins.prepayments == "loan" else np.zeros(grid.size))
    return make(LoanArgs, times=grid, df=df, accrual=accrual, observed=observed, rate=rate, fee=ins.commitment_fee,
                commitment=terms.commitment, draws=draws,
                fee_until=int(np.searchsorted(grid, terms.draw_times.max())), pay_index=pay_index,
                principal_due=principal, ttm_first=_ttm_first(sched.pay_times, ins.dscr_basis),
                sweep_share=terms.sweep_share,
                lockup_dscr=ins.lockup_dscr if ins.lockup_dscr is not None else -math.inf,
                lockup_sweep_share=ins.lockup_sweep_share,
                reserve_periods=ins.reserve_periods, reserve0=0.0, ltv_trigger=ltv_trigger,
                ltv_test=ltv_test, continuous=continuous, bridge_var=bridge,
                dscr_trigger=ins.dscr_trigger if ins.dscr_trigger is not None else -math.inf,
                accelerate=ins.default_on == "payment-or-covenant" and ins.acceleration == "always",
                lender_optimal=ins.default_on == "payment-or-covenant" and ins.acceleration == "lender-optimal",
                best_of=collateral.fleet and ins.recovery == "best-of",
                riskless=riskless_per_unit(grid, terms, principal, market),
                haircut=terms.sale_haircut, workout_cost=ins.workout_cost,
                lag_index=target.astype(np.int64),
                lag_df=market.discount(grid + lag), sponsor=not collateral.fleet, prepaid=prepaid,
                tranche_haircut=terms.tranche_haircut, tranche_index=tranche_index, tranche_df=tranche_df,
                cash_by_date=False)


def riskless_per_unit(grid: np.ndarray, terms: LoanTerms, principal: np.ndarray, market) -> np.ndarray:
    """Per date, what the rest of the loan is worth to the lender if every scheduled payment is
    made, per USD then outstanding on the schedule: PV at the date of the interest and principal
    still due, less the draws still to fund (interest on the balance after the period's draws;
    1 where nothing is outstanding). Lender-optimal acceleration weighs a sale against it."""
    sched = terms.schedule
    pays = sched.pay_times
    drawn_by = _sums_to(terms.draw_amounts, terms.draw_times, pays + MERGE)
    owed = drawn_by - np.concatenate([[0.0], np.cumsum(principal)[:-1]])      # before each payment
    receipts = market.discount(pays) * (owed * terms.rates * sched.accrual + principal)
    funded = market.discount(terms.draw_times) * terms.draw_amounts
    after = grid + MERGE
    value = (_sums_to(receipts, pays, after, later=True)
             - _sums_to(funded, terms.draw_times, after, later=True))
    balance = _sums_to(terms.draw_amounts, terms.draw_times, after) - _sums_to(principal, pays, after)
    per_unit = np.divide(value, market.discount(grid) * balance, out=np.ones_like(grid),
                         where=balance > 1e-9 * terms.drawn)
    return per_unit


def _sums_to(values: np.ndarray, times: np.ndarray, limits: np.ndarray, later: bool = False) -> np.ndarray:
    """Per limit x, values[times <= x].sum(), or values[times > x].sum() when `later`: each
    distinct subset summed once, its values in their order (the bits of one sum per limit)."""
    counts = np.searchsorted(np.sort(times), limits, side="right")        # times <= x
    out = np.empty(limits.size)
    for count in np.unique(counts):
        at = counts == count
        x = limits[np.argmax(at)]
        out[at] = values[times > x if later else times <= x].sum()
    return out


def _sale_index(grid: np.ndarray, cash_dates: np.ndarray, delay: float) -> np.ndarray:
    """Per date, the first cash date (index) on or after it + `delay` years (the last date at most)."""
    return cash_dates[np.searchsorted(grid[cash_dates], grid + delay - MERGE).clip(max=cash_dates.size - 1)]


def _tranche_sales(grid, cash_dates, lag: float, tranches: int, market) -> tuple[np.ndarray, np.ndarray]:
    """Per date, the sale date index and the discount factor of each tranche sold before the
    last of a liquidation in `tranches` equal tranches, tranche q at the date + q lag / tranches
    (years); [date, tranches - 1] arrays."""
    index = np.zeros((grid.size, tranches - 1), dtype=np.int64)
    dfs = np.zeros((grid.size, tranches - 1))
    for q in range(1, tranches):
        delay = lag * q / tranches
        index[:, q - 1] = _sale_index(grid, cash_dates, delay)
        dfs[:, q - 1] = market.discount(grid + delay)
    return index, dfs


def _customer_prepayments(model: FleetModel, grid: np.ndarray, cash_dates: np.ndarray) -> np.ndarray:
    """Per date of `grid` (years), the contract prepayments (USD) paid to the loan there: each
    contract's prepayment share of its value (share x rate x contracted x the GPU-hours of the
    billable fleet over its term, counted in steps of at most a month, each at the fleet of
    its end, as the fleet kernel counts them), received at the cash date nearest its start."""
    received = np.zeros(grid.size)
    for c in model.contracts:
        if c.prepayment == 0.0 or c.start > grid[-1]:
            continue
        steps = np.linspace(c.start, c.end, max(1, math.ceil((c.end - c.start) * 12.0 - 1e-9)) + 1)
        gpu_hours = HOURS_PER_YEAR * np.sum(np.diff(steps) * model.fleet_size(steps[1:]))
        date = cash_dates[np.argmin(np.abs(grid[cash_dates] - c.start))]
        received[date] += c.prepayment * c.share * c.rate * model.contracted * gpu_hours
    return received


def sculpt(ins, terms: LoanTerms, grid: np.ndarray, base_cash: np.ndarray) -> np.ndarray:
    """Principal per payment sculpted so that the lender's base-case cash (contracted, every
    customer paying) / debt service = target_dscr, on the whole drawn amount; fixed at
    origination."""
    sched = terms.schedule
    pay_index = np.searchsorted(grid, sched.pay_times)
    period_cash = np.add.reduceat(base_cash[:pay_index[-1] + 1], np.concatenate([[1], pay_index[:-1] + 1]))
    outstanding = terms.drawn
    principal = np.zeros(sched.pay_times.size)
    for k in range(terms.amort_start, sched.pay_times.size):
        interest = outstanding * terms.rates[k] * sched.accrual[k]
        principal[k] = min(max(period_cash[k] / ins.target_dscr - interest, 0.0), outstanding)
        outstanding -= principal[k]
    return principal


def fixed_schedule(doc: dict) -> dict:
    """A loan document with its principal schedule written in (`instrument.schedule`), so that
    bumped, stressed or moved copies of it value the same contract. Other documents, and
    loans whose schedule is already written or that have none, come back unchanged."""
    ins = doc.get("instrument") or {}
    if ins.get("kind") != "loan" or ins.get("schedule") or ins.get("amortization") not in FIXED:
        return doc
    run = prepare(load_spec(doc))
    times = run.terms.schedule.pay_times.tolist()
    entries = [{"time": t, "principal": float(p)} for t, p in zip(times, run.args.principal_due)]
    written = {**ins, "schedule": entries}
    if ins.get("maturity_from_draw") is not None:       # the draws' schedules, now the loan's
        del written["maturity_from_draw"]
        written["maturity"] = loan_maturity(run.spec.instrument, run.collateral.timeline,
                                            run.terms.draw_times).years
    return {**doc, "instrument": written}


class PathCache:
    """Collateral chunks of one (grid, paths, seed): paths first_path .. first_path + n_paths - 1,
    kept in memory when small enough, so repeated waterfalls (spread solving) see the same paths
    without re-simulating; with keep=False (a single waterfall) each chunk is simulated as it
    is read and freed after, so memory holds one chunk of paths, not all."""

    def __init__(self, run: LoanRun, n_paths: int, seed: int, chunk_paths: int | None, first_path: int = 0,
                 keep: bool = True):
        self.run, self.n_paths, self.seed, self.chunk = run, n_paths, seed, chunk_paths
        self.first_path = first_path
        size = 2 * 8 * n_paths * run.grid.size
        self.kept = list(self._generate()) if keep and size <= CACHE_BYTES else None

    def _generate(self):
        return self.run.collateral.paths(self.run.grid, self.n_paths, self.seed, self.chunk,
                                         self.run.observe, self.first_path)

    def __iter__(self):
        return iter(self.kept) if self.kept is not None else self._generate()


@dataclass(frozen=True)
class LenderCash:
    """The lender's cash by date of a loan's grid, over all paths. Per path x = (receipts,
    funded): receipts in USD at each date (interest, fees and principal, and recoveries at
    the first date on or after their sale; pricing_kernels.loan `flows`) and the draws it
    funded there (USD). `mean` [2, dates] is the mean of x over paths (each amount rounded to
    2^-16 USD and summed in integers); `cov` [2 dates, 2 dates] the sample covariance of x
    (for standard errors; blocks of CASH_BLOCK paths merged in path order). Both are the same
    bit for bit in any chunking. sum_i df_i receipts_i is the mean PV of the receipts."""
    times: np.ndarray            # years
    df: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    paths: int


CASH_BLOCK = 1024               # paths per block of the lender's cash covariance


class _CashSums:
    """Sums of the lender's cash by date, chunk by chunk (memory: dates^2, not paths).

    The covariance is summed over fixed blocks of paths aligned on path numbers (paths
    b CASH_BLOCK .. (b + 1) CASH_BLOCK - 1, clipped to the run): each block's mean and
    centred cross-products, merged into the running ones in path order (the running centred
    sums shifted to the merged mean). A chunk's paths that end inside a block wait for the
    next chunk, so every chunking sums the same blocks in the same order."""
    SCALE = 2.0 ** 16            # amounts rounded to 2^-16 USD, then summed exactly

    def __init__(self, run: LoanRun):
        self.run = run
        n = 2 * run.grid.size
        self.total = [0] * n
        self.waiting = np.empty((0, n))               # paths of the block not yet complete
        self.center = np.zeros(n)                     # running mean, for the covariance
        self.m2 = np.zeros((n, n))                    # sum of centred outer products
        self.paths = 0

    def add(self, first_path: int, out: np.ndarray, flows: np.ndarray) -> None:
        """A chunk's paths first_path, first_path + 1, ... (chunks in path order)."""
        args = self.run.args
        ended = np.where(out[:, ENDED] > 0.0, out[:, END_TIME], np.inf)
        funded = np.where(args.times[None, :] <= ended[:, None], args.draws[None, :], 0.0)
        x = np.hstack([flows, funded])
        q = np.rint(x * self.SCALE).astype(np.int64)
        high, low = (q >> 32).sum(axis=0), (q & 0xFFFFFFFF).sum(axis=0)
        self.total = [f + (int(h) << 32) + int(lo) for f, h, lo in zip(self.total, high, low)]
        rows = np.vstack([self.waiting, x]) if self.waiting.shape[0] else x
        start = first_path - self.waiting.shape[0]    # path number of rows[0]
        cuts = range(-start % CASH_BLOCK, rows.shape[0] + 1, CASH_BLOCK)
        begin = 0
        for cut in cuts:
            if cut > begin:
                self._merge(rows[begin:cut])
            begin = cut
        self.waiting = rows[begin:].copy()

    def _merge(self, block: np.ndarray) -> None:
        n_a, n_b = self.paths, block.shape[0]
        mean_b = block.mean(axis=0)
        centred = block - mean_b
        delta = mean_b - self.center
        self.m2 += centred.T @ centred + np.outer(delta, delta) * (n_a * n_b / (n_a + n_b))
        self.center += delta * (n_b / (n_a + n_b))
        self.paths = n_a + n_b

    def result(self) -> LenderCash:
        if self.waiting.shape[0]:
            self._merge(self.waiting)
            self.waiting = self.waiting[:0]
        n, run = self.paths, self.run
        mean = np.array([f / (self.SCALE * n) for f in self.total]).reshape(2, -1)
        return LenderCash(run.grid, run.args.df, mean, self.m2 / max(n - 1, 1), n)


def _chunks(run: LoanRun, cache: PathCache, cash_by_date: bool = False):
    """(first_path, the waterfall's outputs), chunk by chunk in path order; the lender's cash
    by date (`flows`) only with cash_by_date."""
    key = seed_key(cache.seed)
    args = run.args._replace(cash_by_date=cash_by_date)
    for first, cash, value, going in cache:
        yield first, loan_paths(key, first, cash, value, going, args)


def _joined(parts) -> tuple:
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(4))


def waterfall(run: LoanRun, cache: PathCache):
    """(out, ltv, dscr, equity) over all paths, chunk by chunk."""
    return _joined([part[:4] for _, part in _chunks(run, cache)])


def waterfall_cash(run: LoanRun, cache: PathCache):
    """((out, ltv, dscr, equity), LenderCash): the waterfall with the lender's cash by date."""
    parts, sums = [], _CashSums(run)
    for first, part in _chunks(run, cache, cash_by_date=True):
        parts.append(part[:4])
        sums.add(first, part[0], part[4])
    return _joined(parts), sums.result()


def price_loan(s: Spec, spread: float | None = None, cache: PathCache | None = None) -> dict:
    """Price a loan spec (optionally at another spread) and summarize its paths."""
    run, (out, ltv, dscr, _) = _priced(s, spread, cache)
    return summarize(run, out, ltv, dscr)


def loan_value_only(s: Spec) -> float:
    """price_loan's `value` (USD), bit for bit, without the rest of its summary (quantiles,
    the new GPU's value): what scenario revaluation reads."""
    run, (out, _, _, _) = _priced(s)
    return loan_value(run, out)[0]


def _priced(s: Spec, spread: float | None = None, cache: PathCache | None = None) -> tuple:
    """The loan's run and its waterfall (out, ltv, dscr, equity) over all paths."""
    run = prepare(s, spread, cache.run.collateral if cache else None)
    cache = cache or PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths, keep=False)
    return run, waterfall(run, cache)


def value_loan(s: Spec, cache: PathCache | None = None) -> tuple[dict, LenderCash]:
    """price_loan's result and the lender's cash by date (LenderCash), on the cache's paths
    and collateral when given."""
    run = prepare(s, None, cache.run.collateral if cache else None)
    cache = cache or PathCache(run, s.mc.paths, s.mc.seed, s.mc.chunk_paths, keep=False)
    (out, ltv, dscr, _), cash = waterfall_cash(run, cache)
    return summarize(run, out, ltv, dscr), cash


def _fsum(x: np.ndarray) -> float:
    """math.fsum(x), the correctly rounded sum, compiled (pricing_kernels.loan.exact_sum)
    where every value and the sum are finite."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    total = exact_sum(x) if np.isfinite(x).all() else math.nan
    return total if math.isfinite(total) else math.fsum(x)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = x.size
    mean = _fsum(x) / n
    return mean, math.sqrt(_fsum((x - mean) ** 2) / (n - 1) / n)


def _ratio_se(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """mean(num) / mean(den) and its delta-method standard error."""
    n = num.size
    mn, md = _fsum(num) / n, _fsum(den) / n
    if md == 0.0:
        return math.nan, math.nan
    ratio = mn / md
    resid = num - ratio * den
    return ratio, math.sqrt(_fsum(resid ** 2) / (n - 1) / n) / abs(md)


def _day(run: LoanRun, t: float) -> dt.date:
    """The calendar day of a time (the valuation date, or 2026-01-01 without one, + whole days)."""
    return run.collateral.market.anchor + dt.timedelta(days=round(t * DAYS_PER_YEAR))


def _quantiles_by_date(values: np.ndarray, run: LoanRun) -> list[dict]:
    """Per payment date, the quantiles of values[path, payment] over the paths where it is
    finite (the columns copied once into rows, so that each is read contiguously; the dates
    shared out over the kernel threads)."""
    times = run.terms.schedule.pay_times
    stats = map_threads(_finite_quantiles, list(np.ascontiguousarray(values.T)))
    return [{"date": str(_day(run, t)), "time_years": t, "paths": paths,
             **{f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, at)}}
            for t, (paths, at) in zip(times.tolist(), stats)]


def _finite_quantiles(col: np.ndarray) -> tuple[int, np.ndarray | tuple]:
    """(how many values of col are finite, their QUANTILES; none when there are none)."""
    col = col[np.isfinite(col)]
    return int(col.size), (np.quantile(col, QUANTILES) if col.size else ())


def _by_year(times: np.ndarray, years) -> list[float]:
    """P(event by the end of year y) for each y, from event times (NaN or inf: none)."""
    times = np.where(np.isfinite(times), times, np.inf)
    return [float(np.mean(times <= y + 1e-9)) for y in years]


def summarize(run: LoanRun, out: np.ndarray, ltv: np.ndarray, dscr: np.ndarray) -> dict:
    """The loan's result: value and price, payment PD by year, covenant breaches and
    accelerations, EL, LGD, WAL, loss VaR and ES, the fixed schedule, LTV and DSCR quantiles."""
    s, terms = run.spec, run.terms
    n = out.shape[0]
    receipts, pv_draws = out[:, RECEIPTS], out[:, DRAWS]
    value, value_se = loan_value(run, out)
    price, price_se = _ratio_se(100.0 * receipts, pv_draws)
    ended = out[:, ENDED] > 0.0
    payment = out[:, PAYMENT_DEFAULT] > 0.0
    breach_time = out[:, FIRST_BREACH]
    loss = out[:, LOSS]
    el, el_se = _mean_se(loss)
    pd_life = float(payment.mean())
    lgd, lgd_se = _ratio_se(loss, out[:, CLAIM]) if ended.any() else (math.nan, math.nan)
    years = range(1, int(math.ceil(terms.schedule.pay_times[-1] - 1e-9)) + 1)
    var99 = float(np.quantile(loss, 0.99))
    worst = max(1, math.ceil(0.01 * n))
    tail = np.sort(np.partition(loss, n - worst)[n - worst:])   # the worst 1% of paths, ascending
    half = Z95 * value_se
    breached = float(np.mean(np.isfinite(breach_time)))
    times = terms.schedule.pay_times.tolist()
    schedule = [{"date": str(_day(run, t)), "time_years": t, "principal": float(p)}
                for t, p in zip(times, run.args.principal_due)]
    result = {"value": value, "stderr": value_se, "ci95": [value - half, value + half],
              "paths": n, "seed": s.mc.seed, "method": "mc", "instrument": "loan",
              "model": s.model.kind,
              "price_pct": price, "price_pct_stderr": price_se,
              "expected_loss": el, "expected_loss_stderr": el_se,
              "pd": pd_life, "pd_stderr": math.sqrt(pd_life * (1 - pd_life) / n),
              "pd_by_year": _by_year(np.where(payment, out[:, END_TIME], np.inf), years),
              "breach_probability": breached, "breach_probability_stderr": math.sqrt(breached * (1 - breached) / n),
              "breach_by_year": _by_year(breach_time, years),
              "acceleration_probability": float(np.mean(out[:, ACCELERATED] > 0.0)),
              "going_concern_share": (float(np.mean(out[ended, CONTINUED])) if ended.any() else math.nan),
              "lgd": lgd, "lgd_stderr": lgd_se,
              "wal": (_fsum(out[:, TIME_PRINCIPAL]) / _fsum(out[:, PRINCIPAL])
                      if out[:, PRINCIPAL].any() else math.nan),
              "loss_var99": var99, "loss_es99": float(tail.mean()),
              "maturity_years": float(terms.schedule.pay_times[-1]),
              "drawn": terms.drawn, "commitment": terms.commitment,
              "amortization": terms.amortization, "payments": int(terms.schedule.pay_times.size)}
    if terms.floating:
        result["spread"] = float(terms.rates[0] - max(terms.schedule.forward[0], s.instrument.floor))
    else:
        result["coupon"] = s.instrument.coupon
    result["schedule"] = schedule
    result["ltv_quantiles"] = _quantiles_by_date(ltv, run)
    if run.collateral.fleet:
        result["dscr_quantiles"] = _quantiles_by_date(dscr, run)
        result["collateral_check"] = new_gpu_values(run.collateral.model, run.collateral.market,
                                                    load_market_data().used_prices)
    return result


def loan_value(run: LoanRun, out: np.ndarray) -> tuple[float, float]:
    """The loan's value (USD) and its standard error from a waterfall's `out`: the correctly
    rounded mean of path_values, as `summarize` reports it."""
    return _mean_se(path_values(run, out))


def path_values(run: LoanRun, out: np.ndarray) -> np.ndarray:
    """Per path of a waterfall's `out`, the lender's value (USD): PV of receipts - PV of the
    draws funded + the draw at closing; `summarize`'s `value` is their mean. Differences of
    these between two runs on the same paths give common-random-number standard errors."""
    draw0 = float(run.terms.draw_amounts[run.terms.draw_times == 0.0].sum())
    return out[:, RECEIPTS] - out[:, DRAWS] + draw0
