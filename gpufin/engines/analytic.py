"""Closed forms, per unit notional. Each raises NoClosedForm where none exists.

- futures, forwards, swaps: sum over periods of DF * omega * (E[A] - K), E[A] the average
  of the model's closed-form E[S_t] (any model);
- European options and single-print caplets/floorlets: QuantLib's AnalyticEuropeanEngine
  (GBM); Merton's Poisson series of Black-76 terms (jump-diffusion; QuantLib's Python
  build has no Merton engine); Black-76 on the closed-form future (Schwartz 1997), with a
  Poisson mixture over launch jumps for Schwartz-Smith (no closed form with spikes);
- geometric Asians under GBM: QuantLib's AnalyticDiscreteGeometricAveragePriceAsianEngine;
- continuously monitored barriers under GBM: QuantLib's AnalyticBarrierEngine;
- `geometric_strip_mean`: the expected geometric-average payoff, the control variate's mean.
"""
from __future__ import annotations

import math

import numpy as np

from gpufin.errors import NoClosedForm
from gpufin.models.index import Lognormal
from gpufin.spec.times import DAYS_PER_YEAR


def _years(days) -> np.ndarray:
    return np.asarray(days, dtype=float) / DAYS_PER_YEAR


def _option_type(ql, omega: float):
    return ql.Option.Call if omega > 0 else ql.Option.Put


def black(ql, omega, strike, forward, std_dev, discount) -> float:
    """Black-76 price through QuantLib's blackFormula (intrinsic value when std_dev is 0)."""
    if std_dev <= 0.0:
        return discount * max(omega * (forward - strike), 0.0)
    return ql.blackFormula(_option_type(ql, omega), strike, forward, std_dev, discount)


def poisson_black_mixture(market, omega, strike, base_mean, base_var, jump_mean, jump_var,
                          lam_t, discount) -> float:
    """sum_n P(N = n) Black(F_n, sqrt(v_n)) with ln S_T | N=n ~ N(base_mean + n m, base_var + n s^2)."""
    n_max = int(lam_t + 12.0 * math.sqrt(lam_t) + 25.0) if lam_t > 0.0 else 0
    ql = market.ql
    total, weight = 0.0, math.exp(-lam_t)
    for n in range(n_max + 1):
        if n > 0:
            weight *= lam_t / n
        var = base_var + n * jump_var
        fwd = math.exp(base_mean + n * jump_mean + 0.5 * var)
        total += weight * black(ql, omega, strike, fwd, math.sqrt(var), discount)
    return total


def gbm_process(model: Lognormal, market):
    """A QuantLib Black-Scholes-Merton process on the market curve."""
    ql = market.ql
    vol = ql.BlackConstantVol(market.ql_date(0), ql.NullCalendar(), model.vol, ql.Actual365Fixed())
    return ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(model.spot)),
                                        market.flat_handle(model.dividend), market.curve_handle(),
                                        ql.BlackVolTermStructureHandle(vol))


def european(model, market, day: int, strike: float, omega: float) -> float:
    """Present value of max(omega (S_T - K), 0) paid at T = day."""
    t = float(_years(day))
    df = float(market.discount(t)[0])
    if isinstance(model, Lognormal) and not model.has_jumps:
        ql = market.ql
        option = ql.VanillaOption(ql.PlainVanillaPayoff(_option_type(ql, omega), strike),
                                  ql.EuropeanExercise(market.ql_date(day)))
        option.setPricingEngine(ql.AnalyticEuropeanEngine(gbm_process(model, market)))
        return option.NPV()
    if isinstance(model, Lognormal):
        drift = math.log(model.spot) - math.log(df) - (model.dividend + 0.5 * model.vol ** 2
                                                       + model.jump_intensity * model.jump_compensator) * t
        return poisson_black_mixture(market, omega, strike, drift, model.vol ** 2 * t,
                                     model.jump_mean, model.jump_vol ** 2,
                                     model.jump_intensity * t, df)
    if model.has_spikes:
        raise NoClosedForm("model.spike_intensity", "no closed form for options with shortage spikes; use mc.method = \"mc\"")
    mean, var = model._diffusive(np.array([t]))
    n_sched = model._launches_by(np.array([t]))[0]
    base_mean = float(mean[0] + model.shift(t)[0]) + n_sched * model.launch_mean
    base_var = float(var[0]) + n_sched * model.launch_vol ** 2
    return poisson_black_mixture(market, omega, strike, base_mean, base_var, model.launch_mean,
                                 model.launch_vol ** 2, model.launch_intensity * t, df)


