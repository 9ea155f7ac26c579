"""`price(spec)`: the one code path behind the Python API and `gpufin price`.

A result is a flat dict: `value` (present value, USD), `stderr` (0 for a closed form),
`ci95` ([low, high]), `paths`, `seed` (None for a closed form), `method` (`mc` or
`analytic`), then fields of the instrument and of the run. Asked for Greeks, a result also
says how they are had, `greeks_method`: `pathwise` (Monte Carlo, in the same kernel pass as
the value), `analytic` (derivatives of the closed form), both with `delta` (USD per USD/GPU-hr
of spot), `vega` (USD per 1.00 of volatility) and their standard errors; or `bump` (payoffs
that are not smooth, loans and fleets: bump and revalue, as gpufin.risk does).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gpufin.engines.analytic import (closed_form, closed_form_greeks, closed_form_moves, futures_price,
                                     geometric_greeks, geometric_strip_mean, linear_strip,
                                     long_factor_law, long_factor_log_mgf)
from gpufin.engines.montecarlo import (Z95, Greeks, build_index_set, estimate, greek_estimates,
                                       kernel_call, pathwise_args, schedule_arrays, seed_key,
                                       simulate_sums, stack_payoffs, state_estimate, term_arrays,
                                       time_grid)
from gpufin.errors import NoClosedForm, SpecError
from gpufin.instruments.payoffs import FutureOptionPlan, ResidualPutPlan, build_plan
from gpufin.lazy import lazy_module
from gpufin.market.curve import build_market
from gpufin.models.index import Lognormal, TwoFactor, build_model, with_forward_curve
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec
from pricing_kernels.index_paths import lognormal_paths, two_factor_paths

collateral_engine = lazy_module("gpufin.engines.collateral")  # fleets and loans: loaded when one is priced
loan_engine = lazy_module("gpufin.engines.loan")

MAX_PATH_STEPS = 10 ** 11       # about ten minutes of the fastest kernel on two cores
SMOOTH_PAYOFFS = ("european", "asian", "future", "swap", "cap", "floor")
INDEX_MODELS = ("gbm", "jump-diffusion", "schwartz", "schwartz-smith", "multi-index")
BUMPED = {"greeks_method": "bump"}      # Greeks by bump and revalue, not given by price_many


def has_greek_estimator(instrument_kind: str, model_kind: str) -> bool:
    """Whether price_many gives a trade's delta and vega itself (pathwise or closed form):
    payoffs Lipschitz in the index on index models; barriers, loans and fleets are bumped."""
    return instrument_kind in SMOOTH_PAYOFFS and model_kind in INDEX_MODELS


def has_moved_pricing(instrument_kind: str, model_kind: str) -> bool:
    """Whether price_moved values this trade: payoffs without barriers on index models (the
    trades that have a Greek estimator)."""
    return has_greek_estimator(instrument_kind, model_kind)


def price(spec: dict | str | Path | Spec, overrides: list[str] = (), greeks: bool = False) -> dict:
    """Value a trade spec (a dict, a TOML/JSON path or a validated Spec); with greeks, also
    its delta and vega where it has an estimator (greeks_method says which)."""
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides)
    (result,) = price_many([s], greeks)
    if isinstance(result, Exception):
        raise result
    return result


@dataclass(frozen=True)
class _Simulated:
    """A trade waiting for Monte Carlo, with what decides whether it can share paths."""
    index: int
    spec: Spec
    plan: object
    model: object
    market: object
    grid: np.ndarray
    greeks: bool

    @property
    def pathwise(self) -> bool:
        """Whether the trade wants Greeks and has a pathwise estimator for them."""
        return self.greeks and has_greek_estimator(self.spec.instrument.kind, self.spec.model.kind)

    @property
    def key(self):
        mc = self.spec.mc
        market = self.market       # as built: a flat model.rate becomes its curve
        return (self.model, market.valuation_date, market.curve.model_dump_json(),
                self.spec.market.model_dump_json(), mc.paths, mc.seed, mc.antithetic,
                mc.chunk_paths, tuple(self.grid.tolist()))


def price_many(specs: list, greeks: bool | list[bool] = False) -> list:
    """Price several specs: a result dict, or the exception, per spec, in order; `greeks`
    (one flag, or one per spec) asks for delta and vega too.
    Trades on the same model, market, path count, seed and time grid are simulated together
    (one kernel pass evaluates all their payoffs on the same paths), so each gets exactly the
    numbers it would get alone, with or without Greeks."""
    wanted = [greeks] * len(specs) if isinstance(greeks, bool) else list(greeks)
    results: list = [None] * len(specs)
    groups: dict = {}
    for n, spec in enumerate(specs):
        try:
            s = spec if isinstance(spec, Spec) else load_spec(spec)
            job = _price_or_defer(n, s, wanted[n])
            if isinstance(job, _Simulated):
                groups.setdefault(job.key, []).append(job)
            else:
                results[n] = job
        except Exception as exc:       # one trade's failure never sinks the others
            results[n] = exc
    for jobs in groups.values():
        try:
            for job, result in zip(jobs, _monte_carlo(jobs)):
                results[job.index] = result
        except Exception as exc:
            for job in jobs:
                results[job.index] = exc
    return results


def _price_or_defer(n: int, s: Spec, greeks: bool):
    """A result when no simulation of the index is needed, else the deferred trade."""
    if s.instrument.kind == "loan":
        if s.mc.method == "analytic":
            raise NoClosedForm("mc.method", "loans are priced by Monte Carlo only; use \"auto\" or \"mc\"")
        result = loan_engine.price_loan(s)
        return {**result, **BUMPED} if greeks else result
    if s.model.kind == "gpu-fleet":
        raise SpecError("model.kind", f"a gpu-fleet is collateral for loans, not an index for {s.instrument.kind!r}")
    market = build_market(s.market, s.model.rate, s.timeline)
    model = with_forward_curve(build_model(s.model, s.timeline), s.market.forward_curve, s.timeline)
    plan = build_plan(s.instrument, s.model.spot, s.timeline)
    if isinstance(plan, (FutureOptionPlan, ResidualPutPlan)):
        result = _price_on_state(s, model, market, plan)
        return {**result, **BUMPED} if greeks else result
    if s.mc.method in ("auto", "analytic"):
        try:
            value = plan.notional * closed_form(model, market, plan)
            run = (_greek_fields("analytic", _closed_form_greeks(s, model, market, plan), plan.notional)
                   if greeks else {})
            return _result(s, plan, model, market, value, 0.0, 0, None, "analytic", run)
        except NoClosedForm:
            if s.mc.method == "analytic":
                raise
    if s.mc.antithetic and s.mc.paths % 2:
        raise SpecError("mc.paths", f"got {s.mc.paths}; expected an even count with mc.antithetic = true")
    grid = time_grid(plan, model, s.mc.steps_per_year)
    if s.mc.paths * (grid.size - 1) > MAX_PATH_STEPS:
        raise SpecError("mc.paths", f"got {s.mc.paths:,} paths x {grid.size - 1:,} steps; expected at most "
                                    f"{MAX_PATH_STEPS:,} path-steps (fewer paths or steps)")
    return _Simulated(n, s, plan, model, market, grid, greeks)


def _price_on_state(s: Spec, model, market, plan) -> dict:
    """Options on futures and residual-value puts: the closed form where one exists (mc.method
    auto or analytic), else Monte Carlo on the index's state at the maturity (one exact step
    of gpufin.engines.montecarlo.index_chunks; no antithetics, no control variate)."""
    if s.mc.method in ("auto", "analytic"):
        try:
            value = plan.notional * closed_form(model, market, plan)
            return _result(s, plan, model, market, value, 0.0, 0, None, "analytic", {})
        except NoClosedForm:
            if s.mc.method == "analytic":
                raise
    indices = build_index_set(s, market)
    name = indices.names[getattr(s.model, "priced", 0)]
    est = state_estimate(indices, name, market, plan.maturity, s.mc.paths, s.mc.seed,
                         state_payoff(model, market, plan))
    n = plan.notional
    return _result(s, plan, model, market, n * est.value, n * est.stderr, s.mc.paths, s.mc.seed, "mc",
                   {"steps": 1, "antithetic": False, "control_variate": False})


def state_payoff(model, market, plan):
    """The discounted payoff per unit notional of a state-settled plan (an option on a future,
    a residual-value put), per path, as a function of the index's
    gpufin.engines.montecarlo.Horizon at the plan's maturity."""
    df = float(market.discount(plan.maturity)[0])
    if isinstance(plan, FutureOptionPlan):
        times = np.array(plan.print_times)
        return lambda horizon: df * plan.payoff(horizon.mean(times).mean(axis=1))
    law = long_factor_law(model, market, plan.maturity)
    log_scale = math.log(plan.residual_value) - long_factor_log_mgf(law, plan.elasticity)
    return lambda horizon: df * plan.payoff(np.exp(log_scale + plan.elasticity * horizon.long_factor()))


