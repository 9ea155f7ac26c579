"""A gpu-fleet with a second index of its SKU (model.basis_index): the basis index the fleet
kernel simulates against the closed forms of gpufin.models.multi_index (E[B_t], Var[ln B_t],
Cov[ln S_t, ln B_t], the log basis' mean and variance) within 4 standard errors at dates on
and between the months, at two parameter sets; merchant revenue and the income value earning
it (the income value against the Monte Carlo mean of the discounted merchant cash it is the
conditional expectation of); re-leasing struck on it; a basis index that nothing earns changes
nothing; the same bits for any chunking and thread count; hedges of a fleet that earns the basis index on
either index; bad input."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import N_SE

from gpufin.engines.collateral import fleet_chunks
from gpufin.engines.montecarlo import seed_key
from gpufin.errors import SpecError
from gpufin.hedge.run import hedge
from gpufin.models.fleet import fleet_setup
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import CASH, INDEX, UTIL, VALUE, name_default_times

ROOT = Path(__file__).resolve().parents[1]
PATHS = 20_000
# dates on and between months (bisection), in years
TIMES = np.array([0.0, 0.37, 1.0, 1.013, 2.0])
# the H100 spot index with a one-year contract index on it; and a second set with a negative
# correlation, a long-run premium and a forward curve on the fleet's index
BASES = {
    "contract": {"name": "H100-1y", "spot": 2.6, "mean_reversion": 4.0, "short_vol": 0.22,
                 "basis_level": 0.03, "correlation": 0.8},
    "provider": {"name": "OCPI-H100", "spot": 2.1, "mean_reversion": 1.5, "short_vol": 0.35,
                 "basis_level": -0.05, "correlation": -0.3},
}
MARKETS = {"contract": {},
           "provider": {"valuation_date": "2026-07-01", "curve": {"kind": "flat", "rate": 0.04},
                        "forward_curve": [{"time": 0.5, "price": 2.1}, {"time": 2.0, "price": 1.8}]}}


def _doc(basis: str, contracts=(), **model) -> dict:
    fleet = {"kind": "gpu-fleet", "gpus": 1000, "index": {"name": "H100-spot", "launch_dates": [0.8]},
             "basis_index": BASES[basis], "contracts": list(contracts), **model}
    return {"model": fleet, "market": MARKETS[basis], "mc": {"paths": 1000, "seed": 3, "horizon": 2.0}}


def _setup(doc: dict):
    return fleet_setup(load_spec(doc, instrument_required=False))


def _run(setup, times, paths=PATHS, seed=5, chunk=None):
    parts = [out for _, out in fleet_chunks(setup.model, setup.market, times, paths, seed, chunk, state=True)]
    return np.concatenate(parts, axis=1)


def _indices(setup, out, times) -> dict:
    return setup.model.state_paths(times, [out[INDEX], out[-3], out[-2], out[-1]])


def _within(estimate, se, reference, what):
    z = (estimate - reference) / se
    assert np.all(np.abs(z) <= N_SE), f"{what}: {np.round(z, 2)} standard errors"


def _moment(x, y):
    """Sample covariance of x and y per date and its standard error."""
    product = (x - x.mean(0)) * (y - y.mean(0))
    return product.mean(0), product.std(0) / math.sqrt(x.shape[0])


@pytest.mark.parametrize("basis", list(BASES))
def test_basis_index_against_closed_forms(basis):
    """Each index's mean and log variance, their log covariance and the log basis' mean and
    variance at four dates (two inside months) against MultiIndex's closed forms; the
    fleet's index is the one it has without a basis index (its level is g + chi + xi)."""
    setup = _setup(_doc(basis))
    out = _run(setup, TIMES)
    paths = _indices(setup, out, TIMES)
    model = setup.model.indices()
    spot, other = model.names
    assert other == BASES[basis]["name"]
    for name in model.names:
        law, level = model.index(name), paths[name].level[:, 1:]
        _within(level.mean(0), level.std(0) / math.sqrt(PATHS), law.mean(TIMES[1:]), f"E[{name}]")
        logs = np.log(level)
        var, se = _moment(logs, logs)
        _within(var, se, law.log_variance(TIMES[1:]), f"Var[ln {name}]")
    a, b = np.log(paths[spot].level[:, 1:]), np.log(paths[other].level[:, 1:])
    cov, se = _moment(a, b)
    _within(cov, se, model.log_covariance(spot, other, TIMES[1:]), "Cov")
    gap = b - a
    _within(gap.mean(0), gap.std(0) / math.sqrt(PATHS), model.basis_mean(spot, other, TIMES[1:]), "basis mean")
    var, se = _moment(gap, gap)
    _within(var, se, model.basis_variance(spot, other, TIMES[1:]), "basis variance")
    assert np.allclose(paths[other].level[:, 0], BASES[basis]["spot"], rtol=1e-13)


