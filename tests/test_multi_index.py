"""Several correlated indices (model.kind = "multi-index"): the joint simulation against the
closed forms of gpufin.models.multi_index (each index's E[S_t], E[ln S_t] and Var[ln S_t], the
covariances of log levels, the log basis' mean and variance) within 4 standard errors, at
four dates and three parameter sets; reproducibility across chunkings and thread counts;
pricing on one index through the single-index engines; bad input."""
import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import N_SE

import gpufin
from gpufin.errors import SpecError
from gpufin.models.multi_index import build_indices, lower_factor
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
TIMES = np.array([0.0, 0.1, 0.5, 1.0, 2.0])
PATHS = 20_000
EUROPEAN = {"kind": "european", "option": "call", "strike": 2.5, "maturity": 1.0}

# Two SKUs, no jumps, a forward curve on one index; factors (A.chi, A.xi, C.chi, C.xi).
TWO_SKUS = {"kind": "multi-index", "rate": 0.04, "indices": [
    {"name": "A", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.5, "long_vol": 0.2,
     "long_drift": -0.1, "short_factor": 0.1},
    {"name": "C", "sku": "H200", "spot": 3.4, "mean_reversion": 1.5, "short_vol": 0.4, "long_vol": 0.25,
     "forward_curve": [{"time": 0.5, "price": 3.2}, {"time": 2.0, "price": 2.9}]}],
    "correlation": [[1.0, -0.2, 0.6, 0.1], [-0.2, 1.0, 0.0, 0.7], [0.6, 0.0, 1.0, 0.3],
                    [0.1, 0.7, 0.3, 1.0]]}
# A spot index with launches (Poisson and a scheduled date) and spikes, and a contract index
# on it as a basis (its own short factor and spikes, a long-run log basis of 0.05).
SPOT_CONTRACT = {"kind": "multi-index", "rate": 0.04, "indices": [
    {"name": "spot", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.5, "long_vol": 0.2,
     "long_drift": -0.13, "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
     "launch_dates": [0.75], "spike_intensity": 0.5, "spike_jump_mean": 0.18, "spike_jump_vol": 0.1},
    {"name": "contract", "basis_of": "spot", "spot": 2.6, "mean_reversion": 4.0, "short_vol": 0.3,
     "basis_level": 0.05, "spike_intensity": 0.3, "spike_jump_mean": 0.1}],
    "correlation": [[1.0, 0.1, 0.8], [0.1, 1.0, -0.1], [0.8, -0.1, 1.0]]}
# Two providers' indices of one SKU sharing every launch (sizes of their own), and a basis
# index of the second; factors (P.chi, P.xi, Q.chi, Q.xi, R.chi).
SHARED_LAUNCHES = {"kind": "multi-index", "rate": 0.04, "indices": [
    {"name": "P", "sku": "H100", "spot": 2.4, "mean_reversion": 3.0, "short_vol": 0.6, "long_vol": 0.15,
     "launch_intensity": 1.5, "launch_jump_mean": -0.2, "launch_jump_vol": 0.1, "launch_dates": [0.3],
     "spike_intensity": 0.8, "spike_jump_mean": 0.2, "spike_jump_vol": 0.05},
    {"name": "Q", "sku": "H100", "spot": 2.0, "mean_reversion": 1.0, "short_vol": 0.35, "long_vol": 0.3,
     "launch_intensity": 1.5, "launch_jump_mean": -0.1, "launch_jump_vol": 0.2, "launch_dates": [0.3]},
    {"name": "R", "basis_of": "Q", "spot": 2.2, "mean_reversion": 5.0, "short_vol": 0.4}],
    "correlation": [[1.0, 0.0, 0.5, 0.2, 0.3], [0.0, 1.0, 0.1, 0.8, 0.0], [0.5, 0.1, 1.0, -0.1, 0.5],
                    [0.2, 0.8, -0.1, 1.0, 0.1], [0.3, 0.0, 0.5, 0.1, 1.0]]}
MODELS = {"two-skus": TWO_SKUS, "spot-contract": SPOT_CONTRACT, "shared-launches": SHARED_LAUNCHES}