def _closed_form_greeks(s: Spec, model, market, plan) -> Greeks | None:
    """The closed form's delta and vega per unit notional, or None where they are bumped."""
    if not has_greek_estimator(s.instrument.kind, s.model.kind):
        return None
    delta, vega = closed_form_greeks(model, market, plan)
    return Greeks(delta, 0.0, vega, 0.0)


def _greek_fields(method: str, greeks: Greeks | None, notional: float) -> dict:
    """A result's Greek fields for a trade of `notional`, made by `method` (None: bumped, not
    given here)."""
    if greeks is None:
        return dict(BUMPED)
    return {"greeks_method": method, "delta": notional * greeks.delta,
            "delta_stderr": notional * greeks.delta_stderr, "vega": notional * greeks.vega,
            "vega_stderr": notional * greeks.vega_stderr}


def _monte_carlo(jobs: list) -> list[dict]:
    """One kernel pass over the shared paths of `jobs`; a result per job. The kernel also
    sums the pathwise Greeks when a job has them (its price sums are the same bits)."""
    first = jobs[0]
    mc, model, market, grid = first.spec.mc, first.model, first.market, first.grid
    plans = [job.plan for job in jobs]
    control_variates = [_uses_control_variate(job.spec, job.plan, model) for job in jobs]
    greeks = any(job.pathwise for job in jobs)
    pathwise = pathwise_args(plans, model.spot) if greeks else None
    kernel, args = kernel_call(model, grid, plans, market, pathwise)
    sums = simulate_sums(kernel, args, mc.paths, mc.seed, mc.antithetic, mc.chunk_paths)
    results = []
    for job, job_sums, control_variate in zip(jobs, sums, control_variates):
        s, plan = job.spec, job.plan
        cv_mean = geometric_strip_mean(model, market, plan) if control_variate else None
        est = estimate(job_sums, cv_mean)
        run = {"steps": int(grid.size - 1), "antithetic": mc.antithetic,
               "control_variate": cv_mean is not None}
        if est.beta is not None:
            run["control_variate_beta"] = est.beta
        n = plan.notional
        if job.greeks:
            run.update(_greek_fields("pathwise", _pathwise(job, job_sums, control_variate), n))
        results.append(_result(s, plan, model, market, n * est.value, n * est.stderr, mc.paths,
                               mc.seed, "mc", run))
    return results


