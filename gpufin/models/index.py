"""Index models: closed-form moments and the per-step arrays their path kernels read.

Two families cover every `model.kind`:
- `Lognormal` (gbm, jump-diffusion): d ln S = (r(t) - q - sigma^2/2 - lambda*kbar) dt
  + sigma dW + dJ, Merton log jumps N(jump_mean, jump_vol^2) at intensity lambda, with
  kbar = E[e^J] - 1, so that E[S_t] = spot * e^{-q t} / DF(t).
- `TwoFactor` (schwartz, schwartz-smith): ln S_t = g(t) + chi_t + xi_t (Schwartz-Smith
  2000), d chi = -kappa chi dt + sigma_chi dW1 + spikes, d xi = mu_xi dt + sigma_xi dW2
  + launch jumps, corr(dW1, dW2) = rho. Launch jumps (permanent, in xi) arrive at
  Poisson times or on scheduled dates; shortage spikes (in chi) decay at kappa. g(t) is 0
  unless `market.forward_curve` is given, in which case it makes E[S_t] equal the curve.
  Schwartz (1997) one-factor is sigma_xi = mu_xi = 0 with xi_0 = ln(long_run_level).
  Each index of a multi-index model is a TwoFactor on its own (`marginal_two_factor`; the
  joint law: gpufin.models.multi_index).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from gpufin.errors import SpecError
from gpufin.spec.times import Timeline
from pricing_kernels.records import (LognormalArgs, LognormalVega, TwoFactorArgs,
                                     TwoFactorVega, make)

# Poisson counts are drawn by inverse transform from a 32-bit uniform in
# [2**-33, 1 - 2**-33]: once P(N > k) < 2**-33 no draw can exceed k.
POISSON_TAIL = 2.0 ** -33
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)


def poisson_cdf_table(rates_dt: np.ndarray) -> np.ndarray:
    """P(N <= k) per step for k < kmax, N ~ Poisson(rates_dt[i]); shape (steps, kmax)."""
    rates_dt = np.asarray(rates_dt, dtype=float)
    if rates_dt.size == 0 or rates_dt.max() <= 0.0:
        return np.zeros((rates_dt.size, 0))
    kmax = 0
    lam = rates_dt.max()
    if lam > 500.0:
        raise SpecError("model", f"a jump intensity of {lam:g} per step; expected far fewer jumps per step")
    term = cdf = math.exp(-lam)
    while 1.0 - cdf > POISSON_TAIL:
        kmax += 1
        term *= lam / kmax
        cdf += term
    table = np.empty((rates_dt.size, kmax))
    for i, lam_i in enumerate(rates_dt):
        term = cdf = math.exp(-lam_i)
        for k in range(kmax):
            table[i, k] = cdf
            term *= lam_i / (k + 1)
            cdf += term
    return table


def innovations(decay, var_chi, var_xi, cov, d_var_chi=None, d_cov=None):
    """Gains and innovation standard deviations of X = chi + xi observed every step without
    noise: the Kalman filter of the state (chi, xi) from a known start, whose covariance P
    follows a deterministic recursion. Step i: P- = A P A' + Q, F = h P- h', h = (1, 1);
    innovation_sd = sqrt(F), gain = (P- h)_chi / sqrt(F); P = P- - P- h h' P- / F.
    Returns gain, innovation_sd and their derivatives with respect to a parameter whose
    derivatives of var_chi and cov are d_var_chi and d_cov (forward mode through the same
    recursion; zeros when these are not given)."""
    n = decay.size
    d_var_chi = np.zeros(n) if d_var_chi is None else d_var_chi
    d_cov = np.zeros(n) if d_cov is None else d_cov
    gain, innovation_sd, d_gain, d_sd = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    p11 = p12 = p22 = 0.0                    # P, the state covariance given X so far
    t11 = t12 = t22 = 0.0                    # its derivative
    steps = zip(decay.tolist(), var_chi.tolist(), var_xi.tolist(), cov.tolist(), d_var_chi.tolist(),
                d_cov.tolist())
    for i, (d, v_chi, v_xi, c, dv_chi, dc) in enumerate(steps):
        p11, p12, p22 = d * d * p11 + v_chi, d * p12 + c, p22 + v_xi
        t11, t12 = d * d * t11 + dv_chi, d * t12 + dc
        h1, h2 = p11 + p12, p12 + p22        # P- h
        e1, e2 = t11 + t12, t12 + t22
        f = h1 + h2
        if f > 0.0:
            innovation_sd[i] = math.sqrt(f)
            gain[i] = h1 / innovation_sd[i]
            d_sd[i] = 0.5 * (e1 + e2) / innovation_sd[i]
            d_gain[i] = (e1 - gain[i] * d_sd[i]) / innovation_sd[i]
            t11, t12, t22 = (t11 - (2.0 * h1 * e1 - h1 * h1 * (e1 + e2) / f) / f,
                             t12 - (e1 * h2 + h1 * e2 - h1 * h2 * (e1 + e2) / f) / f,
                             t22 - (2.0 * h2 * e2 - h2 * h2 * (e1 + e2) / f) / f)
            p11, p12, p22 = p11 - h1 * h1 / f, p12 - h1 * h2 / f, p22 - h2 * h2 / f
    return gain, innovation_sd, d_gain, d_sd


@dataclass(frozen=True)
class Lognormal:
    """GBM (no jumps) or Merton jump-diffusion; rates from the market curve."""
    spot: float
    vol: float
    dividend: float = 0.0
    jump_intensity: float = 0.0
    jump_mean: float = 0.0
    jump_vol: float = 0.0

    @property
    def has_jumps(self) -> bool:
        return self.jump_intensity > 0.0

    @property
    def jump_compensator(self) -> float:
        """kbar = E[e^J] - 1."""
        return math.exp(self.jump_mean + 0.5 * self.jump_vol ** 2) - 1.0

    def mean(self, t, market) -> np.ndarray:
        """E[S_t] = spot e^{-q t} / DF(t)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return self.spot * np.exp(-self.dividend * t) / market.discount(t)

    def log_variance(self, t) -> np.ndarray:
        """Var[ln S_t] = sigma^2 t + lambda t (m^2 + s^2)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return (self.vol ** 2 + self.jump_intensity * (self.jump_mean ** 2 + self.jump_vol ** 2)) * t

    def vol_sensitivities(self, t) -> tuple[np.ndarray, np.ndarray]:
        """(d ln E[S_t], d Var[ln S_t]) / d sigma = (0, 2 sigma t)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return np.zeros_like(t), 2.0 * self.vol * t

    def vega_args(self, times: np.ndarray) -> LognormalVega:
        """Derivatives with respect to sigma of kernel_args' drift and vol on the grid `times`."""
        dt = np.diff(times)
        return make(LognormalVega, drift=-self.vol * dt, vol=np.sqrt(dt))

    def kernel_args(self, times: np.ndarray, market) -> LognormalArgs:
        """Per-step drift, vol, Poisson table and bridge variance on the grid `times` (0 first)."""
        dt = np.diff(times)
        df = market.discount(times)
        drift = (np.log(df[:-1] / df[1:]) - (self.dividend + 0.5 * self.vol ** 2
                                              + self.jump_intensity * self.jump_compensator) * dt)
        return make(LognormalArgs, log_spot=math.log(self.spot), drift=drift,
                    vol=self.vol * np.sqrt(dt), pois_cdf=poisson_cdf_table(self.jump_intensity * dt),
                    jump_mean=self.jump_mean, jump_vol=self.jump_vol, bridge_var=self.vol ** 2 * dt)