@pytest.mark.parametrize("basis", list(BASES))
def test_merchant_revenue_and_income_value_earn_the_basis_index(basis):
    """With merchant_index the basis index, each period's merchant cash is hours x GPUs x U x
    B (to rounding), and the income value today is the mean discounted merchant cash over
    the GPU's life less its opex (its conditional expectation, pricing_kernels.income)
    within 4 standard errors; on the fleet's own index it would not be."""
    setup = _setup(_doc(basis, merchant_index=BASES[basis]["name"], valuation="income"))
    model = setup.model
    times = model.valuation_times()
    out = _run(setup, times, paths=10_000, seed=9)
    b = _indices(setup, out, times)[BASES[basis]["name"]].level
    _, args = model.kernel_args(times, setup.market)
    merchant = args.hours[None, :] * args.fleet[None, 1:] * (out[UTIL][:, 1:] * b[:, 1:] - args.opex)
    assert np.allclose(out[CASH][:, 1:], merchant, rtol=1e-12, atol=1e-6)
    discounted = (args.w[0][None, :] * out[UTIL][:, 1:] * b[:, 1:]).sum(axis=1) - args.opex_pv[0]
    value = out[VALUE][0, 0] / model.fleet_size(0.0)
    se = discounted.std(ddof=1) / math.sqrt(discounted.size)
    assert abs(discounted.mean() - value) <= N_SE * se
    own = (args.w[0][None, :] * out[UTIL][:, 1:] * out[INDEX][:, 1:]).sum(axis=1) - args.opex_pv[0]
    gap = own - discounted
    assert abs(gap.mean()) > N_SE * gap.std(ddof=1) / math.sqrt(gap.size)


def test_a_basis_index_that_nothing_earns_changes_nothing():
    """A fleet whose basis index is neither earned nor struck on has the cash and collateral
    value of the same fleet without it at every month's end (the month's step of (chi, xi, Y)
    is the same law; the extra factor only adds a fourth row), to 1e-12."""
    contracts = [{"customer": "lab", "share": 0.5, "rate": 2.5, "end": 1.5, "default_hazard": 0.3}]
    doc = _doc("contract", contracts, valuation="income")
    with_basis = _setup(doc)
    del doc["model"]["basis_index"]
    without = _setup(doc)
    times = with_basis.times
    a = _run(with_basis, times, paths=600)
    b = _run(without, times, paths=600)
    for series in (INDEX, UTIL, CASH, VALUE):
        assert np.allclose(a[series], b[series], rtol=1e-12, atol=1e-9)


def test_an_identical_basis_index_earns_what_the_fleet_index_earns():
    """A basis index with the fleet index's level, mean reversion and short vol, shocks
    perfectly correlated with its short factor and no basis level is the fleet's index
    (without spikes): merchant revenue, income value and contracts re-let on either give the
    same cash and value, to 1e-7 of their largest (the step's covariance is singular, factored by its
    eigendecomposition, which keeps c = chi to about 1e-8)."""
    contracts = [{"customer": "lab", "share": 0.6, "rate": 2.5, "end": 2.0, "default_hazard": 0.5}]
    same = {"name": "copy", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.45, "correlation": 1.0}
    runs = {}
    for on in ("H100-spot", "copy"):
        doc = _doc("contract", contracts, valuation="income", merchant_index=on,
                   releasing={"rate": "contract-index", "index": on, "downtime_months": 1})
        doc["model"]["basis_index"] = same
        doc["model"]["index"].update(spot=2.4, spike_intensity=0.0)
        setup = _setup(doc)
        runs[on] = _run(setup, setup.times, paths=800)
    a, b = runs["H100-spot"], runs["copy"]
    assert np.allclose(a[-3], a[-1], rtol=0.0, atol=1e-7)          # c is chi on every path
    for series in (CASH, VALUE):
        assert np.max(np.abs(a[series] - b[series])) <= 1e-7 * np.max(np.abs(b[series]))


