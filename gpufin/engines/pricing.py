"""`price(spec)`: the one code path behind the Python API and `gpufin price`.

A result is a flat dict: `value` (present value, USD), `stderr` (0 for a closed form),
`ci95` ([low, high]), `paths`, `seed` (None for a closed form), `method` (`mc` or
`analytic`), then fields of the instrument and of the run.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gpufin.engines.analytic import closed_form, geometric_strip_mean, linear_strip
from gpufin.engines.loan import price_loan
from gpufin.engines.montecarlo import Z95, estimate, kernel_call, simulate_sums, time_grid
from gpufin.errors import NoClosedForm, SpecError
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.index import Lognormal, build_model, with_forward_curve
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec


MAX_PATH_STEPS = 10 ** 11       # about ten minutes of the fastest kernel on two cores


def price(spec: dict | str | Path | Spec, overrides: list[str] = ()) -> dict:
    """Value a trade spec (a dict, a TOML/JSON path or a validated Spec)."""
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides)
    (result,) = price_many([s])
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

    @property
    def key(self):
        mc = self.spec.mc
        market = self.market       # as built: a flat model.rate becomes its curve
        return (self.model, market.valuation_date, market.curve.model_dump_json(),
                self.spec.market.model_dump_json(), mc.paths, mc.seed, mc.antithetic,
                mc.chunk_paths, tuple(self.grid.tolist()))


def price_many(specs: list) -> list:
    """Price several specs: a result dict, or the exception, per spec, in order.
    Trades on the same model, market, path count, seed and time grid are simulated together
    (one kernel pass evaluates all their payoffs on the same paths), so each gets exactly the
    numbers it would get alone."""
    results: list = [None] * len(specs)
    groups: dict = {}
    for n, spec in enumerate(specs):
        try:
            s = spec if isinstance(spec, Spec) else load_spec(spec)
            job = _price_or_defer(n, s)
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


def _price_or_defer(n: int, s: Spec):
    """A result when no simulation of the index is needed, else the deferred trade."""
    if s.instrument.kind == "loan":
        if s.mc.method == "analytic":
            raise NoClosedForm("mc.method", "loans are priced by Monte Carlo only; use \"auto\" or \"mc\"")
        return price_loan(s)
    if s.model.kind == "gpu-fleet":
        raise SpecError("model.kind", f"a gpu-fleet is collateral for loans, not an index for {s.instrument.kind!r}")
    market = build_market(s.market, s.model.rate, s.timeline)
    model = with_forward_curve(build_model(s.model, s.timeline), s.market.forward_curve, s.timeline)
    plan = build_plan(s.instrument, s.model.spot, s.timeline)
    if s.mc.method in ("auto", "analytic"):
        try:
            value = plan.notional * closed_form(model, market, plan)
            return _result(s, plan, model, market, value, 0.0, 0, None, "analytic", {})
        except NoClosedForm:
            if s.mc.method == "analytic":
                raise
    if s.mc.antithetic and s.mc.paths % 2:
        raise SpecError("mc.paths", f"got {s.mc.paths}; expected an even count with mc.antithetic = true")
    grid = time_grid(plan, model, s.mc.steps_per_year)
    if s.mc.paths * (grid.size - 1) > MAX_PATH_STEPS:
        raise SpecError("mc.paths", f"got {s.mc.paths:,} paths x {grid.size - 1:,} steps; expected at most "
                                    f"{MAX_PATH_STEPS:,} path-steps (fewer paths or steps)")
    return _Simulated(n, s, plan, model, market, grid)


def _monte_carlo(jobs: list) -> list[dict]:
    """One kernel pass over the shared paths of `jobs`; a result per job."""
    first = jobs[0]
    mc, model, market, grid = first.spec.mc, first.model, first.market, first.grid
    kernel, args = kernel_call(model, grid, [job.plan for job in jobs], market)
    sums = simulate_sums(kernel, args, mc.paths, mc.seed, mc.antithetic, mc.chunk_paths)
    results = []
    for job, job_sums in zip(jobs, sums):
        s, plan = job.spec, job.plan
        cv_mean = geometric_strip_mean(model, market, plan) if _uses_control_variate(s, plan, model) else None
        est = estimate(job_sums, cv_mean)
        run = {"steps": int(grid.size - 1), "antithetic": mc.antithetic,
               "control_variate": cv_mean is not None}
        if est.beta is not None:
            run["control_variate_beta"] = est.beta
        n = plan.notional
        results.append(_result(s, plan, model, market, n * est.value, n * est.stderr, mc.paths,
                               mc.seed, "mc", run))
    return results


def _uses_control_variate(s: Spec, plan, model) -> bool:
    """The geometric-average control variate: GBM, arithmetic averages of several prints."""
    return (s.mc.control_variate and isinstance(model, Lognormal) and not model.has_jumps
            and plan.barrier is None and not plan.geometric
            and any(not p.linear and p.total_prints > 1 for p in plan.periods))


def _result(s: Spec, plan, model, market, value, stderr, paths, seed, method, run) -> dict:
    value, stderr = float(value), float(stderr)
    half = Z95 * stderr
    out = {"value": value, "stderr": stderr, "ci95": [value - half, value + half],
           "paths": paths, "seed": seed, "method": method,
           "instrument": s.instrument.kind, "model": s.model.kind,
           "notional": plan.notional, "maturity_years": plan.maturity,
           "times_years": s.timeline.table("instrument")}
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
    if kind == "future":
        fair = replace(plan, periods=(replace(plan.periods[0], strike=0.0),), discounted=False)
        return {"futures_price": linear_strip(model, market, fair), "strike": ins.strike,
                "prints": plan.periods[0].total_prints, "style": ins.style}
    rate = ins.fixed_rate if kind == "swap" else ins.strike
    return {"strike": rate, "periods": len(plan.periods)}
