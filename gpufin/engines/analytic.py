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
  (QuantLib's AnalyticBarrierEngine at the same instants);
- options on a monthly-average future (`future_option`): Black-76 on the futures price at the
  expiry. Under GBM and Merton that price is S_expiry times a constant (exact). Under
  Schwartz-Smith it is an average of lognormals E_e[S_t] = E[S_t] e^{b_t X + Y - Var/2}
  (X, Y the centred chi and xi at the expiry, b_t = e^{-kappa (t - e)}), taken as lognormal
  with its exact mean and second moment (the future's log-variance
  v = ln sum_jk w_j w_k F_j F_k e^{c_jk} / F^2, c_jk = b_j b_k Var X + (b_j + b_k) Cov + Var Y;
  exact for a one-print future); launch jumps move every E_e[S_t] alike, a Poisson mixture;
  no closed form with spikes;
- residual-value puts (`residual_put`): P_T = R e^{a L_T} / E[e^{a L_T}] with L the long-term
  factor (xi; ln S under GBM and Merton), Gaussian given the number of jumps: a Poisson
  mixture of Black-76 prices on the forward R.

`closed_form_moves` values a trade under many index and rate moves at once (VaR, stress,
Greek bumps): the European and linear strips over NumPy arrays of moves, Black-76 by
`black_array` (the formula of blackFormula on arrays, scipy's normal distribution), equal to
the move-by-move closed forms to rounding (tests/test_var_models.py).

`closed_form_greeks` differentiates the same formulas (all but the barrier's): each option
term is Black-76 on a lognormal law of mean m and variance v of ln S, whose derivatives in
(m, v) follow from d/d ln F = DF omega N(omega d1) F and d/d sd = DF F phi(d1); every model
scales E[S_t] with the spot, and `vol_sensitivities` of the model gives how m and v move
with the volatility.
"""
from __future__ import annotations

import math

import numpy as np
import QuantLib as ql

from gpufin.errors import NoClosedForm
from gpufin.instruments.payoffs import FutureOptionPlan, ResidualPutPlan
from gpufin.lazy import lazy_module
from gpufin.models.index import Lognormal

special = lazy_module("scipy.special")        # ndtr, the normal distribution on arrays
_NORMAL = ql.CumulativeNormalDistribution()
TAIL = 1e-18        # what a Poisson mixture leaves out, relative to its forward or strike


def _option_type(omega: float):
    return ql.Option.Call if omega > 0 else ql.Option.Put


def black(omega, strike, forward, std_dev, discount) -> float:
    """Black-76 price through QuantLib's blackFormula (intrinsic value when std_dev is 0)."""
    if std_dev <= 0.0:
        return discount * max(omega * (forward - strike), 0.0)
    return ql.blackFormula(_option_type(omega), strike, forward, std_dev, discount)


def black_array(omega, strike, forward, std_dev, discount) -> np.ndarray:
    """Black-76 on arrays (broadcast together): discount omega (F N(omega d1) - K N(omega d2)),
    the intrinsic value where std_dev is 0; QuantLib's blackFormula takes one price a call,
    this takes many strikes and discount factors at once."""
    std_dev = np.asarray(std_dev, dtype=float)
    sd = np.where(std_dev > 0.0, std_dev, 1.0)
    d1 = np.log(forward / strike) / sd + 0.5 * sd
    price = omega * (forward * special.ndtr(omega * d1) - strike * special.ndtr(omega * (d1 - sd)))
    return discount * np.where(std_dev > 0.0, price, np.maximum(omega * (forward - strike), 0.0))


def black_sensitivities(omega, strike, forward, variance, discount) -> tuple[float, float]:
    """d Black / d m and d Black / d v, where ln F = m + v / 2 and the standard deviation is
    sqrt(v): d/d ln F = DF omega N(omega d1) F and d/d sd = DF F phi(d1)."""
    if variance <= 0.0:
        return discount * omega * forward * float(omega * (forward - strike) > 0.0), 0.0
    sd = math.sqrt(variance)
    d1 = math.log(forward / strike) / sd + 0.5 * sd
    d_log_forward = discount * omega * forward * _NORMAL(omega * d1)
    d_sd = discount * forward * _NORMAL.derivative(d1)
    return d_log_forward, 0.5 * d_log_forward + 0.5 * d_sd / sd


def _poisson_terms(base_mean, base_var, jump_mean, jump_var, lam_t):
    """(P(N = n), F_n, v_n) of each term of a Poisson mixture of lognormal laws, until the
    terms left out weigh less than TAIL: a term's price is at most DF P(N = n) max(F_n, K),
    and once each next term's P(N = n) and P(N = n) F_n / F_0 are at most half the last's, the
    tail is at most the last term's."""
    n_max = int(lam_t + 12.0 * math.sqrt(lam_t) + 25.0) if lam_t > 0.0 else 0
    growth = math.exp(jump_mean + 0.5 * jump_var)          # F_{n+1} / F_n
    weight = math.exp(-lam_t)
    for n in range(n_max + 1):
        if n > 0:
            weight *= lam_t / n
        var = base_var + n * jump_var
        yield weight, math.exp(base_mean + n * jump_mean + 0.5 * var), var
        halving = lam_t * max(growth, 1.0) <= 0.5 * (n + 1)
        if halving and weight * max(growth, 1.0) ** n < TAIL:
            return


def poisson_black_mixture(omega, strike, base_mean, base_var, jump_mean, jump_var, lam_t,
                          discount) -> float:
    """sum_n P(N = n) Black(F_n, sqrt(v_n)) with ln S_T | N=n ~ N(base_mean + n m, base_var + n s^2)."""
    total = 0.0
    for weight, fwd, var in _poisson_terms(base_mean, base_var, jump_mean, jump_var, lam_t):
        total += weight * black(omega, strike, fwd, math.sqrt(var), discount)
    return total


def mixture_sensitivities(omega, strike, base_mean, base_var, jump_mean, jump_var, lam_t,
                          discount) -> tuple[float, float]:
    """d/d base_mean and d/d base_var of poisson_black_mixture."""
    d_mean = d_var = 0.0
    for weight, fwd, var in _poisson_terms(base_mean, base_var, jump_mean, jump_var, lam_t):
        dm, dv = black_sensitivities(omega, strike, fwd, var, discount)
        d_mean += weight * dm
        d_var += weight * dv
    return d_mean, d_var


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
    return poisson_black_mixture(omega, strike, *_log_law(model, t, df), df)


def _log_law(model, t: float, df) -> tuple:
    """ln S_t as a Poisson mixture of normals: (base_mean, base_var, jump_mean, jump_var,
    lam_t), ln S_t | N = n ~ N(base_mean + n jump_mean, base_var + n jump_var) (GBM: no
    jumps; Merton; Schwartz-Smith's launch jumps, no closed form with spikes); df the
    discount factor to t, or an array of them (GBM and Merton drift at the curve's rate: then
    base_mean is an array)."""
    if isinstance(model, Lognormal):
        drift = math.log(model.spot) - np.log(df) - (model.dividend + 0.5 * model.vol ** 2
                                                     + model.jump_intensity * model.jump_compensator) * t
        return (drift, model.vol ** 2 * t, model.jump_mean, model.jump_vol ** 2,
                model.jump_intensity * t)
    if model.has_spikes:
        raise NoClosedForm("model.spike_intensity", "no closed form for options with shortage spikes; use mc.method = \"mc\"")
    mean, var = model._diffusive(np.array([t]))
    n_sched = model.launches_by(np.array([t]))[0]
    base_mean = float(mean[0] + model.shift(t)[0]) + n_sched * model.launch_mean
    base_var = float(var[0]) + n_sched * model.launch_vol ** 2
    return base_mean, base_var, model.launch_mean, model.launch_vol ** 2, model.launch_intensity * t


def european_moves(model, t: float, strike: float, omega: float, factors: np.ndarray,
                   dfs: np.ndarray) -> np.ndarray:
    """`european` at strike / factors[k] on the curve whose discount factor to t is dfs[k],
    for every move k at once: one Black array over [term, move] of the Poisson mixture, its
    terms then added in order."""
    base_mean, base_var, jump_mean, jump_var, lam_t = _log_law(model, t, dfs)
    level, strikes = np.exp(base_mean), strike / factors
    weights, forwards, variances = (np.array(x) for x in zip(*_poisson_terms(0.0, base_var, jump_mean,
                                                                             jump_var, lam_t)))
    prices = black_array(omega, strikes, level * forwards[:, None], np.sqrt(variances)[:, None], dfs)
    total = np.zeros(factors.size)
    for weight, price in zip(weights, prices):
        total += weight * price
    return total


def european_greeks(model, market, t: float, strike: float, omega: float) -> tuple[float, float]:
    """(delta per unit of spot, vega per 1.00 of volatility) of `european`: ln S_t moves one
    for one with ln spot; with the volatility its variance v moves by d Var and its mean by
    d ln E[S_t] - d Var / 2 (the jump parts do not move)."""
    df = float(market.discount(t)[0])
    d_mean, d_var = mixture_sensitivities(omega, strike, *_log_law(model, t, df), df)
    d_log_mean, d_log_var = (float(x[0]) for x in model.vol_sensitivities(t))
    return d_mean / model.spot, d_mean * (d_log_mean - 0.5 * d_log_var) + d_var * d_log_var


def linear_strip(model, market, plan) -> float:
    """Futures, forwards and swaps: sum_p DF_p omega_p (E[A_p] - K_p)."""
    total = 0.0
    for p, mean, df in zip(plan.periods, *_strip_means(model, market, plan)):
        expected = p.known_sum + float(np.sum(mean)) if p.print_times else p.known_sum
        total += df * p.omega * (expected / p.total_prints - p.strike)
    return total


def _strip_means(model, market, plan) -> tuple[list, list]:
    """E[S_t] at each period's future prints, and each period's payment discount factor."""
    means = _by_period(plan, model.mean(_print_times(plan), market))
    periods = plan.periods
    dfs = market.discount([p.pay_time for p in periods]) if plan.discounted else np.ones(len(periods))
    return means, dfs.tolist()


def _print_times(plan) -> np.ndarray:
    return np.concatenate([p.print_times for p in plan.periods])


def _by_period(plan, values: np.ndarray) -> list:
    """A value per future print, split by period."""
    ends = np.cumsum([len(p.print_times) for p in plan.periods])
    return np.split(values, ends[:-1])


def linear_strip_greeks(model, market, plan) -> tuple[float, float]:
    """(delta, vega) of linear_strip: E[S_t] and today's prints move with the spot; only
    E[S_t] moves with the volatility (at d ln E[S_t] per unit)."""
    means, dfs = _strip_means(model, market, plan)
    d_log_means = _by_period(plan, model.vol_sensitivities(_print_times(plan))[0])
    delta = vega = 0.0
    for p, mean, d_log_mean, df in zip(plan.periods, means, d_log_means, dfs):
        moving = p.today_prints * model.spot + float(np.sum(mean))
        delta += df * p.omega * moving / p.total_prints / model.spot
        vega += df * p.omega * float(np.sum(mean * d_log_mean)) / p.total_prints
    return delta, vega


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
    if isinstance(plan, FutureOptionPlan):
        return future_option(model, market, plan)
    if isinstance(plan, ResidualPutPlan):
        return residual_put(model, market, plan)
    return PRICES[_formula(model, plan)](model, market, plan)


def closed_form_greeks(model, market, plan) -> tuple[float, float]:
    """(delta per USD/GPU-hr of spot, vega per 1.00 of volatility) of closed_form's value,
    per unit notional, from the same formulas; NoClosedForm where there is none (barriers)."""
    form = _formula(model, plan)
    if form not in GREEKS:
        raise NoClosedForm("instrument.kind", f"no closed-form Greeks for a {form}")
    return GREEKS[form](model, market, plan)


def _formula(model, plan) -> str:
    """The closed form of a plan: barrier, linear, european or geometric; or NoClosedForm."""
    gbm = isinstance(model, Lognormal) and not model.has_jumps
    if plan.barrier is not None:
        if gbm and plan.barrier.monitor_times is None:
            return "barrier"
        raise NoClosedForm("instrument.monitoring", "no closed form for this barrier (GBM with continuous monitoring only)")
    if all(p.linear for p in plan.periods):
        return "linear"
    if all(_single_print(p) for p in plan.periods):
        return "european"
    if plan.geometric and gbm and len(plan.periods) == 1:
        return "geometric"
    raise NoClosedForm("instrument.kind", "no closed form for averages of several prints under this model; use mc.method = \"mc\"")


def european_strip(model, market, plan) -> float:
    """Single-print periods (Europeans, caplets, floorlets): a sum of `european`."""
    return sum(european(model, market, p.pay_time, p.strike, p.omega) for p in plan.periods)


def closed_form_moves(model, markets: list, plan, factors: np.ndarray) -> np.ndarray:
    """closed_form(model, markets[k], per_unit_factor(plan, factors[k])) for every move k at
    once, per unit notional, where the factor moves only strikes and known prints (no print
    today): strips of single-print periods (Europeans, caplets, floorlets) and linear strips
    (futures, forwards, swaps); NoClosedForm for the others (priced move by move)."""
    form = None if isinstance(plan, (FutureOptionPlan, ResidualPutPlan)) else _formula(model, plan)
    if form not in ("european", "linear"):
        raise NoClosedForm("instrument.kind", "priced move by move")
    if form == "linear":
        return _linear_moves(model, markets, plan, factors)
    total = np.zeros(factors.size)
    for p in plan.periods:
        total += european_moves(model, p.pay_time, p.strike, p.omega, factors, _discounts(markets, p.pay_time))
    return total


def _discounts(markets: list, t: float) -> np.ndarray:
    """The discount factor to t (years) of each market."""
    return np.array([market.discount(t)[0] for market in markets])


def _linear_moves(model, markets: list, plan, factors: np.ndarray) -> np.ndarray:
    """linear_strip under each move (closed_form_moves): E[S_t] once on a two-factor model,
    once per curve on GBM and Merton (their drift is the curve's)."""
    curves = markets if isinstance(model, Lognormal) else markets[:1]
    means = np.array([model.mean(_print_times(plan), market) for market in curves])  # [curve, print]
    total = np.zeros(factors.size)
    for p, mean in zip(plan.periods, _by_period(plan, means.T)):
        dfs = _discounts(markets, p.pay_time) if plan.discounted else 1.0
        expected = p.known_sum / factors + mean.sum(axis=0)
        total += dfs * p.omega * (expected / p.total_prints - p.strike / factors)
    return total


def european_strip_greeks(model, market, plan) -> tuple[float, float]:
    """(delta, vega) of european_strip."""
    greeks = [european_greeks(model, market, p.pay_time, p.strike, p.omega) for p in plan.periods]
    return sum(g[0] for g in greeks), sum(g[1] for g in greeks)


def _geometric_law(model: Lognormal, market, p) -> tuple[float, float, float, float]:
    """Mean and variance of ln G for the geometric average G of period p (GBM), and their
    derivatives with respect to sigma: ln G is Gaussian with Cov(ln S_t, ln S_u) =
    sigma^2 min(t, u)."""
    t = np.asarray(p.print_times, dtype=float)
    df_t = market.discount(t)
    log_means = math.log(model.spot) - np.log(df_t) - (model.dividend + 0.5 * model.vol ** 2) * t
    n = t.size
    mean = (p.known_log_sum + float(np.sum(log_means))) / p.total_prints
    min_sum = float(np.sum(t * (2.0 * (n - np.arange(n)) - 1.0)))  # sum_ij min(t_i, t_j), t sorted
    var = model.vol ** 2 * min_sum / p.total_prints ** 2
    d_mean = -model.vol * float(np.sum(t)) / p.total_prints
    d_var = 2.0 * model.vol * min_sum / p.total_prints ** 2
    return mean, var, d_mean, d_var


def _geometric_df(market, plan, p) -> float:
    return float(market.discount(p.pay_time)[0]) if plan.discounted else 1.0


def geometric_strip_mean(model: Lognormal, market, plan) -> float:
    """E[sum_p DF_p max(omega (G_p - K), 0)] with G_p the geometric average (GBM)."""
    total = 0.0
    for p in plan.periods:
        mean, var, _, _ = _geometric_law(model, market, p)
        total += black(p.omega, p.strike, math.exp(mean + 0.5 * var), math.sqrt(var),
                       _geometric_df(market, plan, p))
    return total


def geometric_greeks(model: Lognormal, market, plan) -> tuple[float, float]:
    """(delta, vega) of geometric_strip_mean: ln G moves with ln spot by the share of its
    prints that are not past fixings."""
    delta = vega = 0.0
    for p in plan.periods:
        mean, var, d_mean_vol, d_var_vol = _geometric_law(model, market, p)
        d_mean, d_var = black_sensitivities(p.omega, p.strike, math.exp(mean + 0.5 * var), var,
                                            _geometric_df(market, plan, p))
        share = (p.today_prints + len(p.print_times)) / p.total_prints
        delta += d_mean * share / model.spot
        vega += d_mean * d_mean_vol + d_var * d_var_vol
    return delta, vega


PRICES = {"barrier": barrier, "linear": linear_strip, "european": european_strip,
          "geometric": geometric_strip_mean}
GREEKS = {"linear": linear_strip_greeks, "european": european_strip_greeks,
          "geometric": geometric_greeks}


def futures_price(model, market, plan: FutureOptionPlan) -> float:
    """F_0: the average of E[S_t] over the future's prints (USD/GPU-hr)."""
    return float(np.mean(model.mean(np.array(plan.print_times), market)))


def future_option(model, market, plan: FutureOptionPlan) -> float:
    """Black-76 on the futures price at the expiry (module docstring), per unit notional."""
    e = plan.expiry
    df = float(market.discount(e)[0])
    forward = futures_price(model, market, plan)
    if isinstance(model, Lognormal):
        scale = forward / float(model.mean(e, market)[0])      # F_e = scale x S_e
        return scale * european(model, market, e, plan.strike / scale, plan.omega)
    if model.has_spikes:
        raise NoClosedForm("model.spike_intensity", "no closed form for options on futures with shortage "
                                                    "spikes; use mc.method = \"mc\"")
    times = np.array(plan.print_times)
    b = np.exp(-model.kappa * (times - e))
    var_x, var_y, cov = _state_covariance(model, e)
    c = np.outer(b, b) * var_x + (b[:, None] + b[None, :]) * cov + var_y
    f = model.mean(times, market)
    log_var = math.log(float(f @ np.exp(c) @ f)) - 2.0 * math.log(float(f.sum()))
    return poisson_black_mixture(plan.omega, plan.strike, *_jump_law(model, e, math.log(forward), log_var), df)


def _state_covariance(model, t: float) -> tuple[float, float, float]:
    """(Var chi_t, Var xi_t, Cov) of the diffusive state from a known start."""
    k = model.kappa
    return (model.sigma_chi ** 2 * -math.expm1(-2.0 * k * t) / (2.0 * k), model.sigma_xi ** 2 * t,
            model.rho * model.sigma_chi * model.sigma_xi * -math.expm1(-k * t) / k)


def _jump_law(model, t: float, log_mean: float, var: float) -> tuple:
    """(base_mean, base_var, jump_mean, jump_var, lam_t) of ln Z for Z = G e^{J - ln E e^J}, ln G
    normal with variance `var` and ln E[G] = log_mean, J the launch jumps (Poisson and
    scheduled) of a TwoFactor by t: E[Z] = e^{log_mean}."""
    jump_mean, jump_var = model.launch_mean, model.launch_vol ** 2
    scheduled = float(model.launches_by(np.array([t]))[0])
    lam_t = model.launch_intensity * t
    log_mgf = lam_t * math.expm1(jump_mean + 0.5 * jump_var) + scheduled * (jump_mean + 0.5 * jump_var)
    return (log_mean - 0.5 * var - log_mgf + scheduled * jump_mean, var + scheduled * jump_var,
            jump_mean, jump_var, lam_t)


def long_factor_law(model, market, t: float) -> tuple:
    """The long-term factor L_t (xi; ln S for GBM and Merton) as a Poisson mixture of normals:
    (base_mean, base_var, jump_mean, jump_var, lam_t), L_t | N = n ~ N(base_mean + n jump_mean,
    base_var + n jump_var)."""
    if isinstance(model, Lognormal):
        return _log_law(model, t, float(market.discount(t)[0]))
    scheduled = float(model.launches_by(np.array([t]))[0])
    return (math.log(model.spot) - model.chi0 + model.mu_xi * t + scheduled * model.launch_mean,
            model.sigma_xi ** 2 * t + scheduled * model.launch_vol ** 2, model.launch_mean,
            model.launch_vol ** 2, model.launch_intensity * t)


def long_factor_log_mgf(law: tuple, power: float) -> float:
    """ln E[e^{power L}] for L of the law of long_factor_law."""
    base_mean, base_var, jump_mean, jump_var, lam_t = law
    return (power * base_mean + 0.5 * power ** 2 * base_var
            + lam_t * math.expm1(power * jump_mean + 0.5 * power ** 2 * jump_var))


def residual_put(model, market, plan: ResidualPutPlan) -> float:
    """E[DF max(omega (P_T - K), 0)] per GPU, P_T = R e^{a L_T} / E[e^{a L_T}] (module docstring)."""
    a, t = plan.elasticity, plan.maturity
    base_mean, base_var, jump_mean, jump_var, lam_t = law = long_factor_law(model, market, t)
    shift = math.log(plan.residual_value) - long_factor_log_mgf(law, a)
    return poisson_black_mixture(plan.omega, plan.strike, shift + a * base_mean, a * a * base_var,
                                 a * jump_mean, a * a * jump_var, lam_t, float(market.discount(t)[0]))