def _spec(model, instrument=None, **market):
    doc = {"model": model, "market": market}
    if instrument is not None:
        doc["instrument"] = instrument
    return load_spec(doc, instrument_required=instrument is not None)


def _within(estimate, se, reference, what):
    z = (estimate - reference) / se
    assert np.all(np.abs(z) <= N_SE), f"{what}: {np.round(z, 2)} standard errors"


def _moments(x, y):
    """Sample covariance of x and y per date and its standard error."""
    dx, dy = x - x.mean(0), y - y.mean(0)
    prod = dx * dy
    return prod.mean(0), prod.std(0) / np.sqrt(x.shape[0])


@pytest.fixture(scope="module", params=list(MODELS))
def simulated(request):
    model = build_indices(_spec(MODELS[request.param]))
    return model, model.simulate(TIMES, PATHS, seed=2026)


def test_each_index_mean_log_mean_and_log_variance(simulated):
    model, paths = simulated
    t = TIMES[1:]
    for name in model.names:
        level = paths[name].level[:, 1:]
        _within(level.mean(0), level.std(0) / np.sqrt(PATHS), model.index(name).mean(t), f"E[S] {name}")
        log = np.log(level)
        _within(log.mean(0), log.std(0) / np.sqrt(PATHS), model.index(name).log_mean(t), f"E[ln S] {name}")
        var, se = _moments(log, log)
        _within(var, se, model.index(name).log_variance(t), f"Var[ln S] {name}")


def test_log_covariances_and_basis(simulated):
    model, paths = simulated
    t = TIMES[1:]
    for i, a in enumerate(model.names):
        for b in model.names[i + 1:]:
            la, lb = np.log(paths[a].level[:, 1:]), np.log(paths[b].level[:, 1:])
            cov, se = _moments(la, lb)
            _within(cov, se, model.log_covariance(a, b, t), f"Cov[ln {a}, ln {b}]")
            basis = lb - la
            _within(basis.mean(0), basis.std(0) / np.sqrt(PATHS), model.basis_mean(a, b, t), f"basis {b}/{a}")
            var, se = _moments(basis, basis)
            _within(var, se, model.basis_variance(a, b, t), f"Var basis {b}/{a}")