@dataclass(frozen=True)
class TwoFactor:
    """Schwartz-Smith with launch jumps and shortage spikes (Schwartz 1F as a special case)."""
    spot: float
    kappa: float
    sigma_chi: float
    sigma_xi: float = 0.0
    rho: float = 0.0
    mu_xi: float = 0.0
    chi0: float = 0.0
    launch_intensity: float = 0.0
    launch_mean: float = 0.0
    launch_vol: float = 0.0
    launch_times: tuple = ()
    spike_intensity: float = 0.0
    spike_mean: float = 0.0
    spike_vol: float = 0.0
    forward_times: tuple = ()
    forward_prices: tuple = ()

    @property
    def has_spikes(self) -> bool:
        return self.spike_intensity > 0.0

    def launches_by(self, t) -> np.ndarray:
        """Scheduled launches at or before each time in t."""
        return np.searchsorted(np.sort(self.launch_times), np.asarray(t, float) + 1e-12,
                               side="right").astype(float)

    def _diffusive(self, t: np.ndarray):
        """Mean and variance of chi_t + xi_t without jumps."""
        k = self.kappa
        e1, e2 = np.exp(-k * t), np.exp(-2.0 * k * t)
        mean = self.chi0 * e1 + (math.log(self.spot) - self.chi0) + self.mu_xi * t
        var = (self.sigma_chi ** 2 * (1.0 - e2) / (2.0 * k) + self.sigma_xi ** 2 * t
               + 2.0 * self.rho * self.sigma_chi * self.sigma_xi * (1.0 - e1) / k)
        return mean, var

    def _spike_log_mgf(self, t) -> np.ndarray:
        """log E[exp(sum of decayed spikes at t)] = lambda * int_0^t (M(e^{-kappa v}) - 1) dv,
        per time in t (0 for t <= 0)."""
        t = np.asarray(t, dtype=float)
        if not self.has_spikes:
            return np.zeros_like(t)
        times, where = np.unique(np.maximum(t, 0.0), return_inverse=True)   # each time once
        half = 0.5 * times[:, None]
        a = np.exp(-self.kappa * half * (_GL_NODES + 1.0))
        m = np.exp(a * self.spike_mean + 0.5 * a * a * self.spike_vol ** 2) - 1.0
        return (self.spike_intensity * half[:, 0] * (m @ _GL_WEIGHTS))[where].reshape(t.shape)

    def _unshifted_log_mean(self, t: np.ndarray) -> np.ndarray:
        """ln E[exp(chi_t + xi_t)] including all jumps."""
        mean, var = self._diffusive(t)
        launch_mgf = math.exp(self.launch_mean + 0.5 * self.launch_vol ** 2) - 1.0
        n_sched = self.launches_by(t)
        spikes = self._spike_log_mgf(t)
        return (mean + 0.5 * var + self.launch_intensity * t * launch_mgf
                + n_sched * (self.launch_mean + 0.5 * self.launch_vol ** 2) + spikes)

    def shift(self, t) -> np.ndarray:
        """g(t): 0 without a forward curve, else ln F(t) - ln E[exp(chi_t + xi_t)] (g(0) = 0)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if not self.forward_times:
            return np.zeros_like(t)
        log_f = np.interp(t, (0.0,) + self.forward_times,
                          np.log((self.spot,) + self.forward_prices))
        return np.where(t > 0.0, log_f - self._unshifted_log_mean(t), 0.0)

    def conditional_log_level(self, t, s: np.ndarray) -> np.ndarray:
        """ln E_t[S_s] - (e^{-kappa (s-t)} chi_t + xi_t) for s > t: shift, drift, half the
        variance and the jump cumulants over (t, s]; t a time, or a column of times [t, 1] for
        a row per time."""
        s = np.asarray(s, dtype=float)
        tau = np.maximum(s - t, 0.0)
        k = self.kappa
        var = (self.sigma_chi ** 2 * (1.0 - np.exp(-2.0 * k * tau)) / (2.0 * k) + self.sigma_xi ** 2 * tau
               + 2.0 * self.rho * self.sigma_chi * self.sigma_xi * (1.0 - np.exp(-k * tau)) / k)
        launch_mgf = math.exp(self.launch_mean + 0.5 * self.launch_vol ** 2) - 1.0
        scheduled = self.launches_by(s) - self.launches_by(t)
        spikes = self._spike_log_mgf(tau)
        return (self.shift(s) + self.mu_xi * tau + 0.5 * var + self.launch_intensity * tau * launch_mgf
                + scheduled * (self.launch_mean + 0.5 * self.launch_vol ** 2) + spikes)

    def long_factor_log_mgf(self, t, power: float) -> np.ndarray:
        """ln E[exp(power * xi_t)]: drift, diffusion and launch jumps (Poisson and scheduled)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        jump = power * self.launch_mean + 0.5 * power ** 2 * self.launch_vol ** 2
        return (power * (math.log(self.spot) - self.chi0 + self.mu_xi * t)
                + 0.5 * power ** 2 * self.sigma_xi ** 2 * t
                + self.launch_intensity * t * (math.exp(jump) - 1.0) + self.launches_by(t) * jump)

    def mean(self, t, market=None) -> np.ndarray:
        """E[S_t] in closed form (the jump parts by their moment generating functions)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return np.exp(self.shift(t) + self._unshifted_log_mean(t))

    def log_mean(self, t) -> np.ndarray:
        """E[ln S_t]: g(t), the diffusive mean and the mean launch and decayed spike sizes."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        mean, _ = self._diffusive(t)
        launches = (self.launch_intensity * t + self.launches_by(t)) * self.launch_mean
        spikes = self.spike_intensity * self.spike_mean * (1.0 - np.exp(-self.kappa * t)) / self.kappa
        return self.shift(t) + mean + launches + spikes

    def log_variance(self, t) -> np.ndarray:
        """Var[ln S_t]: diffusion, launch jumps (Poisson and scheduled) and decayed spikes."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        _, var = self._diffusive(t)
        var = var + self.launch_intensity * t * (self.launch_mean ** 2 + self.launch_vol ** 2)
        var = var + self.launches_by(t) * self.launch_vol ** 2
        var = var + (self.spike_intensity * (self.spike_mean ** 2 + self.spike_vol ** 2)
                     * (1.0 - np.exp(-2.0 * self.kappa * t)) / (2.0 * self.kappa))
        return var

    def _step_covariance(self, dt: np.ndarray):
        """Per step of dt years: e^{-kappa dt} and the covariance (var chi, var xi, cov) of the
        diffusive increments."""
        k = self.kappa
        decay = np.exp(-k * dt)
        var_chi = self.sigma_chi ** 2 * (1.0 - decay ** 2) / (2.0 * k)
        var_xi = self.sigma_xi ** 2 * dt
        cov = self.rho * self.sigma_chi * self.sigma_xi * (1.0 - decay) / k
        return decay, var_chi, var_xi, cov

    def _d_diffusive_var(self, t: np.ndarray) -> np.ndarray:
        """d Var[chi_t + xi_t] / d sigma_chi."""
        k = self.kappa
        return (self.sigma_chi * (1.0 - np.exp(-2.0 * k * t)) / k
                + 2.0 * self.rho * self.sigma_xi * (1.0 - np.exp(-k * t)) / k)

    def vol_sensitivities(self, t) -> tuple[np.ndarray, np.ndarray]:
        """(d ln E[S_t], d Var[ln S_t]) / d sigma_chi. With a forward curve g(t) holds E[S_t]
        on the curve; without one E[S_t] carries half the variance."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        d_var = self._d_diffusive_var(t)
        return (np.zeros_like(t) if self.forward_times else 0.5 * d_var), d_var

    def vega_args(self, times: np.ndarray) -> TwoFactorVega:
        """Derivatives with respect to sigma_chi of kernel_args' shift, gain and innovation_sd
        on the grid `times` (0 first)."""
        dt = np.diff(times)
        k = self.kappa
        decay, var_chi, var_xi, cov = self._step_covariance(dt)
        d_var_chi = self.sigma_chi * (1.0 - decay ** 2) / k
        d_cov = self.rho * self.sigma_xi * (1.0 - decay) / k
        _, _, d_gain, d_sd = innovations(decay, var_chi, var_xi, cov, d_var_chi, d_cov)
        d_log_mean, d_var = self.vol_sensitivities(times[1:])
        return make(TwoFactorVega, shift=d_log_mean - 0.5 * d_var, gain=d_gain, innovation_sd=d_sd)

    def kernel_args(self, times: np.ndarray, market=None) -> TwoFactorArgs:
        """Exact per-step OU decay; the step covariance as a Cholesky factor (state form) and
        as innovation gains (pricing_kernels.index_step); the jump event tables."""
        dt = np.diff(times)
        k = self.kappa
        decay, var_chi, var_xi, cov = self._step_covariance(dt)
        a11 = np.sqrt(var_chi)
        a21 = np.divide(cov, a11, out=np.zeros_like(cov), where=a11 > 0.0)
        a22 = np.sqrt(np.maximum(var_xi - a21 ** 2, 0.0))
        gain, innovation_sd, _, _ = innovations(decay, var_chi, var_xi, cov)
        sched = np.diff(self.launches_by(times))          # scheduled launches per step
        rate = self.launch_intensity + self.spike_intensity
        return make(TwoFactorArgs, chi0=self.chi0, xi0=math.log(self.spot) - self.chi0,
                    shift=self.shift(times[1:]), decay=decay, mu_dt=self.mu_xi * dt, a11=a11,
                    a21=a21, a22=a22, gain=gain, innovation_sd=innovation_sd,
                    event_clock=rate * times[1:], event_rate=rate,
                    launch_share=self.launch_intensity / rate if rate > 0.0 else 0.0,
                    launch_sched=sched, launch_mean=self.launch_mean, launch_vol=self.launch_vol,
                    spike_mean=self.spike_mean, spike_vol=self.spike_vol, kappa=k,
                    bridge_var=var_chi + var_xi + 2.0 * cov)


