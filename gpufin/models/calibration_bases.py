"""Calibration of the rental index to sparse quotes on several price bases: the exact
state-space likelihood, priors, and the maximum a posteriori (MAP) estimate with posterior
standard errors.

Model, under the real-world measure, for a quote of basis j on date t (years ACT/365F from
the first quote), in ln(USD per GPU-hour):

    y = chi_t + xi_t + b_j(t) + c_j + eps,          eps ~ N(0, sigma_eps^2), independent
    d chi = -kappa chi dt + sigma_chi dW1,  d xi = mu_xi dt + sigma_xi dW2,  corr = rho,
    d b_j = -kappa_j b_j dt + sigma_j dB_j          (each basis its own OU, independent),

with b = c = 0 on the base basis, the index that is priced (the Schwartz-Smith model of
Schwartz and Smith, Management Science 2000, for the base index; a basis to it is another
index, as "index plus a mean-reverting basis"). c_j is a constant offset (a provider's or a
contract's premium), estimated with the other parameters. chi and each b_j start stationary,
xi_0 ~ N(LEVEL_MEAN, LEVEL_SD^2) (gpufin.models.calibration_priors). Between dates the
transition is exact (diagonal: e^{-kappa h}, 1, e^{-kappa_j h}) with the closed-form step
covariance of the Schwartz-Smith model (gpufin.models.calibration_mle). So `log_likelihood`
is the exact Gaussian density of all quotes, with the state path integrated out
(gpufin.models.state_space: from the banded precision of the path, or by a Kalman filter
quote by quote where a variance is 0; tests compare both with the dense density of the
stacked quotes).

Estimation: the negative log posterior, -log likelihood + sum over free parameters of
(u - prior mean)^2 / (2 prior sd^2) in the unconstrained coordinates u of
calibration_priors (where every prior is normal), is minimized by BFGS from the prior
centres and from two other mean reversions. Posterior standard errors: the inverse of the
central-difference Hessian of that function at the mode (step 1e-3 in u), mapped to each
parameter's unit by the delta method (a Laplace approximation of the posterior).

Report rule: a parameter was **moved by data** when its posterior mode lies more than one
prior sd from the prior mean, or its posterior sd is below half its prior sd (both in u);
otherwise it **stayed at its prior**.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property

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
from gpufin.models.calibration_priors import (
    BASIS_KAPPA,
    BASIS_OFFSET,
    BASIS_SIGMA,
    COMMON,
    LEVEL_MEAN,
    LEVEL_SD,
    Prior,
    derivative,
    to_natural,
)
from gpufin.models.state_space import Design, Params, filter_quotes, log_density
from gpufin.spec.times import DAYS_PER_YEAR

BASIS_COLUMN = "basis"
SKU_COLUMN = "sku"
DEFAULT_BASE = "spot"
MIN_OBS = 2
MOVED_SHIFT = 1.0          # posterior mode this many prior sds from the prior mean
MOVED_SHRINK = 0.5         # or posterior sd below this share of the prior sd
_OTHER_KAPPAS = (0.5, 10.0)


@dataclass(frozen=True)
class Quotes:
    """Quotes on several bases: `dates` (datetime64[D], sorted), `basis` (index into
    `bases`, 0 the base basis), `log_levels` ln(USD per GPU-hour)."""
    bases: tuple
    dates: np.ndarray
    basis: np.ndarray
    log_levels: np.ndarray

    @property
    def years(self) -> np.ndarray:
        """Each quote's date in years ACT/365F from the first quote."""
        if self.dates.size == 0:
            return np.empty(0)
        days = (self.dates - self.dates[0]).astype(np.int64).astype(float)
        return days / DAYS_PER_YEAR

    @cached_property
    def design(self) -> Design:
        """The quotes as gpufin.models.state_space reads them."""
        return Design(self.years, self.basis, self.log_levels, len(self.bases))

    def counts(self) -> dict:
        return {b: int((self.basis == i).sum()) for i, b in enumerate(self.bases)}


