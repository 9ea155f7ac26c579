"""Calibration to quotes on several price bases (gpufin.models.calibration_bases): the Kalman
likelihood against the dense Gaussian density of the stacked quotes, recovery of known
parameters from an exact simulation, the prior with no data, bad input, and `gpufin
calibrate` on the shipped quotes, with a future priced on the model it writes."""
import math
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gpufin
from gpufin.errors import SpecError
from gpufin.market.data import load_history
from gpufin.models.calibration_bases import (
    LEVEL_MEAN,
    LEVEL_SD,
    Quotes,
    calibrate_history,
    calibrate_quotes,
    log_likelihood,
    make_quotes,
    parameter_priors,
)
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "rental_history.csv"

# Two designs. A: three bases, 600 quotes over 8 years; B: two bases, 400 quotes over 4 years,
# with a correlation. Parameters the data barely identify sit near their prior centres. Over
# seeds 0-29, every parameter whose posterior sd fell below half its prior sd was within 3
# reported sds of the truth in 28 fits of A and 29 of B; each miss is a basis offset (3.0-3.2
# sds), whose sd leaves out most of the uncertainty of the basis's mean reversion (the
# Laplace approximation). Seed 1 is one of the passing fits of both.
DESIGN_A = ({"kappa": 3.0, "sigma_chi": 0.5, "sigma_xi": 0.25, "rho": 0.0, "mu_xi": -0.25,
             "sigma_eps": 0.05},
            {"contract-1y": (4.0, 0.3, 0.1), "list": (3.5, 0.5, 0.5)}, 600, 8.0)
DESIGN_B = ({"kappa": 1.5, "sigma_chi": 0.35, "sigma_xi": 0.3, "rho": 0.3, "mu_xi": -0.1,
             "sigma_eps": 0.1},
            {"contract-1y": (6.0, 0.4, -0.2)}, 400, 4.0)


def truth_of(common, bases) -> dict:
    out = dict(common)
    for b, (k, s, c) in bases.items():
        out.update({f"kappa[{b}]": k, f"sigma[{b}]": s, f"offset[{b}]": c})
    return out


def simulate(seed, common, bases, n, years, level=2.4):
    """Quotes on random days and random bases (`spot` the base) from the exact Gaussian
    transition of (chi, xi) and of each basis's OU between consecutive quote dates."""
    rng = np.random.default_rng(seed)
    names = ["spot", *bases]
    days = np.sort(rng.integers(0, int(years * 365), size=n))
    which = rng.integers(0, len(names), size=n)
    t = (days - days[0]) / 365.0
    k, sc, sx, r = (common[x] for x in ("kappa", "sigma_chi", "sigma_xi", "rho"))
    chi, xi = rng.normal(0.0, sc / math.sqrt(2 * k)), math.log(level)
    b = {j: rng.normal(0.0, s / math.sqrt(2 * bk)) for j, (bk, s, _) in bases.items()}
    y, prev = np.empty(n), 0.0
    for i in range(n):
        h, prev = t[i] - prev, t[i]
        if h > 0:
            c12 = r * sc * sx * -math.expm1(-k * h) / k
            cov = np.array([[sc ** 2 * -math.expm1(-2 * k * h) / (2 * k), c12], [c12, sx ** 2 * h]])
            z = np.linalg.cholesky(cov) @ rng.standard_normal(2)
            chi, xi = math.exp(-k * h) * chi + z[0], xi + common["mu_xi"] * h + z[1]
            for j, (bk, s, _) in bases.items():
                b[j] = (math.exp(-bk * h) * b[j]
                        + s * math.sqrt(-math.expm1(-2 * bk * h) / (2 * bk)) * rng.standard_normal())
        name = names[which[i]]
        y[i] = chi + xi + (0.0 if name == "spot" else b[name] + bases[name][2])
    y += common["sigma_eps"] * rng.standard_normal(n)
    dates = np.datetime64("2020-01-01") + days.astype("timedelta64[D]")
    return make_quotes(dates, np.exp(y), [names[w] for w in which], "spot")


