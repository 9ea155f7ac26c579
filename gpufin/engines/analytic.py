"""Closed forms at exact times, per unit notional. Each raises NoClosedForm where none exists.

QuantLib's engines take dates, so a time that is not a whole number of days is priced with
QuantLib's pieces at the exact time instead: `blackFormula` with the exact standard
deviation and discount factor, its normal distribution, the curve's discount factors.
The Monte Carlo of a trade sees the same instants.

- futures, forwards, swaps: sum over periods of DF * omega * (E[A] - K), E[A] the average
  of the model's closed-form E[S_t] (any model);
- European options and single-print caplets/floorlets: Black-Scholes-Merton (GBM, the
  forward from the curve and the dividend yield); Merton's Poisson series of Black-76 terms
  (jump-diffusion); Black-76 on the closed-form future (Schwartz 1997), with a Poisson
  mixture over launch jumps for Schwartz-Smith (no closed form with spikes);
- geometric Asians under GBM: the lognormal law of the geometric average on the exact
  fixing times (`geometric_strip_mean`);
- continuously monitored barriers under GBM: Reiner and Rubinstein (1991) as in Haug, "The
  Complete Guide to Option Pricing Formulas" (2007), 4.17.1, with the zero rate to expiry
  (QuantLib's AnalyticBarrierEngine at the same instants).
"""
from __future__ import annotations

import math

import numpy as np
import QuantLib as ql

from gpufin.errors import NoClosedForm
from gpufin.models.index import Lognormal

_NORMAL = ql.CumulativeNormalDistribution()


def _option_type(omega: float):
    return ql.Option.Call if omega > 0 else ql.Option.Put


def black(omega, strike, forward, std_dev, discount) -> float:
    """Black-76 price through QuantLib's blackFormula (intrinsic value when std_dev is 0)."""
    if std_dev <= 0.0:
        return discount * max(omega * (forward - strike), 0.0)
    return ql.blackFormula(_option_type(omega), strike, forward, std_dev, discount)


def poisson_black_mixture(omega, strike, base_mean, base_var, jump_mean, jump_var, lam_t,
                          discount) -> float:
    """sum_n P(N = n) Black(F_n, sqrt(v_n)) with ln S_T | N=n ~ N(base_mean + n m, base_var + n s^2)."""
    n_max = int(lam_t + 12.0 * math.sqrt(lam_t) + 25.0) if lam_t > 0.0 else 0
    total, weight = 0.0, math.exp(-lam_t)
    for n in range(n_max + 1):
        if n > 0:
            weight *= lam_t / n
        var = base_var + n * jump_var
        fwd = math.exp(base_mean + n * jump_mean + 0.5 * var)
        total += weight * black(omega, strike, fwd, math.sqrt(var), discount)
    return total


def gbm_process(model: Lognormal, market):
    """A QuantLib Black-Scholes-Merton process on the market curve."""
    ql = market.ql
    vol = ql.BlackConstantVol(market.ql_date(0), ql.NullCalendar(), model.vol, ql.Actual365Fixed())
    return ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(model.spot)),
                                        market.flat_handle(model.dividend), market.curve_handle(),
                                        ql.BlackVolTermStructureHandle(vol))


def european(model, market, t: float, strike: float, omega: float) -> float:
    """Present value of max(omega (S_T - K), 0) paid at T = t years."""
    df = float(market.discount(t)[0])
    if isinstance(model, Lognormal) and not model.has_jumps:
        forward = model.spot * math.exp(-model.dividend * t) / df
        return black(omega, strike, forward, model.vol * math.sqrt(t), df)
    if isinstance(model, Lognormal):
        drift = math.log(model.spot) - math.log(df) - (model.dividend + 0.5 * model.vol ** 2
                                                       + model.jump_intensity * model.jump_compensator) * t
        return poisson_black_mixture(omega, strike, drift, model.vol ** 2 * t, model.jump_mean,
                                     model.jump_vol ** 2, model.jump_intensity * t, df)
    if model.has_spikes:
        raise NoClosedForm("model.spike_intensity", "no closed form for options with shortage spikes; use mc.method = \"mc\"")
    mean, var = model._diffusive(np.array([t]))
    n_sched = model._launches_by(np.array([t]))[0]
    base_mean = float(mean[0] + model.shift(t)[0]) + n_sched * model.launch_mean
    base_var = float(var[0]) + n_sched * model.launch_vol ** 2
    return poisson_black_mixture(omega, strike, base_mean, base_var, model.launch_mean,
                                 model.launch_vol ** 2, model.launch_intensity * t, df)


def linear_strip(model, market, plan) -> float:
    """Futures, forwards and swaps: sum_p DF_p omega_p (E[A_p] - K_p)."""
    periods = plan.periods
    ends = np.cumsum([len(p.print_times) for p in periods])
    means = np.split(model.mean(np.concatenate([p.print_times for p in periods]), market), ends[:-1])
    dfs = market.discount([p.pay_time for p in periods]) if plan.discounted else np.ones(len(periods))
    total = 0.0
    for p, mean, df in zip(periods, means, dfs.tolist()):
        expected = p.known_sum + float(np.sum(mean)) if p.print_times else p.known_sum
        total += df * p.omega * (expected / p.total_prints - p.strike)
    return total