def linear_strip(model, market, plan) -> float:
    """Futures, forwards and swaps: sum_p DF_p omega_p (E[A_p] - K_p)."""
    periods = plan.periods
    ends = np.cumsum([len(p.print_days) for p in periods])
    means = np.split(model.mean(_years(np.concatenate([p.print_days for p in periods])), market), ends[:-1])
    dfs = market.discount(_years([p.pay_day for p in periods])) if plan.discounted else np.ones(len(periods))
    total = 0.0
    for p, mean, df in zip(periods, means, dfs.tolist()):
        expected = p.known_sum + float(np.sum(mean)) if p.print_days else p.known_sum
        total += df * p.omega * (expected / p.total_prints - p.strike)
    return total


def geometric_asian(model: Lognormal, market, plan) -> float:
    """QuantLib's analytic discrete geometric-average-price engine (GBM)."""
    ql = market.ql
    (p,) = plan.periods
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric, math.exp(p.known_log_sum), p.total_prints - len(p.print_days),
        [market.ql_date(d) for d in p.print_days],
        ql.PlainVanillaPayoff(_option_type(ql, p.omega), p.strike),
        ql.EuropeanExercise(market.ql_date(p.pay_day)))
    option.setPricingEngine(ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(gbm_process(model, market)))
    return option.NPV()


def barrier(model: Lognormal, market, plan) -> float:
    """QuantLib's AnalyticBarrierEngine (continuous monitoring, GBM)."""
    ql = market.ql
    (p,) = plan.periods
    knock = plan.barrier
    kinds = {(False, False): ql.Barrier.DownOut, (False, True): ql.Barrier.DownIn,
             (True, False): ql.Barrier.UpOut, (True, True): ql.Barrier.UpIn}
    option = ql.BarrierOption(kinds[(knock.up, knock.knock_in)], knock.level, knock.rebate,
                              ql.PlainVanillaPayoff(_option_type(ql, p.omega), p.strike),
                              ql.EuropeanExercise(market.ql_date(p.pay_day)))
    option.setPricingEngine(ql.AnalyticBarrierEngine(gbm_process(model, market)))
    return option.NPV()


def _single_print(p) -> bool:
    return p.total_prints == 1 and len(p.print_days) == 1 and p.print_days[0] == p.pay_day


def closed_form(model, market, plan) -> float:
    """Present value per unit notional, or NoClosedForm."""
    gbm = isinstance(model, Lognormal) and not model.has_jumps
    if plan.barrier is not None:
        if gbm and plan.barrier.monitor_days is None:
            return barrier(model, market, plan)
        raise NoClosedForm("instrument.monitoring", "no closed form for this barrier (GBM with continuous monitoring only)")
    if all(p.linear for p in plan.periods):
        return linear_strip(model, market, plan)
    if all(_single_print(p) for p in plan.periods):
        return sum(european(model, market, p.pay_day, p.strike, p.omega) for p in plan.periods)
    if plan.geometric and gbm and len(plan.periods) == 1:
        # QuantLib's engine uses one zero rate to expiry: exact on a flat curve only
        if market.curve.kind == "flat":
            return geometric_asian(model, market, plan)
        return geometric_strip_mean(model, market, plan)
    raise NoClosedForm("instrument.kind", "no closed form for averages of several prints under this model; use mc.method = \"mc\"")


def geometric_strip_mean(model: Lognormal, market, plan) -> float:
    """E[sum_p DF_p max(omega (G_p - K), 0)] with G_p the geometric average (GBM):
    ln G_p is Gaussian with Cov(ln S_t, ln S_u) = sigma^2 min(t, u)."""
    total = 0.0
    for p in plan.periods:
        t = _years(p.print_days)
        df_t = market.discount(t)
        log_means = math.log(model.spot) - np.log(df_t) - (model.dividend + 0.5 * model.vol ** 2) * t
        n = t.size
        mean = (p.known_log_sum + float(np.sum(log_means))) / p.total_prints
        min_sum = float(np.sum(t * (2.0 * (n - np.arange(n)) - 1.0)))  # sum_ij min(t_i, t_j), t sorted
        var = model.vol ** 2 * min_sum / p.total_prints ** 2
        df = float(market.discount(_years(p.pay_day))[0]) if plan.discounted else 1.0
        total += black(market.ql, p.omega, p.strike, math.exp(mean + 0.5 * var), math.sqrt(var), df)
    return total