def make_quotes(dates, levels_usd_per_gpu_hour, bases_of_quotes, base: str) -> Quotes:
    """Quotes from one date, level and basis name per quote; `base` is the priced basis."""
    d = np.asarray(dates).astype("datetime64[D]")
    names = np.asarray([str(b) for b in bases_of_quotes], dtype=object)
    lv = np.asarray(levels_usd_per_gpu_hour, dtype=float)
    if not (d.shape == lv.shape == names.shape) or d.ndim != 1:
        raise SpecError("history", "expected one date, level and basis per quote")
    order = np.argsort(d, kind="stable")
    d, lv, names = d[order], lv[order], names[order]
    check_levels(d, lv)
    bases = (str(base), *sorted(set(names) - {base}))
    index = {b: i for i, b in enumerate(bases)}
    return Quotes(bases, d, np.array([index[n] for n in names], dtype=np.int64), np.log(lv))


# ---- parameters -----------------------------------------------------------------------------

def parameter_priors(bases) -> dict:
    """Every parameter's prior by name: the common ones, then kappa[b], sigma[b] and
    offset[b] for each basis b after the base."""
    priors = dict(COMMON)
    for b in bases[1:]:
        priors[f"kappa[{b}]"] = BASIS_KAPPA
        priors[f"sigma[{b}]"] = BASIS_SIGMA
        priors[f"offset[{b}]"] = BASIS_OFFSET
    return priors


def log_likelihood(quotes: Quotes, params: dict) -> float:
    """The exact log-density of all quotes at `params` (the common parameters by short name,
    kappa[b], sigma[b] and offset[b] for each basis b after the base)."""
    return log_density(quotes.design, _params(quotes, params))


def _params(quotes: Quotes, params: dict) -> Params:
    m = len(quotes.bases)
    bk, bs, bc = np.zeros(m), np.zeros(m), np.zeros(m)
    for j, b in enumerate(quotes.bases[1:], start=1):
        bk[j], bs[j], bc[j] = (params[f"{k}[{b}]"] for k in ("kappa", "sigma", "offset"))
    return Params(*(float(params[k]) for k in PARAMETERS), bk, bs, bc, LEVEL_MEAN, LEVEL_SD)


# ---- the fit --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PosteriorRow:
    """One line of the report: prior centre and sd, posterior mode and sd (in the
    parameter's unit; sds by the delta method), `status` ("moved by data", "prior" or
    "fixed") and `source`, the prior's entry in data/SOURCES.md section 12."""
    name: str
    unit: str
    prior: float
    prior_sd: float
    posterior: float
    posterior_sd: float | None
    status: str
    source: str


@dataclass(frozen=True)
class BasesCalibration:
    """A MAP fit: `rows` (every parameter, in the order of `parameter_priors`),
    `estimates` (every parameter at its mode), fit statistics (`loglik` the log-likelihood at
    the mode; `log_posterior` that less the priors' quadratic terms, the log posterior up to
    a constant), and per quote its date, its log level less its basis's offset
    (`log_levels`) and the filtered chi and xi. `short_factor` and
    `base_level_usd_per_gpu_hour` (exp(chi + xi)) are the filtered state after the last
    quote."""
    rows: tuple
    estimates: dict
    bases: tuple
    counts: dict
    sku: str | None
    loglik: float
    log_posterior: float
    n_obs: int
    start_date: dt.date
    end_date: dt.date
    short_factor: float
    base_level_usd_per_gpu_hour: float
    dates: np.ndarray = field(repr=False)
    log_levels: np.ndarray = field(repr=False)
    chi: np.ndarray = field(repr=False)
    xi: np.ndarray = field(repr=False)
    LEVELS = "quotes, ln level less their basis's offset"     # what log_levels hold (plots)

    @property
    def base(self) -> str:
        return self.bases[0]

    def model_table(self, spot: float | None = None) -> dict:
        """A spec `model` table (kind schwartz-smith) of the base index: spot is the filtered
        noise-free level exp(chi + xi) on the last date unless given, short_factor the
        filtered chi then."""
        return schwartz_smith_table(self.estimates,
                                    self.base_level_usd_per_gpu_hour if spot is None else spot,
                                    self.short_factor)

    def moved(self) -> list:
        return [r.name for r in self.rows if r.status == "moved by data"]

    def report(self) -> dict:
        """The parameter rows and fit statistics as plain values (for JSON)."""
        return {"parameters": [vars(r) for r in self.rows], "sku": self.sku, "base": self.base,
                "quotes_by_basis": dict(self.counts), "loglik": self.loglik,
                "log_posterior": self.log_posterior, "n_obs": self.n_obs,
                "start_date": self.start_date.isoformat(), "end_date": self.end_date.isoformat(),
                "moved_by_data": self.moved(), "model": self.model_table()}

    def header_lines(self, source: str | None) -> list:
        """Comment lines for a written model file: the data and the fit behind the numbers."""
        return [(f"# Schwartz-Smith model of the {self.base} index, the posterior mode (MAP) of "
                 f"a Kalman filter on {source or 'quotes'}" + (f", sku {self.sku}" if self.sku else "")),
                (f"# {self.start_date} to {self.end_date}, {self.n_obs} quotes on "
                 f"{len(self.bases)} bases ({', '.join(f'{b} {n}' for b, n in self.counts.items())})"),
                f"# log-likelihood {self.loglik:.6g}, log-posterior {self.log_posterior:.6g}",
                "# parameter: posterior mode +- sd (prior centre +- sd), status",
                *(f"#   {r.name}: {r.posterior:.4g}"
                  + ("" if r.posterior_sd is None else f" +- {r.posterior_sd:.3g}")
                  + f" ({r.prior:.4g} +- {r.prior_sd:.3g}), {r.status}" for r in self.rows),
                ("# moved by data: the mode more than one prior sd from the prior mean, or the "
                 "sd below half the prior sd (docs/calibration.md)"),
                "# long_drift is the real-world trend; a market.forward_curve replaces it for pricing"]