def _scaled(base: float, power: float, probability: float) -> float:
    """base ** power x probability, in logs: at a small volatility the power overflows where
    the probability underflows, and the product is what counts."""
    if probability <= 0.0:
        return 0.0
    return math.exp(min(power * math.log(base) + math.log(probability), 700.0))


def barrier(model: Lognormal, market, plan) -> float:
    """Continuously monitored single barrier under GBM (Reiner-Rubinstein; Haug 2007, 4.17.1):
    r is the zero rate to expiry, b = r - q; a knock-out rebate is paid at the hit, a
    knock-in rebate at expiry."""
    (p,) = plan.periods
    knock = plan.barrier
    t, s, x, h, k = p.pay_time, model.spot, p.strike, knock.level, knock.rebate
    df = float(market.discount(t)[0])
    r = -math.log(df) / t
    b = r - model.dividend
    sd = model.vol * math.sqrt(t)
    phi, eta = p.omega, -1.0 if knock.up else 1.0
    mu = (b - 0.5 * model.vol ** 2) / model.vol ** 2
    lam = math.sqrt(mu * mu + 2.0 * r / model.vol ** 2)
    carry = s * math.exp((b - r) * t)
    hs = h / s

    def n(z):
        return _NORMAL(z)

    def a_(x1):
        return phi * carry * n(phi * x1) - phi * x * df * n(phi * (x1 - sd))

    def c_(y):
        return (phi * carry * _scaled(hs, 2 * (mu + 1), n(eta * y))
                - phi * x * df * _scaled(hs, 2 * mu, n(eta * (y - sd))))

    x1 = math.log(s / x) / sd + (1 + mu) * sd
    x2 = math.log(s / h) / sd + (1 + mu) * sd
    y1 = math.log(h * h / (s * x)) / sd + (1 + mu) * sd
    y2 = math.log(h / s) / sd + (1 + mu) * sd
    z = math.log(h / s) / sd + lam * sd
    A, B, C, D = a_(x1), a_(x2), c_(y1), c_(y2)
    E = k * df * (n(eta * (x2 - sd)) - _scaled(hs, 2 * mu, n(eta * (y2 - sd))))
    F = k * (_scaled(hs, mu + lam, n(eta * z)) + _scaled(hs, mu - lam, n(eta * (z - 2 * lam * sd))))
    above = x >= h
    call = phi > 0
    if knock.knock_in:
        table = {(False, True): (C + E, A - B + D + E), (True, True): (A + E, B - C + D + E),
                 (False, False): (B - C + D + E, A + E), (True, False): (A - B + D + E, C + E)}
    else:
        table = {(False, True): (A - C + F, B - D + F), (True, True): (F, A - B + C - D + F),
                 (False, False): (A - B + C - D + F, F), (True, False): (B - D + F, A - C + F)}
    strike_above, strike_below = table[(knock.up, call)]
    return strike_above if above else strike_below


def _single_print(p) -> bool:
    return p.total_prints == 1 and len(p.print_times) == 1 and p.print_times[0] == p.pay_time


def closed_form(model, market, plan) -> float:
    """Present value per unit notional, or NoClosedForm."""
    gbm = isinstance(model, Lognormal) and not model.has_jumps
    if plan.barrier is not None:
        if gbm and plan.barrier.monitor_times is None:
            return barrier(model, market, plan)
        raise NoClosedForm("instrument.monitoring", "no closed form for this barrier (GBM with continuous monitoring only)")
    if all(p.linear for p in plan.periods):
        return linear_strip(model, market, plan)
    if all(_single_print(p) for p in plan.periods):
        return sum(european(model, market, p.pay_time, p.strike, p.omega) for p in plan.periods)
    if plan.geometric and gbm and len(plan.periods) == 1:
        return geometric_strip_mean(model, market, plan)
    raise NoClosedForm("instrument.kind", "no closed form for averages of several prints under this model; use mc.method = \"mc\"")


def geometric_strip_mean(model: Lognormal, market, plan) -> float:
    """E[sum_p DF_p max(omega (G_p - K), 0)] with G_p the geometric average (GBM):
    ln G_p is Gaussian with Cov(ln S_t, ln S_u) = sigma^2 min(t, u)."""
    total = 0.0
    for p in plan.periods:
        t = np.asarray(p.print_times, dtype=float)
        df_t = market.discount(t)
        log_means = math.log(model.spot) - np.log(df_t) - (model.dividend + 0.5 * model.vol ** 2) * t
        n = t.size
        mean = (p.known_log_sum + float(np.sum(log_means))) / p.total_prints
        min_sum = float(np.sum(t * (2.0 * (n - np.arange(n)) - 1.0)))  # sum_ij min(t_i, t_j), t sorted
        var = model.vol ** 2 * min_sum / p.total_prints ** 2
        df = float(market.discount(p.pay_time)[0]) if plan.discounted else 1.0
        total += black(p.omega, p.strike, math.exp(mean + 0.5 * var), math.sqrt(var), df)
    return total