def test_re_leasing_struck_on_the_basis_index():
    """Contracts re-let on the basis index earn ratio x B from their restart: on paths where the
    customer pays to the contract's end the cash is that of re-leasing on the fleet's index,
    bit for bit; where it defaults, re-letting on a basis index twice the fleet's level earns
    more on average (by many standard errors)."""
    contracts = [{"customer": "lab", "share": 0.8, "rate": 2.0, "end": 2.0, "default_hazard": 0.6}]
    cash = {}
    for on in ("H100-spot", "H100-2x"):
        doc = _doc("contract", contracts, valuation="book",
                   releasing={"rate": "contract-index", "index": on, "contract_spot_ratio": 1.0})
        doc["model"]["basis_index"] = {"name": "H100-2x", "spot": 4.8, "mean_reversion": 3.0,
                                       "short_vol": 0.05, "basis_level": math.log(2.0), "correlation": 0.9}
        doc["model"]["index"]["spot"] = 2.4
        setup = _setup(doc)
        cash[on] = _run(setup, setup.times, paths=1000)[CASH].sum(axis=1)
    _, args = setup.model.kernel_args(setup.times, setup.market, key=seed_key(5))
    defaulted = name_default_times(0, 1000, args)[0] < 2.0
    assert 0.6 < defaulted.mean() < 0.8                 # 1 - e^{-1.2} = 0.70
    low, high = cash["H100-spot"], cash["H100-2x"]
    assert np.array_equal(high[~defaulted], low[~defaulted])
    gain = (high - low)[defaulted]
    assert gain.mean() > N_SE * gain.std(ddof=1) / math.sqrt(gain.size)


def test_same_bits_for_any_chunking():
    setup = _setup(_doc("provider", merchant_index="OCPI-H100"))
    whole = _run(setup, TIMES, paths=300)
    parts = _run(setup, TIMES, paths=300, chunk=64)
    assert np.array_equal(whole, parts)


def test_same_bits_on_one_and_two_threads():
    """The basis fleet's series and state on 1 and 2 numba threads (fresh processes)."""
    code = ("import hashlib, sys; sys.path.insert(0, 'tests'); import test_fleet_basis as t; "
            "s = t._setup(t._doc('contract', merchant_index='H100-1y')); "
            "print(hashlib.sha256(t._run(s, t.TIMES, paths=300).tobytes()).hexdigest())")
    digests = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, "NUMBA_NUM_THREADS": threads}).stdout for threads in ("1", "2")]
    assert digests[0] == digests[1] and digests[0]


def _strip(tmp_path, index: str, start: float, end: float) -> str:
    path = tmp_path / f"strip_{index}.toml"
    path.write_text(f'[instrument]\nkind = "swap"\nindex = "{index}"\nposition = "payer"\nfixed_rate = 2.4\n'
                    f'start = {start}\nmaturity = {end}\nperiod_months = 1\nprints = "daily"\n'
                    'notional = 730000\n')
    return str(path)


def test_hedging_a_fleet_that_earns_the_basis_index(tmp_path):
    """A fleet whose merchant revenue earns the contract index, hedged over a year: a strip
    on its own index removes more variance than one on spot (the basis that is left), and
    a strip paying after a six-month horizon is valued in closed form on either index."""
    doc = _doc("contract", merchant_index="H100-1y", valuation="income")
    doc["mc"] = {"paths": 3000, "seed": 4, "horizon": 2.0}
    spec = tmp_path / "fleet.json"
    spec.write_text(__import__("json").dumps(doc))
    reduction = {}
    for index in ("H100-spot", "H100-1y"):
        r = hedge(str(spec), [_strip(tmp_path, index, 0.0, 1.0)], "1").result
        reduction[index] = r["variance_reduction"]
    assert reduction["H100-1y"] > reduction["H100-spot"] + 0.02
    r = hedge(str(spec), [_strip(tmp_path, "H100-1y", 0.75, 1.0), _strip(tmp_path, "H100-spot", 0.75, 1.0)],
              "0.5").result
    assert [h["valuation"] for h in r["hedges"]] == ["conditional", "conditional"]


def test_a_candidate_must_name_an_index_of_a_fleet_with_two(tmp_path):
    doc = _doc("contract")
    spec = tmp_path / "fleet.json"
    spec.write_text(__import__("json").dumps(doc))
    with pytest.raises(SpecError, match=r"hedge\[1\]\.instrument\.index.*H100-spot, H100-1y"):
        hedge(str(spec), ["data/examples/hedges/h200_strip_q1.toml"], "1")


@pytest.mark.parametrize("change, key", [
    ({"merchant_index": "H200"}, "model.merchant_index"),
    ({"releasing": {"rate": "contract-index", "index": "nope"}}, "model.releasing.index"),
    ({"releasing": {"index": "H100-1y"}}, "model.releasing.index"),
    ({"basis_index": {**BASES["contract"], "name": "H100-spot"}}, "model.basis_index.name"),
    ({"merchant_index": "H100-1y", "basis_index": None}, "model.merchant_index"),
])
def test_bad_input_names_the_key(change, key):
    doc = _doc("contract")
    doc["model"].update(change)
    if doc["model"]["basis_index"] is None:
        del doc["model"]["basis_index"]
    with pytest.raises(SpecError) as err:
        _setup(doc)
    assert err.value.key == key
