"""Maximum-likelihood calibration of the Schwartz-Smith (2000) model to a rental-price history
(`gpufin calibrate --method mle`; sparse quotes on several price bases are fitted under priors
by gpufin.models.calibration_bases; both share gpufin.models.calibration's parameters, optimizer
and Hessian).

Model, under the real-world measure, for the log index price y_t = ln S_t (S in USD per
GPU-hour) observed on dates t_0 < t_1 < ... < t_{n-1}, any spacing:

    y_t = chi_t + xi_t + eps_t,                  eps_t ~ N(0, sigma_eps^2) independent
    d chi = -kappa chi dt + sigma_chi dW1,       d xi = mu_xi dt + sigma_xi dW2,
    corr(dW1, dW2) = rho.

eps is measurement noise: the index's own noise and its basis to the true rental price.
Between two dates dt apart (years, ACT/365F) the state moves by the exact transition

    chi' = e^{-kappa dt} chi + w1,   xi' = xi + mu_xi dt + w2,
    Var w1 = sigma_chi^2 (1 - e^{-2 kappa dt}) / (2 kappa),   Var w2 = sigma_xi^2 dt,
    Cov(w1, w2) = rho sigma_chi sigma_xi (1 - e^{-kappa dt}) / kappa,

so a Kalman filter gives the exact Gaussian likelihood on irregular dates (weekends,
holidays and gaps in the data need no special care).

Initial state: chi_0 ~ N(0, sigma_chi^2 / (2 kappa)) (stationary) and xi_0 diffuse. The
filter starts from the exact limit of a diffuse xi_0 after the first observation:
E[chi_0] = 0, E[xi_0] = y_0, Var chi_0 = v, Var xi_0 = v + sigma_eps^2, Cov = -v with
v = sigma_chi^2 / (2 kappa); the first observation carries no information on the
parameters, and the log-likelihood is that of y_1..y_{n-1} given y_0, which is the
density of the changes y_i - y_0 (the diffuse likelihood of Durbin and Koopman, Time
Series Analysis by State Space Methods; tests check it against that dense density).

Estimation: scipy.optimize.minimize (BFGS) of the negative log-likelihood over the free
parameters mapped to unconstrained values (log for kappa and the volatilities, atanh for
rho, mu_xi as is), from several starting points; standard errors from the inverse of a
central-difference Hessian in those coordinates, mapped to the natural parameters by the
delta method. Any parameter can be fixed (`fixed={"kappa": 2.0}`); a fixed parameter
has no standard error. The fit is refused with a SpecError naming `history` when the
history is too short (fewer than `OBS_PER_PARAMETER` observations per free parameter)
or when the likelihood does not identify a parameter: the Hessian is singular or not
positive definite, or a parameter's standard error in the unconstrained coordinates
exceeds `MAX_UNCONSTRAINED_SE` (a 95% interval wider than a factor e^12 for kappa or a
volatility, or than the whole of (-1, 1) for rho).

What one price series identifies: every covariance of log-price changes depends on
sigma_chi and rho only through sigma_chi^2 + 2 rho sigma_chi sigma_xi (see
`_check_structure`), so rho and sigma_chi cannot both be free: unless one of them is given with `--fix`, rho is
fixed at 0 and reported as fixed (Schwartz and Smith separate them with futures prices). sigma_xi is
told apart from a slow kappa only by the lowest frequencies of the history, so with a few
years of data, or kappa of a few per year, its likelihood is flat and often highest at
sigma_xi = 0 (the pile-up of Shephard and Harvey, J. Time Series Analysis 1990); the fit
then asks for `--fix sigma_xi=0` (Schwartz's one-factor model) or a fixed kappa.

Pricing: a forward curve fixes the pricing-measure trend exactly (`market.forward_curve`,
through `TwoFactor.shift`), so what calibration to history supplies for pricing is the
volatilities, the correlation and the mean reversion; mu_xi is the real-world trend,
used as `long_drift` when no forward curve is given. `Calibration.model_table()` is a
spec `model` table for `kind = "schwartz-smith"`; sigma_eps has no spec key (pricing
models the index itself, not the noise in observing it).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from gpufin.errors import SpecError
from gpufin.models.calibration import (
    DATE_COLUMN,
    LEVEL_COLUMN,
    PARAMETERS,
    central_hessian,
    check_levels,
    check_values,
    minimize_best,
    schwartz_smith_table,
)
from gpufin.models.calibration_priors import derivative, to_natural, to_unconstrained
from gpufin.spec.times import DAYS_PER_YEAR
from pricing_kernels.kalman import kalman_filter

# What to suggest for `--fix NAME=VALUE` when a parameter is not identified: the defaults
# (data/SOURCES.md section 3) for kappa, sigma_chi and mu_xi; the nested models for the others
# (no noise, no correlation, a one-factor Schwartz model).
SUGGESTED_FIX = {"kappa": 2.0, "sigma_chi": 0.5, "sigma_xi": 0.0, "rho": 0.0, "mu_xi": -0.29,
                 "sigma_eps": 0.0}
OBS_PER_PARAMETER = 5
MAX_UNCONSTRAINED_SE = 3.0
DEFAULT_RHO = 0.0


def _times(dates: np.ndarray) -> np.ndarray:
    """Gaps between consecutive dates in years ACT/365F."""
    days = np.diff(dates.astype("datetime64[D]").astype(np.int64)).astype(float)
    return days / DAYS_PER_YEAR


def log_likelihood(dates, levels_usd_per_gpu_hour, params: dict) -> float:
    """The diffuse log-likelihood of a history (see the module docstring) at `params`."""
    d, y = _prepare(dates, levels_usd_per_gpu_hour)
    p = check_values(params, "params", require_all=True)
    out = np.empty_like(y)
    return float(kalman_filter(y, _times(d), *(p[k] for k in PARAMETERS), out, out.copy()))


TRANSFORMS = {"kappa": "log", "sigma_chi": "log", "sigma_xi": "log", "rho": "atanh",
              "mu_xi": "identity", "sigma_eps": "log"}


def _to_natural(name: str, u: float) -> float:
    return to_natural(TRANSFORMS[name], u)


def _to_unconstrained(name: str, value: float) -> float:
    return to_unconstrained(TRANSFORMS[name], value)


def _derivative(name: str, value: float) -> float:
    """d natural / d unconstrained at the natural value (delta method)."""
    return derivative(TRANSFORMS[name], value)


def _prepare(dates, levels) -> tuple[np.ndarray, np.ndarray]:
    """Dates as datetime64[D] and log levels; repeated dates and bad levels are SpecErrors."""
    d = np.asarray(dates).astype("datetime64[D]")
    lv = np.asarray(levels, dtype=float)
    if d.shape != lv.shape or d.ndim != 1:
        raise SpecError("history", "expected one level per date")
    order = np.argsort(d, kind="stable")
    d, lv = d[order], lv[order]
    check_levels(d, lv)
    same = np.flatnonzero(d[1:] == d[:-1])
    if same.size:
        day = d[same[0]]
        raise SpecError("history", f"date {day} appears {int((d == day).sum())} times; expected "
                                   "one level per date (filter by sku or basis)")
    return d, np.log(lv)


@dataclass(frozen=True)
class Calibration:
    """A fitted Schwartz-Smith model: estimates, standard errors and filtered states.

    `estimates` and `stderr` are keyed by PARAMETERS (stderr None for a fixed parameter);
    `loglik` is the diffuse log-likelihood; `dates`, `log_levels`, `chi` and `xi` give per
    observation date the observed ln S and the filtered factor means.
    """
    estimates: dict
    stderr: dict
    fixed: tuple
    loglik: float
    n_obs: int
    start_date: dt.date
    end_date: dt.date
    last_level_usd_per_gpu_hour: float
    dates: np.ndarray = field(repr=False)
    log_levels: np.ndarray = field(repr=False)
    chi: np.ndarray = field(repr=False)
    xi: np.ndarray = field(repr=False)
    LEVELS = "observed ln S (index print)"      # what log_levels hold (plots)

    def model_table(self, spot: float | None = None) -> dict:
        """A spec `model` table (kind schwartz-smith): spot is the last level unless given,
        short_factor the filtered chi on the last date. Without `kind` it is also a
        gpu-fleet `model.index` table."""
        return schwartz_smith_table(self.estimates,
                                    self.last_level_usd_per_gpu_hour if spot is None else spot,
                                    float(self.chi[-1]))

    def header_lines(self, source: str | None) -> list:
        """Comment lines for a written model file: the fit behind the numbers."""
        se = ", ".join(f"{k} {'fixed' if v is None else format(v, '.3g')}"
                       for k, v in self.stderr.items())
        return [(f"# Schwartz-Smith model fitted by maximum likelihood (Kalman filter) to "
                 f"{source or 'a price history'}"),
                (f"# {self.start_date} to {self.end_date}, {self.n_obs} observations, "
                 f"log-likelihood {self.loglik:.6g}"),
                f"# standard errors: {se}",
                f"# measurement noise sigma_eps {self.estimates['sigma_eps']:.6g} (not a model key)",
                "# long_drift is the real-world trend; a market.forward_curve replaces it for pricing"]

    def report(self) -> dict:
        """Estimates, standard errors and fit statistics as plain values (for JSON)."""
        return {"estimates": dict(self.estimates), "stderr": dict(self.stderr),
                "fixed": list(self.fixed), "loglik": self.loglik, "n_obs": self.n_obs,
                "start_date": self.start_date.isoformat(), "end_date": self.end_date.isoformat(),
                "model": self.model_table()}


def calibrate(history, fixed: dict | None = None) -> Calibration:
    """Fit the model to `history`: a DataFrame with `date` and `level_usd_per_gpu_hour`
    (as gpufin.market.data.load_history returns), or a pair (dates, levels in USD per GPU-hour)."""
    if isinstance(history, tuple):
        dates, levels = history
    else:
        if DATE_COLUMN not in history or LEVEL_COLUMN not in history:
            raise SpecError("history", f"expected columns {DATE_COLUMN} and {LEVEL_COLUMN}")
        dates, levels = history[DATE_COLUMN].to_numpy(), history[LEVEL_COLUMN].to_numpy()
    d, y = _prepare(dates, levels)
    fixed = check_values(fixed, "fixed")
    if "rho" not in fixed and "sigma_chi" not in fixed:
        fixed["rho"] = DEFAULT_RHO     # not identified by one price series (_check_structure)
    free = [k for k in PARAMETERS if k not in fixed]
    n = y.size
    if n < 2:
        raise SpecError("history", f"{n} observation{'s' * (n != 1)}; expected at least 2 dates")
    if n < OBS_PER_PARAMETER * len(free):
        raise SpecError("history", f"{n} observations for {len(free)} free parameter{'s' * (len(free) != 1)}; expected "
                                   f"at least {OBS_PER_PARAMETER} per free parameter "
                                   f"({OBS_PER_PARAMETER * len(free)}): give a longer history "
                                   "or fix parameters with --fix NAME=VALUE")
    gaps = _times(d)
    if fixed.get("sigma_chi", 1.0) == 0.0 and fixed.get("sigma_xi", 1.0) == 0.0 \
            and fixed.get("sigma_eps", 1.0) == 0.0:
        raise SpecError("fixed", "sigma_chi, sigma_xi and sigma_eps all fixed at 0: the "
                                 "history has no variance to explain")
    _check_structure(fixed, free)
    chi, xi = np.empty(n), np.empty(n)

    def natural(u) -> dict:
        p = dict(fixed)
        p.update({k: _to_natural(k, float(v)) for k, v in zip(free, u)})
        return p

    def nll(u) -> float:
        p = natural(u)
        value = -kalman_filter(y, gaps, *(p[k] for k in PARAMETERS), chi, xi)
        return value if math.isfinite(value) else 1e300

    if free:
        u_hat = minimize_best(nll, _start_points(y, gaps, free), n)
        hessian = central_hessian(nll, u_hat)
        best = natural(u_hat)

        def best_at_zero(name: str) -> bool:
            """Within 0.01 of the maximum log-likelihood with `name` set to 0."""
            at_zero = dict(best, **{name: 0.0})
            return -kalman_filter(y, gaps, *(at_zero[k] for k in PARAMETERS), chi, xi) \
                <= nll(u_hat) + 0.01

        cov_u = _inverse_or_explain(hessian, free, best, best_at_zero)
    else:
        u_hat, cov_u = np.empty(0), np.empty((0, 0))
    estimates = natural(u_hat)
    loglik = -nll(u_hat)                  # also leaves the filtered states of the optimum
    stderr = {k: None for k in PARAMETERS}
    for i, k in enumerate(free):
        stderr[k] = abs(_derivative(k, estimates[k])) * math.sqrt(cov_u[i, i])
    return Calibration(estimates={k: estimates[k] for k in PARAMETERS}, stderr=stderr,
                       fixed=tuple(k for k in PARAMETERS if k in fixed), loglik=float(loglik),
                       n_obs=n, start_date=d[0].item(), end_date=d[-1].item(),
                       last_level_usd_per_gpu_hour=float(math.exp(y[-1])), dates=d,
                       log_levels=y, chi=chi.copy(), xi=xi.copy())


def _start_points(y, gaps, free) -> list:
    """Starting values from the moments of the log increments, over a grid of mean reversions
    and of splits of the variance between the two factors."""
    dy = np.diff(y)
    years = float(gaps.sum())
    drift = (y[-1] - y[0]) / years
    var_rate = max(float(np.var(dy - drift * gaps, ddof=1) / gaps.mean()), 1e-6)
    noise = 0.25 * math.sqrt(var_rate * float(np.median(gaps)))
    starts = []
    for kappa in (0.5, 3.0, 15.0):
        for share in (0.8, 0.3):
            p = {"kappa": kappa, "sigma_chi": math.sqrt(share * var_rate),
                 "sigma_xi": math.sqrt((1.0 - share) * var_rate), "rho": 0.0, "mu_xi": drift,
                 "sigma_eps": noise}
            starts.append([_to_unconstrained(k, p[k]) for k in free])
    return starts


def _check_structure(fixed: dict, free: list) -> None:
    """Refuse fits whose likelihood is flat by construction, before optimizing.

    The diffuse likelihood depends on sigma_chi and rho only through
    sigma_chi^2 + 2 rho sigma_chi sigma_xi: every covariance of y_t - y_s is
    (sigma_chi^2 + 2 rho sigma_chi sigma_xi) (1 + e^{-kappa|t-s|} - e^{-kappa t} - e^{-kappa s})
    / (2 kappa) + sigma_xi^2 min(s, t) with times from the first date, so one price series
    cannot separate them (Schwartz and Smith separate them with futures prices).
    """
    if "rho" not in free:
        return
    for zero in ("sigma_chi", "sigma_xi"):
        if fixed.get(zero) == 0.0:
            raise SpecError("history", f"rho is not identified: it has no effect when {zero} "
                                       "is fixed at 0; fix it, e.g. --fix rho=0")
    if "sigma_chi" in free:
        raise SpecError("history", "rho is not identified by one price series, whose likelihood "
                                   "depends on sigma_chi and rho only through sigma_chi^2 + 2 rho "
                                   "sigma_chi sigma_xi; fix one of them, e.g. --fix rho=0")


def _not_identified(name: str, value: float, why: str, best_at_zero) -> SpecError:
    """The error for a parameter the likelihood does not pin down, with a value to fix it at.
    `best_at_zero(name)` says whether that volatility at 0 fits as well as the optimum."""
    suggest = SUGGESTED_FIX[name]
    if name.startswith("sigma") and best_at_zero(name):
        why, suggest = f"the likelihood is highest at or next to {name} = 0", 0.0
    elif name == "kappa" and value < 1e-3:
        why = "the likelihood is highest as kappa goes to 0"
    elif name == "kappa" and value > 1e3:
        why = "the likelihood is highest as kappa grows without bound"
    elif name == "rho" and abs(value) > 0.999:
        why, suggest = f"the likelihood is highest as rho goes to {math.copysign(1.0, value):+g}", 0.0
    return SpecError("history", f"{name} is not identified by this history ({why}); fix it, "
                                f"e.g. --fix {name}={suggest:g}")


def _inverse_or_explain(hessian, free, estimates, best_at_zero) -> np.ndarray:
    """The inverse Hessian, or a SpecError naming the parameter the history cannot identify:
    the largest component of the eigenvector of a non-positive eigenvalue, else the parameter
    with the largest standard error when one exceeds MAX_UNCONSTRAINED_SE."""
    if not np.all(np.isfinite(hessian)):
        raise SpecError("history", "the likelihood is not finite near the optimum; fix "
                                   "parameters with --fix NAME=VALUE")
    eigval, eigvec = np.linalg.eigh(hessian)
    if eigval[0] <= 1e-10 * max(abs(eigval[-1]), 1.0):
        name = free[int(np.argmax(np.abs(eigvec[:, 0])))]
        why = ("the Hessian of the likelihood is singular" if eigval[0] > -1e-10 * abs(eigval[-1])
               else "the Hessian of the likelihood is not positive definite")
        raise _not_identified(name, estimates[name], why, best_at_zero)
    cov = eigvec @ np.diag(1.0 / eigval) @ eigvec.T
    se = np.sqrt(np.diag(cov))
    worst = int(np.argmax(se))
    if se[worst] > MAX_UNCONSTRAINED_SE:
        name = free[worst]
        scale = {"rho": "atanh", "mu_xi": "log/yr"}.get(name, "log")
        raise _not_identified(name, estimates[name], f"standard error {se[worst]:.3g} in {scale} "
                              "scale: the likelihood is nearly flat in it", best_at_zero)
    return cov