def build_model(spec, timeline: Timeline):
    """The model object of a validated `model` table (its launch dates from the timeline)."""
    kind = spec.kind
    if kind in ("gbm", "jump-diffusion"):
        jumps = {}
        if kind == "jump-diffusion":
            jumps = dict(jump_intensity=spec.jump_intensity, jump_mean=spec.jump_mean,
                         jump_vol=spec.jump_vol)
        return Lognormal(spot=spec.spot, vol=spec.vol, dividend=spec.dividend, **jumps)
    if kind == "schwartz":
        return TwoFactor(spot=spec.spot, kappa=spec.mean_reversion, sigma_chi=spec.vol,
                         chi0=math.log(spec.spot / spec.long_run_level))
    if kind == "multi-index":
        return marginal_two_factor(spec, spec.priced, timeline)
    launches = launch_times(timeline, "model.launch_dates", spec.launch_dates)
    return _two_factor(spec, spec, spec.correlation, spec.short_factor, launches)


def _two_factor(short, long, rho: float, chi0: float, launches: tuple) -> TwoFactor:
    """A TwoFactor whose short factor and spikes are those of table `short` and whose long
    factor and launches are those of table `long` (the same table for one index)."""
    return TwoFactor(spot=short.spot, kappa=short.mean_reversion, sigma_chi=short.short_vol,
                     sigma_xi=long.long_vol, rho=rho, mu_xi=long.long_drift, chi0=chi0,
                     launch_intensity=long.launch_intensity, launch_mean=long.launch_jump_mean,
                     launch_vol=long.launch_jump_vol, launch_times=launches,
                     spike_intensity=short.spike_intensity, spike_mean=short.spike_jump_mean,
                     spike_vol=short.spike_jump_vol)