def _pathwise(job: _Simulated, sums, control_variate: bool) -> Greeks | None:
    """A job's pathwise Greeks per unit notional (with the price's control variate), or None
    where they are bumped."""
    if not job.pathwise:
        return None
    model = job.model
    cv_means = geometric_greeks(model, job.market, job.plan) if control_variate else None
    return greek_estimates(sums, model.spot, cv_means)


def _uses_control_variate(s: Spec, plan, model) -> bool:
    """The geometric-average control variate: GBM, arithmetic averages of several prints."""
    return (s.mc.control_variate and isinstance(model, Lognormal) and not model.has_jumps
            and plan.barrier is None and not plan.geometric
            and any(not p.linear and p.total_prints > 1 for p in plan.periods))


NOTIONAL_KEY = {"residual-put": "notional_gpus"}     # a notional not in GPU-hours


def _result(s: Spec, plan, model, market, value, stderr, paths, seed, method, run) -> dict:
    value, stderr = float(value), float(stderr)
    half = Z95 * stderr
    out = {"value": value, "stderr": stderr, "ci95": [value - half, value + half],
           "paths": paths, "seed": seed, "method": method,
           "instrument": s.instrument.kind, "model": s.model.kind,
           NOTIONAL_KEY.get(s.instrument.kind, "notional"): plan.notional, "maturity_years": plan.maturity,
           "times_years": s.timeline.table("instrument")}
    if s.instrument.index is not None:
        out["settles_on"] = s.instrument.index
    out.update(_instrument_fields(s.instrument, plan, model, market))
    out.update(run)
    return out