def test_state_gives_the_level(simulated):
    """ln S = g(t) + chi + xi with the index's own g: futures prices follow from the state."""
    model, paths = simulated
    for name in model.names:
        p = paths[name]
        shift = np.concatenate([[0.0], model.index(name).shift(TIMES[1:])])
        np.testing.assert_allclose(np.log(p.level), shift + p.chi + p.xi, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(p.chi[:, 0], model.index(name).chi0)


def test_futures_prices_from_the_state(simulated):
    """E_t[S_s] = exp(conditional_log_level(t, s) + e^{-kappa (s - t)} chi_t + xi_t) on each
    path averages to E[S_s] (the tower property), for every index."""
    model, paths = simulated
    t, s = TIMES[2], TIMES[4]
    for name in model.names:
        m, p = model.index(name), paths[name]
        state = np.exp(-m.kappa * (s - t)) * p.chi[:, 2] + p.xi[:, 2]
        futures = np.exp(m.conditional_log_level(t, s) + state)
        _within(futures.mean(), futures.std() / np.sqrt(PATHS), m.mean(s)[0], f"E[F({t}, {s})] {name}")


def test_basis_index_shares_its_base_long_factor_and_launches():
    model = build_indices(_spec(SPOT_CONTRACT))
    spot, contract = model.index("spot"), model.index("contract")
    assert contract.sigma_xi == spot.sigma_xi and contract.launch_times == spot.launch_times == (0.75,)
    assert contract.rho == -0.1 and contract.kappa == 4.0
    paths = model.simulate(TIMES, 64, seed=3)
    moved = paths["contract"].xi - paths["spot"].xi
    offset = (np.log(2.6) - contract.chi0) - (np.log(2.4) - spot.chi0)
    np.testing.assert_allclose(moved, offset, atol=1e-12)
    assert np.isclose(offset, 0.05)                 # xi_contract = xi_spot + basis_level
    long_run = 0.05 + 0.3 * 0.1 / 4.0 - 0.5 * 0.18 / 2.0    # basis_level + mean spikes
    assert np.isclose(model.basis_mean("spot", "contract", 50.0)[0], long_run)


def test_chunks_and_offsets_give_the_same_bits():
    model = build_indices(_spec(SHARED_LAUNCHES))
    whole = model.simulate(TIMES, 1000, seed=0)
    parts = [model.simulate(TIMES, n, seed=0, first_path=first) for first, n in ((0, 371), (371, 629))]
    for name in model.names:
        for field in ("level", "chi", "xi"):
            joined = np.concatenate([getattr(p[name], field) for p in parts])
            assert np.array_equal(joined, getattr(whole[name], field))


SCRIPT = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_multi_index import SHARED_LAUNCHES, TIMES, _spec
from gpufin.models.multi_index import build_indices
paths = build_indices(_spec(SHARED_LAUNCHES)).simulate(TIMES, 3000, seed=99)
digest = hashlib.sha256()
for name in sorted(paths):
    for a in (paths[name].level, paths[name].chi, paths[name].xi):
        digest.update(np.ascontiguousarray(a).tobytes())
print(digest.hexdigest())
"""


def _digest(threads: int) -> str:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=str(ROOT / "tests"))], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


def test_same_bits_on_one_and_two_threads():
    assert _digest(1) == _digest(2)


def test_single_index_model_is_one_index():
    doc = {"kind": "schwartz-smith", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.45,
           "long_vol": 0.2, "correlation": 0.3, "rate": 0.04}
    model = build_indices(_spec(doc))
    assert model.names == ("index",)
    level = model.simulate(TIMES, PATHS, seed=5)["index"].level[:, 1:]
    _within(level.mean(0), level.std(0) / np.sqrt(PATHS), model.index("index").mean(TIMES[1:]), "E[S]")


@pytest.mark.parametrize("doc", [
    {"kind": "schwartz", "spot": 2.4, "vol": 0.5, "mean_reversion": 2.0, "long_run_level": 1.8, "rate": 0.04},
    {"kind": "schwartz-smith", "spot": 2.4, "mean_reversion": 1.5, "short_vol": 0.4, "long_vol": 0.0,
     "rate": 0.04}], ids=["schwartz", "no-long-vol"])
def test_a_factor_without_noise_leaves_the_other_random(doc):
    """A long factor with no volatility makes the step covariance singular: its lower factor
    still draws the short factor, whose variance and the level's mean are the closed forms."""
    model = build_indices(_spec(doc))
    paths = model.simulate(TIMES, PATHS, seed=9)["index"]
    marginal = model.index("index")
    t = TIMES[1:]
    var, se = _moments(paths.chi[:, 1:], paths.chi[:, 1:])
    _within(var, se, marginal.log_variance(t), "Var[chi]")
    level = paths.level[:, 1:]
    _within(level.mean(0), level.std(0) / np.sqrt(PATHS), marginal.mean(t), "E[S]")


def test_lower_factor_of_a_singular_covariance():
    cov = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]])
    low = lower_factor(cov)
    assert np.allclose(low @ low.T, cov, atol=1e-14) and np.all(np.triu(low, 1) == 0.0)


FUTURE = {"kind": "future", "maturity": 1.0, "window_days": 30}


@pytest.mark.parametrize("model, name, instrument", [(SPOT_CONTRACT, "contract", FUTURE),
                                                    (SPOT_CONTRACT, "spot", FUTURE),
                                                    (TWO_SKUS, "C", EUROPEAN)], ids=["contract", "spot", "C"])