def calibrate_quotes(quotes: Quotes, fixed: dict | None = None, sku: str | None = None
                     ) -> BasesCalibration:
    """The MAP fit of `quotes` (any number, none included: then the mode is the prior).
    `fixed` holds common parameters (short names, values checked by the caller) at a value."""
    fixed = dict(fixed or {})
    priors = parameter_priors(quotes.bases)
    free = [k for k in priors if k not in fixed]

    def natural(u) -> dict:
        p = dict(fixed)
        p.update({k: to_natural(priors[k].transform, float(v)) for k, v in zip(free, u)})
        return p

    mean_u = np.array([priors[k].mean_u for k in free])
    sd_u = np.array([priors[k].sd for k in free])

    def neg_log_posterior(u) -> float:
        value = -log_likelihood(quotes, natural(u)) + 0.5 * float(np.sum(((u - mean_u) / sd_u) ** 2))
        return value if math.isfinite(value) else 1e300

    n = quotes.log_levels.size
    if free:
        starts = [mean_u] + [np.where([k == "kappa" for k in free], math.log(kappa), mean_u)
                             for kappa in _OTHER_KAPPAS if "kappa" in free]
        u_hat = minimize_best(neg_log_posterior, starts, max(n, 1))
        cov_u = _posterior_covariance(central_hessian(neg_log_posterior, u_hat), free)
    else:
        u_hat, cov_u = np.empty(0), np.empty((0, 0))
    estimates = natural(u_hat)
    loglik, mean, chi, xi = filter_quotes(quotes.design, _params(quotes, estimates))
    rows = [_row(k, priors[k], estimates[k], fixed,
                 None if k in fixed else float(cov_u[free.index(k), free.index(k)]),
                 None if k in fixed else float(u_hat[free.index(k)]))
            for k in priors]
    offsets = np.array([0.0] + [estimates[f"offset[{b}]"] for b in quotes.bases[1:]])
    prior_part = 0.5 * float(np.sum(((u_hat - mean_u) / sd_u) ** 2)) if free else 0.0
    dates = quotes.dates
    return BasesCalibration(
        rows=tuple(rows), estimates=estimates, bases=quotes.bases, counts=quotes.counts(),
        sku=sku, loglik=loglik, log_posterior=loglik - prior_part, n_obs=n,
        start_date=dates[0].item() if n else None, end_date=dates[-1].item() if n else None,
        short_factor=float(mean[0]), base_level_usd_per_gpu_hour=math.exp(mean[0] + mean[1]),
        dates=dates, log_levels=quotes.log_levels - offsets[quotes.basis], chi=chi, xi=xi)