def _instrument_fields(ins, plan, model, market) -> dict:
    kind = ins.kind
    if kind in ("european", "asian", "barrier"):
        fields = {"option": ins.option, "strike": ins.strike}
        if kind == "asian":
            fields.update(averaging=ins.averaging, fixings=plan.periods[0].total_prints)
        if kind == "barrier":
            fields.update(barrier=ins.barrier, barrier_type=ins.barrier_type, rebate=ins.rebate)
        return fields
    if kind == "future-option":
        return {"option": ins.option, "strike": ins.strike, "expiry_years": plan.expiry,
                "futures_price": futures_price(model, market, plan), "prints": len(plan.print_times)}
    if kind == "residual-put":
        return {"strike_usd": ins.strike, "residual_value_usd": ins.residual_value,
                "elasticity": ins.elasticity}
    if kind == "future":
        fair = replace(plan, periods=(replace(plan.periods[0], strike=0.0),), discounted=False)
        return {"futures_price": linear_strip(model, market, fair), "strike": ins.strike,
                "prints": plan.periods[0].total_prints, "style": ins.style}
    rate = ins.fixed_rate if kind == "swap" else ins.strike
    return {"strike": rate, "periods": len(plan.periods)}


def price_moved(trades: list) -> list:
    """Values (USD) of trades under moved markets, all moves of all trades at once: `trades`
    lists (spec, moves), a validated Spec of a trade with has_moved_pricing and its moves
    [(index_factor, market), ...]; per trade, the list of its values under each move, or the
    exception. Move (f, market) is the trade with its index level (spot, long-run level,
    forward curve) f times higher and `market` (a built gpufin.market.curve.Market) as its
    discount curve: what price() of that moved spec gives, to rounding.

    The index models scale with their level (S_t is f times the base path, on the same random
    numbers) and the payoffs are homogeneous of degree one in (prints, strike), so the moved
    value is f times the base model's value of the plan whose strike and known prints are
    divided by f. All moves of a trade therefore share its model: one closed form each, or one
    kernel pass over the shared paths for every move and every trade on the same model and grid
    (on GBM and Merton, whose drift is the curve's, one pass per discount curve)."""
    results: list = [None] * len(trades)
    groups: dict = {}
    for n, (s, moves) in enumerate(trades):
        try:
            results[n] = [None] * len(moves)
            for job in _moved_jobs(n, s, moves, results[n]):
                groups.setdefault(job.key, []).append(job)
        except Exception as exc:
            results[n] = exc
    for jobs in groups.values():
        try:
            for job, value in zip(jobs, _moved_monte_carlo(jobs)):
                if not isinstance(results[job.trade], Exception):
                    results[job.trade][job.move] = value
        except Exception as exc:
            for job in jobs:
                results[job.trade] = exc
    return results


@dataclass(frozen=True)
class _Moved:
    """One move of a trade waiting for Monte Carlo: the plan per unit of the index factor."""
    trade: int
    move: int
    factor: float
    spec: Spec
    plan: object
    model: object
    market: object
    grid: np.ndarray

    @property
    def key(self):
        mc = self.spec.mc
        # a two-factor kernel reads no curve; a lognormal one drifts at the curve's rates
        curve = (None if isinstance(self.model, TwoFactor)
                 else (self.market.valuation_date, self.market.curve.model_dump_json()))
        return (self.model, curve, mc.paths, mc.seed, mc.antithetic, mc.chunk_paths,
                tuple(self.grid.tolist()))


