"""Priors of the multi-basis calibration (gpufin.models.calibration_bases).

Every parameter is estimated in an unconstrained coordinate u, in which its prior is normal:
u = ln(value) for a mean reversion or a volatility (a lognormal prior), u = atanh(rho) for the
correlation, u = value for the drift and for a basis offset (log) (a normal prior). A prior is its
`centre` (the value at the prior mean of u: the median of a lognormal prior) and `sd`, the
standard deviation of u. `natural_sd` is the same width in the parameter's own unit by the
delta method at the centre (centre x sd for a lognormal prior), the figure the report shows.

The centres are the index defaults of the package (an H100 neocloud index, mid-2026); the
widths are the ranges given beside them, read as one standard deviation. Sources and
reasoning: data/SOURCES.md section 11 (ids PRIOR-KAPPA ... PRIOR-LEVEL). Each is an
**estimate**: no GPU rental index has a published volatility or mean reversion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Prior:
    """A normal prior on the unconstrained coordinate of one parameter (see module doc).

    transform: "log", "atanh" or "identity"; centre in the parameter's unit; sd in u.
    """
    transform: str
    centre: float
    sd: float
    unit: str
    source: str

    @property
    def mean_u(self) -> float:
        return to_unconstrained(self.transform, self.centre)

    @property
    def natural_sd(self) -> float:
        return abs(derivative(self.transform, self.centre)) * self.sd


def to_natural(transform: str, u: float) -> float:
    """The parameter value at unconstrained u (exp is clipped so that it never overflows)."""
    if transform == "log":
        return math.exp(min(max(u, -30.0), 30.0))
    if transform == "atanh":
        return math.tanh(u)
    return u


def to_unconstrained(transform: str, value: float) -> float:
    if transform == "log":
        return math.log(value)
    if transform == "atanh":
        return math.atanh(min(max(value, -0.999), 0.999))
    return value


def derivative(transform: str, value: float) -> float:
    """d value / d u at `value` (the delta method)."""
    if transform == "log":
        return value
    if transform == "atanh":
        return 1.0 - value * value
    return 1.0


LN2 = math.log(2.0)

# The common Schwartz-Smith parameters of the base index, by short name.
COMMON = {
    # KAPPA: 2.0 a year, range 1-4 (a factor 2 either way: one sd of ln 2)
    "kappa": Prior("log", 2.0, LN2, "1/yr", "PRIOR-KAPPA"),
    # the split of VOL (0.50, range 0.30-0.75) into short 0.45 and long 0.20
    "sigma_chi": Prior("log", 0.45, 0.4, "1/sqrt(yr)", "PRIOR-VOL"),
    "sigma_xi": Prior("log", 0.20, 0.5, "1/sqrt(yr)", "PRIOR-VOL"),
    # no source gives a correlation of the factors
    "rho": Prior("atanh", 0.0, 0.5, "", "PRIOR-RHO"),
    # TREND: log -0.29 a year, range -0.16 to -0.43 (-15% to -35%)
    "mu_xi": Prior("identity", -0.29, 0.15, "log/yr", "PRIOR-TREND"),
    # provider basis of 0.50 USD on 2.40 (about 0.2 in log) as the noise of one quote
    "sigma_eps": Prior("log", 0.20, 0.5, "log", "PRIOR-NOISE"),
}

# Each further basis b_j: an OU in log (kappa about 4; 0 +- 0.40 USD on 2.50, a stationary sd
# of 0.16 in log, so a volatility of 0.16 sqrt(2 x 4) = 0.45) and a constant offset.
BASIS_KAPPA = Prior("log", 4.0, LN2, "1/yr", "PRIOR-BASIS")
BASIS_SIGMA = Prior("log", 0.45, 0.5, "1/sqrt(yr)", "PRIOR-BASIS")
# TIERS: hyperscaler prices 2-2.5 times neocloud ones (log 0.7-0.9) within one sd
BASIS_OFFSET = Prior("identity", 0.0, 1.0, "log", "PRIOR-OFFSET")
# The initial long-term level xi_0 ~ N(0, 10^2) in ln(USD per GPU-hour): proper, so that the
# likelihood is an ordinary Gaussian density, and so wide that the quotes alone set the level.
LEVEL_MEAN = 0.0
LEVEL_SD = 10.0