def _row(name, prior: Prior, value, fixed, var_u, u) -> PosteriorRow:
    if name in fixed:
        return PosteriorRow(name, prior.unit, prior.centre, prior.natural_sd, value, None,
                            "fixed", prior.source)
    sd_u = math.sqrt(var_u)
    moved = abs(u - prior.mean_u) > MOVED_SHIFT * prior.sd or sd_u < MOVED_SHRINK * prior.sd
    return PosteriorRow(name, prior.unit, prior.centre, prior.natural_sd, value,
                        abs(derivative(prior.transform, value)) * sd_u,
                        "moved by data" if moved else "prior", prior.source)


def _posterior_covariance(hessian, free) -> np.ndarray:
    """The inverse Hessian of the negative log posterior, or a SpecError naming the parameter
    along the direction in which the posterior is not peaked."""
    if not np.all(np.isfinite(hessian)):
        raise SpecError("history", "the posterior is not finite near its mode; fix parameters "
                                   "with --fix NAME=VALUE")
    eigval, eigvec = np.linalg.eigh(hessian)
    if eigval[0] <= 0.0:
        name = free[int(np.argmax(np.abs(eigvec[:, 0])))]
        raise SpecError("history", f"the posterior has no peak in {name} at its mode (a Hessian "
                                   "that is not positive definite); fix it with --fix")
    return eigvec @ np.diag(1.0 / eigval) @ eigvec.T


# ---- histories ------------------------------------------------------------------------------

def quotes_from_history(frame, sku: str | None = None, bases=(), base: str | None = None,
                        source: str = "history"):
    """(Quotes, sku) from a history DataFrame (gpufin.market.data.load_history): the rows of
    `sku` (default: the SKU with the most rows, the first in sort order on a tie) on `bases`
    (default: every basis; a file without a basis column is one basis, `history`), priced on
    `base` (default: `spot` if quoted, else the basis with the most quotes). Fewer than
    MIN_OBS quotes is a SpecError."""
    if DATE_COLUMN not in frame or LEVEL_COLUMN not in frame:
        raise SpecError("history", f"expected columns {DATE_COLUMN} and {LEVEL_COLUMN}")
    if SKU_COLUMN in frame:
        skus = frame[SKU_COLUMN].astype(str)
        if sku is None:
            sku = _most_frequent(skus)
        elif sku not in set(skus):
            raise SpecError("--sku", f"got {sku!r}; {source} holds {', '.join(sorted(set(skus)))}")
        frame = frame[skus == sku]
    elif sku is not None:
        raise SpecError("--sku", f"{source} has no {SKU_COLUMN} column")
    names = (frame[BASIS_COLUMN].astype(str) if BASIS_COLUMN in frame
             else frame[DATE_COLUMN].map(lambda _: "history"))
    held = sorted(set(names))
    where = source + (f" (sku {sku})" if sku else "")
    for option, wanted in [("--basis", b) for b in bases] + [("--base", base)] * (base is not None):
        if wanted not in held:
            raise SpecError(option, f"got {wanted!r}; {where} holds {', '.join(held)}")
    chosen = list(bases) or held
    if base is not None and base not in chosen:
        raise SpecError("--base", f"got {base!r}; expected one of the chosen bases "
                                  f"({', '.join(chosen)})")
    keep = names.isin(chosen).to_numpy()
    n = int(keep.sum())
    if n < MIN_OBS:
        raise SpecError("history", f"{n} quote{'s' * (n != 1)} in {where} on "
                                   f"{', '.join(chosen)}; expected at least {MIN_OBS}")
    names, rows = names[keep], frame[keep]
    if base is None:
        base = DEFAULT_BASE if DEFAULT_BASE in set(names) else _most_frequent(names)
    return make_quotes(rows[DATE_COLUMN].to_numpy(), rows[LEVEL_COLUMN].to_numpy(),
                       names.to_numpy(), base), sku


def _most_frequent(values):
    """The value with the most rows; the first in sort order on a tie."""
    counts = values.value_counts()
    return min(counts.index[counts == counts.max()])


def calibrate_history(frame, sku: str | None = None, bases=(), base: str | None = None,
                      fixed: dict | None = None, source: str = "history") -> BasesCalibration:
    """`calibrate_quotes` on the quotes `quotes_from_history` selects."""
    quotes, sku = quotes_from_history(frame, sku, bases, base, source)
    return calibrate_quotes(quotes, check_values(fixed, "fixed"), sku)