def test_an_instrument_prices_on_its_index_marginal(model, name, instrument):
    """Pricing on index k of the model equals pricing on a schwartz-smith spec of its
    marginal (with the index's forward curve as market.forward_curve)."""
    index = next(ix for ix in model["indices"] if ix["name"] == name)
    m = build_indices(_spec(model)).index(name)
    single = {"kind": "schwartz-smith", "spot": m.spot, "mean_reversion": m.kappa, "short_vol": m.sigma_chi,
              "long_vol": m.sigma_xi, "correlation": m.rho, "long_drift": m.mu_xi, "short_factor": m.chi0,
              "launch_intensity": m.launch_intensity, "launch_jump_mean": m.launch_mean,
              "launch_jump_vol": m.launch_vol, "launch_dates": list(m.launch_times),
              "spike_intensity": m.spike_intensity, "spike_jump_mean": m.spike_mean,
              "spike_jump_vol": m.spike_vol, "rate": 0.04}
    analytic = {"method": "analytic"}
    joint = gpufin.price({"instrument": {**instrument, "index": name}, "model": model, "mc": analytic})
    alone = gpufin.price({"instrument": instrument, "model": single, "mc": analytic,
                          "market": {"forward_curve": index.get("forward_curve", [])}})
    assert joint["value"] == pytest.approx(alone["value"], rel=1e-12) and joint["value"] != 0.0


def test_spec_and_model_pickle():
    spec = _spec(SPOT_CONTRACT, {**EUROPEAN, "index": "contract"})
    again = pickle.loads(pickle.dumps(spec))
    assert again.model.priced == 1 and again.model.spot == 2.6
    model = build_indices(spec)
    assert pickle.loads(pickle.dumps(model)) == model


def _with(model, path, value):
    doc = copy.deepcopy(model)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


NOT_PSD = [[1.0, 0.1, 0.95], [0.1, 1.0, 0.9], [0.95, 0.9, 1.0]]
BAD = [
    (_with(SPOT_CONTRACT, ["correlation"], NOT_PSD), EUROPEAN | {"index": "spot"}, "model.correlation",
     "not positive semi-definite"),
    (_with(SPOT_CONTRACT, ["correlation"], [[1.0, 0.2], [0.2, 1.0]]), None, "model.correlation",
     "expected 3 rows"),
    (_with(SPOT_CONTRACT, ["correlation"], [[1.0, 0.2, 0.0], [0.1, 1.0, 0.0], [0.0, 0.0, 1.0]]), None,
     "model.correlation", "not symmetric"),
    (_with(SPOT_CONTRACT, ["correlation"], [[1.0, 0.0, 0.0], [0.0, 0.9, 0.0], [0.0, 0.0, 1.0]]), None,
     "model.correlation", "diagonal"),
    (SPOT_CONTRACT, EUROPEAN | {"index": "H100-1y"}, "instrument.index",
     "got 'H100-1y'; expected one of spot, contract"),
    (SPOT_CONTRACT, EUROPEAN, "instrument.index", "missing"),
    (_with(SPOT_CONTRACT, ["indices", 1, "basis_of"], "other"), None, "model.indices[1].basis_of", "got 'other'"),
    (_with(SPOT_CONTRACT, ["indices", 1, "long_vol"], 0.1), None, "model.indices[1].long_vol", "basis index"),
    (_with(SHARED_LAUNCHES, ["indices", 1, "launch_intensity"], 1.0), None,
     "model.indices[1].launch_intensity", "same SKU 'H100'"),
    (_with(SPOT_CONTRACT, ["indices", 1, "name"], "spot"), None, "model.indices[1].name", "twice"),
]


@pytest.mark.parametrize("model, instrument, key, text", BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_bad_input_is_one_line_naming_the_key(model, instrument, key, text):
    with pytest.raises(SpecError) as err:
        _spec(model, instrument)
    assert err.value.key == key and text in err.value.problem and "\n" not in str(err.value)


def test_index_on_a_single_index_model_and_a_second_forward_curve():
    with pytest.raises(SpecError, match="instrument.index: got 'spot'; expected one of index"):
        _spec({"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}, EUROPEAN | {"index": "spot"})
    with pytest.raises(SpecError, match="^market.forward_curve: a multi-index model"):
        _spec(SPOT_CONTRACT, None, forward_curve=[{"time": 1.0, "price": 2.0}])
