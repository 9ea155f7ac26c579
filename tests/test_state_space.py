"""The density of quotes on several bases two ways (gpufin.models.state_space): the banded
precision of the state path against the Kalman filter quote by quote, at several designs and
parameters and at the edges of where the banded form is trusted, and the filter where a
variance at 0 or near-singular steps leave it undefined or inaccurate."""
import math

import numpy as np
import pytest

from gpufin.models.calibration_bases import LEVEL_MEAN, LEVEL_SD, log_likelihood
from gpufin.models.state_space import Design, Params, banded_log_density, filter_quotes, log_density
from test_calibration_multi import DESIGN_A, DESIGN_B, dense_log_likelihood, simulate, truth_of


def params_of(quotes, p) -> Params:
    m = len(quotes.bases)
    bk, bs, bc = np.zeros(m), np.zeros(m), np.zeros(m)
    for j, b in enumerate(quotes.bases[1:], start=1):
        bk[j], bs[j], bc[j] = (p[f"{k}[{b}]"] for k in ("kappa", "sigma", "offset"))
    return Params(p["kappa"], p["sigma_chi"], p["sigma_xi"], p["rho"], p["mu_xi"], p["sigma_eps"],
                  bk, bs, bc, LEVEL_MEAN, LEVEL_SD)


# (design, seed, quotes, years, parameters changed from the design's)
CASES = [(DESIGN_A, 1, 40, 1.0, {}), (DESIGN_A, 3, 600, 8.0, {"rho": 0.6}),
         (DESIGN_B, 2, 400, 4.0, {"rho": -0.5}), (DESIGN_B, 4, 120, 0.5, {"kappa": 20.0, "sigma_eps": 0.005}),
         (DESIGN_A, 5, 300, 3.0, {"sigma_xi": 0.01, "kappa": 0.2})]


@pytest.mark.parametrize("design,seed,n,years,changes", CASES)
def test_banded_density_is_the_filters(design, seed, n, years, changes):
    common, bases, _, _ = design
    quotes = simulate(seed, common, bases, n, years)
    assert (quotes.dates[1:] == quotes.dates[:-1]).any()       # shared dates are part of it
    p = params_of(quotes, dict(truth_of(common, bases), **changes))
    banded = banded_log_density(quotes.design, p)
    filtered = filter_quotes(quotes.design, p)[0]
    # rounding: the worst case (a long factor of 1% volatility) spreads banded, filtered and
    # dense densities over 3e-9 of 241 (1.2e-11), the others agree to 1e-12
    assert banded == pytest.approx(filtered, rel=1e-10, abs=1e-9)


def test_the_likelihood_is_the_dense_density_on_one_basis():
    common, _, _, _ = DESIGN_B
    quotes = simulate(7, common, {}, 60, 2.0)
    assert quotes.bases == ("spot",)
    assert log_likelihood(quotes, common) == pytest.approx(dense_log_likelihood(quotes, common), abs=1e-9)


@pytest.mark.parametrize("zero", ["sigma_eps", "sigma_xi", "sigma[contract-1y]"])
def test_a_variance_at_zero_is_filtered(zero):
    common, bases, _, years = DESIGN_B
    quotes = simulate(3, common, bases, 80, years)
    if zero == "sigma_eps":     # without noise, two quotes of one date and basis contradict
        first = np.r_[True, quotes.dates[1:] != quotes.dates[:-1]]
        quotes = type(quotes)(quotes.bases, quotes.dates[first], quotes.basis[first], quotes.log_levels[first])
    p = params_of(quotes, dict(truth_of(common, bases), **{zero: 0.0}))
    assert banded_log_density(quotes.design, p) is None
    value = log_density(quotes.design, p)
    assert math.isfinite(value) and value == filter_quotes(quotes.design, p)[0]


def test_no_quotes_have_density_one():
    common, bases, _, years = DESIGN_A
    quotes = simulate(1, common, bases, 5, years)
    empty = type(quotes)(quotes.bases, quotes.dates[:0], quotes.basis[:0], quotes.log_levels[:0])
    assert log_density(empty.design, params_of(empty, truth_of(common, bases))) == 0.0


# just inside where the banded form is trusted: a step correlation of 0.9999, a noise of 1e-3
@pytest.mark.parametrize("changes", [{"rho": 0.9999}, {"rho": -0.9999}, {"sigma_eps": 1e-3}])
def test_the_banded_form_holds_to_its_limits(changes):
    common, bases, _, years = DESIGN_B
    quotes = simulate(3, common, bases, 200, years)
    p = params_of(quotes, dict(truth_of(common, bases), **changes))
    banded = banded_log_density(quotes.design, p)
    assert banded == pytest.approx(filter_quotes(quotes.design, p)[0], rel=1e-10)


# near-singular: the banded form loses digits (a noise of 1e-5 or a step correlation of
# 1 - 1e-6: 1e-8 and 4e-11 of the density, measured), a start variance of inf
@pytest.mark.parametrize("changes", [{"sigma_eps": 1e-5}, {"rho": 1.0 - 1e-6}, {"rho": -1.0},
                                     {"kappa": 1e-320}])
def test_near_singular_parameters_are_filtered(changes):
    common, bases, _, years = DESIGN_B
    quotes = simulate(3, common, bases, 200, years)
    p = params_of(quotes, dict(truth_of(common, bases), **changes))
    assert banded_log_density(quotes.design, p) is None
    assert log_density(quotes.design, p) == filter_quotes(quotes.design, p)[0]


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_one_date_and_a_later_start(shift):
    """Several quotes on a single date, and a first quote `shift` years from time 0: the
    drift runs from the first quote in both forms."""
    common, bases, _, years = DESIGN_A
    quotes = simulate(5, common, bases, 200, years)
    p = params_of(quotes, truth_of(common, bases))
    d = quotes.design
    later = Design(d.t + shift, d.basis, d.y, d.states - 1)
    assert banded_log_density(later, p) == pytest.approx(banded_log_density(d, p), rel=1e-12)
    assert filter_quotes(later, p)[0] == pytest.approx(filter_quotes(d, p)[0], rel=1e-12)
    first = d.t == d.t[0]
    assert first.sum() > 1
    one = Design(d.t[first] + shift, d.basis[first], d.y[first], d.states - 1)
    assert banded_log_density(one, p) == pytest.approx(filter_quotes(one, p)[0], rel=1e-12)