def dense_log_likelihood(quotes, p):
    """log N(y; mean, cov) with the covariance of every pair of quotes written out."""
    t = quotes.years
    k, sc, sx, r = p["kappa"], p["sigma_chi"], p["sigma_xi"], p["rho"]
    ti, tj = t[:, None], t[None, :]
    lo = np.minimum(ti, tj)
    cov = (sc ** 2 / (2 * k) * np.exp(-k * np.abs(ti - tj)) + LEVEL_SD ** 2 + sx ** 2 * lo
           + p["sigma_eps"] ** 2 * np.eye(t.size))
    cross = r * sc * sx * (np.exp(-k * (ti - lo)) - np.exp(-k * ti)) / k   # Cov(chi_s, xi_t)
    cov = cov + cross + cross.T
    mean = LEVEL_MEAN + p["mu_xi"] * t
    for j, b in enumerate(quotes.bases[1:], start=1):
        on = (quotes.basis == j).astype(float)
        bk, bs = p[f"kappa[{b}]"], p[f"sigma[{b}]"]
        cov = cov + np.outer(on, on) * bs ** 2 / (2 * bk) * np.exp(-bk * np.abs(ti - tj))
        mean = mean + on * p[f"offset[{b}]"]
    resid = quotes.log_levels - mean
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (resid @ np.linalg.solve(cov, resid) + logdet + t.size * math.log(2 * math.pi))


@pytest.mark.parametrize("design,seed,rho", [(DESIGN_A, 1, 0.4), (DESIGN_B, 2, -0.5)])
def test_kalman_likelihood_is_the_dense_gaussian_density(design, seed, rho):
    common, bases, _, _ = design
    quotes = simulate(seed, common, bases, 40, 1.0)
    same_day = quotes.dates[1:] == quotes.dates[:-1]
    assert same_day.any()                 # quotes sharing a date are part of the check
    p = dict(truth_of(common, bases), rho=rho)
    assert log_likelihood(quotes, p) == pytest.approx(dense_log_likelihood(quotes, p), abs=1e-9)


@pytest.mark.parametrize("design", [DESIGN_A, DESIGN_B], ids=["A", "B"])
def test_recovers_identified_parameters_within_three_standard_errors(design):
    common, bases, n, years = design
    fit = calibrate_quotes(simulate(1, common, bases, n, years))
    truth = truth_of(common, bases)
    identified = [r for r in fit.rows if r.posterior_sd < 0.5 * r.prior_sd]
    names = {r.name for r in identified}
    assert {"sigma_eps", *(f"offset[{b}]" for b in bases), *(f"sigma[{b}]" for b in bases)} <= names
    for r in identified:
        assert abs(r.posterior - truth[r.name]) <= 3.0 * r.posterior_sd, (
            f"{r.name}: {r.posterior:.4g} vs {truth[r.name]} ({r.posterior_sd:.3g} sd)")
        assert r.status == "moved by data"


def test_with_no_quotes_the_mode_is_the_prior():
    bases = ("spot", "contract-1y", "list")
    fit = calibrate_quotes(Quotes(bases, np.array([], dtype="datetime64[D]"),
                                  np.array([], dtype=np.int64), np.array([])))
    priors = parameter_priors(bases)
    assert [r.name for r in fit.rows] == list(priors)
    for r in fit.rows:
        assert r.posterior == pytest.approx(priors[r.name].centre, abs=1e-6), r.name
        assert r.posterior_sd == pytest.approx(r.prior_sd, rel=1e-3), r.name
        assert r.status == "prior"
    assert fit.moved() == []


def test_fixed_parameters_stay_exact():
    common, bases, _, years = DESIGN_B
    fit = calibrate_quotes(simulate(0, common, bases, 60, years), fixed={"kappa": 1.5, "rho": 0.3})
    rows = {r.name: r for r in fit.rows}
    assert fit.estimates["kappa"] == 1.5 and rows["kappa"].status == "fixed"
    assert rows["rho"].posterior_sd is None and fit.model_table()["correlation"] == 0.3


