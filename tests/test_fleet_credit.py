"""Correlated credit in the fleet: the systematic factor's Gaussian copula against the bivariate
normal closed form, piecewise-flat hazards against their survival curve, wrong-way risk and the
platform's default on a loan (common random numbers), re-leasing downtime against its expected
lost revenue, defaults bit for bit unchanged, and bad input refused by key."""
import math

import numba
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import multivariate_normal, norm

import gpufin
from gpufin.engines.collateral import fleet_chunks
from gpufin.errors import SpecError
from gpufin.models.fleet import HazardCurve, fleet_setup
from gpufin.spec.reader import load_spec

FLAT = {"curve": {"kind": "flat", "rate": 0.04}, "valuation_date": "2026-07-01"}
QUIET = {"index": {"short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0, "spike_intensity": 0.0},
         "utilization": {"vol": 0.0}, "failure_rate": 0.0}
# the index random (the factor is its long-term shock), merchant revenue negligible: the month's
# cash then says which contracts are paid
DECODE = {"valuation": "book", "failure_rate": 0.0, "costs": {"other_cost": 0.0, "power_price": 0.0},
          "utilization": {"level": 1e-9, "vol": 0.0}}
Z = 4.0


def setup_of(model: dict, horizon: float):
    doc = {"model": dict({"kind": "gpu-fleet", "gpus": 1000}, **model), "mc": {"horizon": horizon},
           "market": FLAT}
    return fleet_setup(load_spec(doc, instrument_required=False))


def paths_of(setup, n, seed=11, chunk=None):
    return np.concatenate([c for _, c in fleet_chunks(setup.model, setup.market, setup.times, n, seed,
                                                          chunk)], axis=1)


def paid(setup, out, i) -> np.ndarray:
    """USD per GPU-hour that paying customers brought in the month ending at date i (billable 0.95)."""
    hours = 8760.0 * (setup.times[i] - setup.times[i - 1])
    return out[2][:, i] / (hours * 1000 * 0.95)


@pytest.mark.parametrize("loading", [0.5, 0.9])
def test_the_copula_default_correlation_matches_the_bivariate_normal(loading):
    """Two customers (rates 1 and 2 on 30% each) with hazard 0.3: P(both default by 2 years) =
    Phi2(a, a; rho^2), a = Phi^-1(1 - e^{-0.6}); the default correlation follows."""
    hazard, t, n = 0.3, 2.0, 20_000
    contracts = [{"customer": "a", "share": 0.3, "rate": 1.0, "end": 3, "default_hazard": hazard},
                 {"customer": "b", "share": 0.3, "rate": 2.0, "end": 3, "default_hazard": hazard}]
    setup = setup_of(dict(DECODE, contracts=contracts, credit={"loading": loading}), horizon=t)
    level = paid(setup, paths_of(setup, n), 24)
    a_on = np.isin(np.round(level / 0.3), [1.0, 3.0])
    b_on = np.round(level / 0.3) >= 2.0
    both = np.mean(~a_on & ~b_on)
    p = 1.0 - math.exp(-hazard * t)
    q = norm.ppf(p)
    exact = multivariate_normal(mean=[0, 0], cov=[[1, loading ** 2], [loading ** 2, 1]]).cdf([q, q])
    assert abs(both - exact) < Z * math.sqrt(exact * (1 - exact) / n)
    for on in (a_on, b_on):
        assert abs(np.mean(~on) - p) < Z * math.sqrt(p * (1 - p) / n)
    correlation = (exact - p * p) / (p * (1 - p))
    assert correlation > 0.1 * loading ** 2


@pytest.mark.parametrize("loading", [0.0, 0.7])
def test_piecewise_hazards_give_their_survival_curve(loading):
    """Survival exp(-Lambda(t)) of a hazard of 0.1, then 0.6 from 0.5 years, then 0.2 from 1.5,
    with or without a loading (the copula keeps each name's own curve)."""
    curve = {"times": [0.0, 0.5, 1.5], "hazards": [0.1, 0.6, 0.2]}
    n = 20_000
    setup = setup_of(dict(DECODE, contracts=[{"customer": "a", "share": 0.5, "rate": 1.0, "end": 4,
                                              "hazard_curve": curve}],
                          credit={"loading": loading}), horizon=3.0)
    out = paths_of(setup, n)
    lam = HazardCurve(tuple(curve["times"]), tuple(curve["hazards"])).cumulative
    for i in (3, 6, 12, 18, 24, 36):
        alive = np.mean(paid(setup, out, i) > 0.25)
        exact = math.exp(-lam(setup.times[i]))
        assert abs(alive - exact) < Z * math.sqrt(exact * (1 - exact) / n)


def test_contracts_of_one_customer_default_together_with_a_curve_and_a_loading():
    curve = {"times": [0.0, 1.0], "hazards": [0.2, 0.8]}
    base = dict(QUIET, index=dict(QUIET["index"], long_vol=0.2), credit={"loading": 0.6})
    two = [{"customer": "lab", "share": 0.4, "rate": 3.0, "end": 5, "hazard_curve": curve},
           {"customer": "lab", "share": 0.4, "rate": 3.0, "end": 5, "hazard_curve": curve}]
    cash = paths_of(setup_of(dict(base, contracts=two), 5.0), 2000)[2]
    one = paths_of(setup_of(dict(base, contracts=[dict(two[0], share=0.8)]), 5.0), 2000)[2]
    np.testing.assert_allclose(cash, one, rtol=1e-12)
    with pytest.raises(SpecError, match="two default hazards"):
        setup_of(dict(base, contracts=[two[0], dict(two[1], hazard_curve=None, default_hazard=0.2)]), 5.0)


def test_new_keys_at_their_defaults_change_no_bit():
    contracts = [{"customer": "a", "share": 0.5, "rate": 2.5, "end": 4, "default_hazard": 0.1},
                 {"customer": "b", "share": 0.3, "rate": 2.6, "end": 3, "default_hazard": 0.05}]
    plain = setup_of({"contracts": contracts}, 5.0)
    spelled = setup_of({"contracts": contracts, "credit": {"loading": 0.0, "factor": "short"},
                        "platform": {"default_hazard": 0.0, "loading": 0.5},
                        "releasing": {"downtime_months": 0.0, "rate": "merchant"}}, 5.0)
    np.testing.assert_array_equal(paths_of(plain, 512), paths_of(spelled, 512))


def test_correlated_paths_do_not_depend_on_chunking_or_threads():
    """One thread and whole against every thread numba has (2 on the test machines) in chunks."""
    setup = setup_of({"contracts": [{"customer": "a", "share": 0.5, "rate": 2.5, "end": 4,
                                     "hazard_curve": {"times": [0, 1], "hazards": [0.1, 0.3]}}],
                      "credit": {"loading": 0.8}, "platform": {"default_hazard": 0.1, "loading": 0.5},
                      "releasing": {"downtime_months": 2, "rate": "contract-index"}}, 3.0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = paths_of(setup, 300)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = paths_of(setup, 300, chunk=77)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


def expected_idle_share(hazard, downtime, t0, t1, end):
    """E[share of (t0, t1] in [tau, tau + downtime)] for tau ~ Exp(hazard), counted in the term (0, end]."""
    def overlap(tau):
        return max(min(t1, tau + downtime) - max(t0, tau), 0.0) / (t1 - t0)
    lo = max(t0 - downtime, 0.0)
    kinks = [k for k in (t0, t1 - downtime) if lo < k < t1]
    value, _ = integrate.quad(lambda tau: overlap(tau) * hazard * math.exp(-hazard * tau), lo, t1,
                              points=kinks or None)
    return value if t1 <= end + 1e-12 else 0.0


@pytest.mark.parametrize("downtime_months", [1.0, 4.5])
def test_releasing_downtime_lowers_cash_by_the_lost_merchant_revenue(downtime_months):
    """A deterministic index and utilization; the customer (hazard 0.5, half the fleet to 3
    years) defaults at an exponential time: the downtime costs share x hours x U S x the expected
    idle share of each month."""
    hazard, share, n = 0.5, 0.5, 20_000
    contract = {"customer": "a", "share": share, "rate": 3.0, "end": 3, "default_hazard": hazard}
    base = dict(QUIET, contracts=[contract])
    now = setup_of(base, 4.0)
    idle = setup_of(dict(base, releasing={"downtime_months": downtime_months}), 4.0)
    before, after = paths_of(now, n), paths_of(idle, n)
    lost = before[2] - after[2]
    times, down = now.times, downtime_months / 12.0
    merchant = before[0][0] * before[1][0]              # U S, the same on every path
    for i in range(1, times.size):
        hours = 8760.0 * (times[i] - times[i - 1])
        exact = share * hours * 1000 * merchant[i] * expected_idle_share(hazard, down, times[i - 1],
                                                                           times[i], 3.0)
        se = lost[:, i].std(ddof=1) / math.sqrt(n)
        assert abs(lost[:, i].mean() - exact) <= Z * se + 1e-9 * hours


def test_re_contracting_at_the_contract_index_pays_the_index_after_the_downtime():
    """At once in default (hazard inf) with a deterministic index: the share idles for 2 months,
    then earns ratio x the index of month 2 x 0.95 to the contract's end, then the merchant rate."""
    contract = {"customer": "a", "share": 0.5, "rate": 3.0, "end": 2, "default_hazard": math.inf}
    base = dict(QUIET, contracts=[contract])
    merchant = setup_of(base, 3.0)
    relet = setup_of(dict(base, releasing={"downtime_months": 2, "rate": "contract-index",
                                           "contract_spot_ratio": 1.2}), 3.0)
    spot, cash = paths_of(merchant, 2), paths_of(relet, 2)
    s, u, times = spot[0][0], spot[1][0], merchant.times
    hours = 8760.0 * np.diff(times) * 1000 * 0.5
    gain = (cash[2][0] - spot[2][0])[1:]
    expected = np.where(times[1:] <= 2 / 12 + 1e-9, -u[1:] * s[1:],
                        np.where(times[1:] <= 2 + 1e-9, 1.2 * s[2] * 0.95 - u[1:] * s[1:], 0.0)) * hours
    np.testing.assert_allclose(gain, expected, rtol=1e-10, atol=1e-6)


def _loan(deal, *overrides, paths=4000):
    return gpufin.price(f"data/deals/{deal}.toml", [f"mc.paths={paths}", *overrides])


LOADINGS = (0.0, 0.3, 0.6, 0.9)


def test_wrong_way_risk_raises_expected_loss_and_pd_with_the_loading():
    """The non-investment-grade deal at loadings 0, 0.3, 0.6 and 0.9 on the same seed: customers
    default when rents fall, so the loan loses more and defaults more often."""
    results = [_loan("non_ig_ddtl", f"model.credit.loading={rho}") for rho in LOADINGS]
    losses = [r["expected_loss"] for r in results]
    pds = [r["pd"] for r in results]
    assert all(b > a for a, b in zip(losses, losses[1:])), losses
    assert all(b >= a for a, b in zip(pds, pds[1:])) and pds[-1] > pds[0], pds


def test_wrong_way_risk_raises_the_fair_spread_with_the_loading():
    """The same deal's fair spread (the spread that prices it at par, solved on common random
    numbers) at the same four loadings: it rises with the loading."""
    spreads = [gpufin.solve_spread("data/deals/non_ig_ddtl.toml",
                                   ["mc.paths=4000", f"model.credit.loading={rho}"])["spread"]
               for rho in LOADINGS]
    assert all(b > a for a, b in zip(spreads, spreads[1:])), spreads


def test_a_platform_default_that_ends_the_contracts_raises_expected_loss():
    base = _loan("ig_anchored_ddtl")
    ends = _loan("ig_anchored_ddtl", "model.platform.default_hazard=0.075",
                 'model.platform.on_default="end-contracts"')
    replaced = _loan("ig_anchored_ddtl", "model.platform.default_hazard=0.075",
                     'model.platform.on_default="replace-servicer"', "model.platform.downtime_months=2",
                     "model.platform.replacement_cost_revenue=0.5")
    assert ends["expected_loss"] > base["expected_loss"]
    assert replaced["expected_loss"] >= base["expected_loss"] and replaced["value"] <= base["value"]


@pytest.mark.parametrize("model, key", [
    ({"credit": {"loading": 1.5}}, "model.credit.loading"),
    ({"platform": {"loading": -1.2}}, "model.platform.loading"),
    ({"contracts": [{"share": 0.5, "rate": 2.0, "end": 3,
                     "hazard_curve": {"times": [0.0, 2.0, 1.0], "hazards": [0.1, 0.2, 0.3]}}]},
     "model.contracts[0].hazard_curve.times"),
    ({"contracts": [{"share": 0.5, "rate": 2.0, "end": 3,
                     "hazard_curve": {"times": [0.0, 1.0], "hazards": [0.1, -0.2]}}]},
     "model.contracts[0].hazard_curve.hazards[1]"),
    ({"contracts": [{"share": 0.5, "rate": 2.0, "end": 3,
                     "hazard_curve": {"times": [0.0, 1.0], "hazards": [0.1]}}]},
     "model.contracts[0].hazard_curve.hazards"),
    ({"platform": {"on_default": "liquidate"}}, "model.platform.on_default"),
    ({"credit": {"loading": 0.5}, "index": {"long_vol": 0.0}}, "model.credit.factor"),
])
def test_bad_credit_keys_are_one_line_errors_naming_the_key(model, key):
    with pytest.raises(SpecError) as err:
        setup_of(model, 2.0)
    assert err.value.key == key and "\n" not in str(err.value)