def marginal_two_factor(spec, position: int, timeline: Timeline) -> TwoFactor:
    """The law of index number `position` of a `multi-index` model table on its own (exact:
    each index is two-factor). A basis index B of A has ln S_B = g_B + c_B + xi_A + ell:
    its own short factor c_B (its mean_reversion, short_vol, spikes), A's long factor and
    launches, so xi_0 = xi_0(A) + basis_level and chi_0 = ln(S_B / S_A) + chi_0(A) - basis_level.
    rho is the `model.correlation` entry of its short and long factors."""
    index = spec.indices[position]
    at = spec.names.index(index.basis_of) if index.basis_of else position
    base = spec.indices[at]
    short, long = spec.slots()[position]
    rho = spec.correlation[short][long] if spec.correlation else 0.0
    chi0 = base.short_factor
    if index.basis_of:
        chi0 += math.log(index.spot / base.spot) - index.basis_level
    launches = launch_times(timeline, f"model.indices[{at}].launch_dates", base.launch_dates)
    model = _two_factor(index, base, rho, chi0, launches)
    return with_forward_curve(model, index.forward_curve, timeline,
                              f"model.indices[{position}].forward_curve")


def launch_times(timeline: Timeline, key: str, given) -> tuple:
    """Scheduled launch times (years, sorted) of `key`, all after the valuation date."""
    times = timeline.years_list(key)
    if any(t <= 0.0 for t in times):
        raise SpecError(key, f"got {given!r}; expected future times")
    return tuple(sorted(times))


def with_forward_curve(model, points, timeline: Timeline, key: str = "market.forward_curve"):
    """A TwoFactor model whose g(t) reproduces the forward curve `points` (spec key `key`)
    exactly."""
    if not points:
        return model
    if not isinstance(model, TwoFactor):
        raise SpecError(key, "only schwartz and schwartz-smith models take a forward curve")
    times = [timeline.years(f"{key}[{i}].time") for i in range(len(points))]
    if times[0] <= 0 or any(b <= a for a, b in zip(times, times[1:])):
        raise SpecError(key, "expected points at increasing times > 0")
    return replace(model, forward_times=tuple(times), forward_prices=tuple(p.price for p in points))