def _moved_jobs(n: int, s: Spec, moves: list, values: list) -> list:
    """Closed-form moves written into `values`; the Monte Carlo moves as _Moved jobs."""
    if not has_moved_pricing(s.instrument.kind, s.model.kind):
        raise SpecError("instrument.kind", f"got {s.instrument.kind!r} on {s.model.kind!r}; moved "
                                           "pricing takes payoffs without barriers on index models")
    model = with_forward_curve(build_model(s.model, s.timeline), s.market.forward_curve, s.timeline)
    base = build_plan(s.instrument, s.model.spot, s.timeline)
    moves_today = any(p.today_prints for p in base.periods)
    if s.mc.method in ("auto", "analytic") and not moves_today:
        factors = np.array([factor for factor, _ in moves], dtype=float)
        try:
            unit = closed_form_moves(model, [market for _, market in moves], base, factors)
            values[:] = (factors * base.notional * unit).tolist()
            return []
        except NoClosedForm:
            pass                                    # move by move
    grid, jobs = None, []
    for k, (factor, market) in enumerate(moves):
        plan = build_plan(s.instrument, factor * s.model.spot, s.timeline) if moves_today else base
        plan = per_unit_factor(plan, factor)
        if s.mc.method in ("auto", "analytic"):
            try:
                values[k] = factor * plan.notional * closed_form(model, market, plan)
                continue
            except NoClosedForm:
                if s.mc.method == "analytic":
                    raise
        if grid is None:
            _price_or_defer(n, s, False)           # the checks of a simulated trade
            grid = time_grid(base, model, s.mc.steps_per_year)
        jobs.append(_Moved(n, k, factor, s, plan, model, market, grid))
    return jobs


def per_unit_factor(plan, factor: float):
    """The plan that pays, on index paths 1/factor times as high, 1/factor of what `plan` pays:
    strikes and known prints over factor (their logs less log factor)."""
    if factor == 1.0:
        return plan
    log_factor = math.log(factor)
    periods = tuple(replace(p, strike=p.strike / factor, known_sum=p.known_sum / factor,
                            known_log_sum=p.known_log_sum - _known_prints(p) * log_factor)
                    for p in plan.periods)
    return replace(plan, periods=periods)


def _known_prints(period) -> int:
    """Prints of the period's average already known (past and today's)."""
    return period.total_prints - len(period.print_times)


def _moved_monte_carlo(jobs: list) -> list[float]:
    """One kernel pass over the shared paths of `jobs` (one model and grid, payoffs on their
    own curves); a value (USD) per job."""
    first = jobs[0]
    mc, model, grid = first.spec.mc, first.model, first.grid
    kernel, (model_args, _) = kernel_call(model, grid, [first.plan], first.market)
    schedules = {}          # a trade's moves fix and close on the same steps
    for job in jobs:
        if job.trade not in schedules:
            schedules[job.trade] = schedule_arrays(job.plan, grid)
    payoffs = stack_payoffs([{**schedules[job.trade], **term_arrays(job.plan, job.market)}
                             for job in jobs], first.market.discount(grid[1:]))    # no barriers
    sums = simulate_sums(kernel, (model_args, payoffs), mc.paths, mc.seed, mc.antithetic, mc.chunk_paths)
    values = []
    for job, job_sums in zip(jobs, sums):
        control_variate = _uses_control_variate(job.spec, job.plan, model)
        cv_mean = geometric_strip_mean(model, job.market, job.plan) if control_variate else None
        values.append(job.factor * job.plan.notional * estimate(job_sums, cv_mean).value)
    return values


def horizon_factors(s: Spec, horizon_years: float, n_paths: int, seed: int) -> np.ndarray:
    """S_h / S_0 of the trade's index model over `horizon_years` on `n_paths` paths of `seed`:
    the index model of a trade, or the rental index of a gpu-fleet (collateral paths of
    gpufin.engines.collateral; GBM and Merton drift at the trade's curve)."""
    collateral = collateral_engine.build_collateral(s)
    model = collateral.model.index if collateral.fleet else collateral.model
    args = model.kernel_args(np.array([0.0, horizon_years]), collateral.market)
    kernel = lognormal_paths if isinstance(model, Lognormal) else two_factor_paths
    levels = kernel(seed_key(seed), 0, n_paths, args)
    return levels[:, 1] / levels[:, 0]