def test_shipped_quotes_fit_and_report():
    fit = calibrate_history(load_history(SHIPPED), source="rental_history.csv")
    assert fit.sku == "H100" and fit.base == "spot" and fit.n_obs == 15
    assert fit.counts == {"spot": 1, "contract-1y": 3, "index": 4, "list": 4, "on-demand": 1,
                          "reserved-1y": 1, "reserved-3y": 1}
    assert "sigma_eps" in fit.moved() and "kappa" not in fit.moved()
    for r in fit.rows:
        assert r.posterior_sd > 0.0 and r.status in ("prior", "moved by data")
    assert pickle.loads(pickle.dumps(fit)).rows == fit.rows
    only = calibrate_history(load_history(SHIPPED), bases=("contract-1y", "index"))
    assert only.base == "index" and only.bases == ("index", "contract-1y")   # index: 4 quotes


@pytest.mark.parametrize("kwargs,key,text", [
    ({"bases": ("forward",)}, "--basis", "got 'forward'"),
    ({"base": "forward"}, "--base", "got 'forward'"),
    ({"bases": ("index",), "base": "spot"}, "--base", "expected one of the chosen bases"),
    ({"sku": "H300"}, "--sku", "got 'H300'"),
    ({"bases": ("spot",)}, "history", "1 quote in"),
    ({"fixed": {"kappa": -2.0}}, "fixed.kappa", "mean reversion > 0"),
])
def test_bad_selections_are_one_line_errors(kwargs, key, text):
    with pytest.raises(SpecError) as err:
        calibrate_history(load_history(SHIPPED), **kwargs)
    assert err.value.key == key and text in err.value.problem
    assert "\n" not in str(err.value)


def test_a_non_positive_level_is_refused():
    frame = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-02-01"]),
                          "level_usd_per_gpu_hour": [2.4, 0.0], "basis": ["spot", "list"]})
    with pytest.raises(SpecError, match="level 0.0 on 2026-02-01; expected a positive"):
        calibrate_history(frame)


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "calibrate", *args],
                          check=False, capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def written_model(tmp_path_factory):
    """`gpufin calibrate` on the shipped quotes: its CSV lines and the [model] it wrote."""
    folder = tmp_path_factory.mktemp("calibrate")
    out = run_cli(str(SHIPPED), "--out", "m.toml", "--format", "csv", cwd=folder)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines(), tomllib.loads((folder / "m.toml").read_text())["model"]


def test_cli_on_shipped_quotes_writes_a_model_that_prices_a_future(written_model):
    (header, *rows), model = written_model
    assert header == "parameter,spec_key,prior,prior_sd,posterior,posterior_sd,unit,fit"
    assert len(rows) == 6 + 3 * 6 and rows[0].startswith("kappa,mean_reversion,2.0,")
    assert model["kind"] == "schwartz-smith" and 1.5 < model["spot"] < 4.0
    spec = load_spec({"model": model, "instrument": {"kind": "future", "delivery_month": "2026-12",
                                                     "strike": 2.2, "notional": 1000},
                      "market": {"valuation_date": "2026-07-01",
                                 "curve": {"kind": "flat", "rate": 0.04}}})
    result = gpufin.price(spec)
    assert math.isfinite(result["value"]) and result["futures_price"] > 0.0


def test_the_written_model_drives_a_fleet_simulation(written_model):
    _, model = written_model
    doc = tomllib.loads((ROOT / "data" / "examples" / "fleet.toml").read_text())
    doc["model"]["index"] = {k: v for k, v in model.items() if k != "kind"} | {
        "launch_intensity": 0.0, "spike_intensity": 0.0}
    doc["mc"] = dict(doc.get("mc", {}), paths=200)
    sim = gpufin.simulate(doc)
    index = sim.quantiles[sim.quantiles["series"] == "index"]
    assert index["q50"].iloc[0] == pytest.approx(model["spot"])
    assert np.isfinite(index["q95"]).all()


def test_cli_unknown_basis_is_one_line_error(tmp_path):
    out = run_cli(str(SHIPPED), "--basis", "forward", "--out", "m.toml", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: --basis: got 'forward'") and out.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
