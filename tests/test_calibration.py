"""Schwartz-Smith calibration: the Kalman likelihood against the dense Gaussian density,
recovery of known parameters from a simulated history, identification errors, and the
`gpufin calibrate` command end to end."""
import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gpufin
from gpufin.errors import SpecError
from gpufin.models.calibration import select_history
from gpufin.models.calibration_mle import calibrate, log_likelihood
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]

# A design the likelihood identifies well: kappa 10/yr (half-life 25 days) and sigma_xi 0.4
# leave enough low frequencies in 2,500 prints (about 19 years) to separate the two factors.
# rho is held at its true value: one price series only identifies
# sigma_chi^2 + 2 rho sigma_chi sigma_xi. Over 30 seeds of this design, 29 fits put every
# estimate within 3 standard errors; the other gives sigma_xi = 0 (the pile-up at the
# boundary), which the next tests show is reported as such.
TRUE = {"kappa": 10.0, "sigma_chi": 0.5, "sigma_xi": 0.4, "rho": 0.3, "mu_xi": -0.25,
        "sigma_eps": 0.02}
N_OBS = 2500
SEED = 0


def simulate(n, seed, p, spot=2.4, start="2000-01-03"):
    """Exact Schwartz-Smith transition on dates 1-3 business days apart, plus noise."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([[0], np.cumsum(rng.integers(1, 4, size=n - 1))])
    dates = np.busday_offset(np.datetime64(start), steps, roll="forward")
    dt = np.diff(dates.astype(np.int64)) / 365.0
    k, sc, sx, r = p["kappa"], p["sigma_chi"], p["sigma_xi"], p["rho"]
    chi = rng.normal(0.0, sc / math.sqrt(2.0 * k))
    xi = math.log(spot) - chi
    y = np.empty(n)
    y[0] = chi + xi
    for i, h in enumerate(dt, start=1):
        v_chi = sc ** 2 * (1.0 - math.exp(-2.0 * k * h)) / (2.0 * k)
        cov = r * sc * sx * (1.0 - math.exp(-k * h)) / k
        a11 = math.sqrt(v_chi)
        a21 = cov / a11
        a22 = math.sqrt(sx ** 2 * h - a21 ** 2)
        z1, z2 = rng.standard_normal(2)
        chi = math.exp(-k * h) * chi + a11 * z1
        xi = xi + p["mu_xi"] * h + a21 * z1 + a22 * z2
        y[i] = chi + xi
    y += p["sigma_eps"] * rng.standard_normal(n)
    return pd.DataFrame({"date": pd.to_datetime(dates), "level_usd_per_gpu_hour": np.exp(y)})


@pytest.fixture(scope="module")
def history():
    return simulate(N_OBS, SEED, TRUE)


@pytest.fixture(scope="module")
def fit(history):
    return calibrate(history, fixed={"rho": TRUE["rho"]})


def dense_log_likelihood(frame, p):
    """log density of y_i - y_0 from the covariance of the model written out in full."""
    days = frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    t = (days - days[0]) / 365.0
    y = np.log(frame["level_usd_per_gpu_hour"].to_numpy())
    k, sc, sx, r = p["kappa"], p["sigma_chi"], p["sigma_xi"], p["rho"]
    ti, tj = t[:, None], t[None, :]
    cov = (sc ** 2 / (2 * k) * np.exp(-k * np.abs(ti - tj)) + sx ** 2 * np.minimum(ti, tj)
           + p["sigma_eps"] ** 2 * np.eye(t.size))
    cross = r * sc * sx * (np.exp(-k * (ti - np.minimum(ti, tj))) - np.exp(-k * ti)) / k
    cov = cov + cross + cross.T              # Cov(chi_s, sigma_xi W2_t) and its transpose
    diff = np.hstack([-np.ones((t.size - 1, 1)), np.eye(t.size - 1)])
    c = diff @ cov @ diff.T
    resid = y[1:] - y[0] - p["mu_xi"] * t[1:]
    _, logdet = np.linalg.slogdet(c)
    return -0.5 * (resid @ np.linalg.solve(c, resid) + logdet + resid.size * math.log(2 * math.pi))


@pytest.mark.parametrize("p", [TRUE, {"kappa": 0.7, "sigma_chi": 0.3, "sigma_xi": 0.25,
                                      "rho": -0.6, "mu_xi": 0.1, "sigma_eps": 0.08}])
def test_kalman_likelihood_is_the_dense_gaussian_density(p):
    frame = simulate(60, 5, TRUE)
    kalman = log_likelihood(frame["date"], frame["level_usd_per_gpu_hour"], p)
    assert kalman == pytest.approx(dense_log_likelihood(frame, p), rel=1e-10, abs=1e-9)


def test_recovers_true_parameters_within_three_standard_errors(fit):
    assert fit.n_obs == N_OBS and fit.fixed == ("rho",)
    for name, truth in TRUE.items():
        if name == "rho":
            assert fit.estimates[name] == truth and fit.stderr[name] is None
            continue
        se = fit.stderr[name]
        assert math.isfinite(se) and se > 0.0, name
        assert abs(fit.estimates[name] - truth) <= 3.0 * se, (
            f"{name}: {fit.estimates[name]:.4g} vs {truth} ({se:.3g} se)")


def test_optimum_beats_the_true_parameters(fit, history):
    truth = log_likelihood(history["date"], history["level_usd_per_gpu_hour"], TRUE)
    assert fit.loglik >= truth
    assert fit.loglik == pytest.approx(
        log_likelihood(history["date"], history["level_usd_per_gpu_hour"], fit.estimates),
        abs=1e-9)


def test_fixed_parameter_stays_exact(fit, history):
    held = calibrate(history, fixed={"rho": TRUE["rho"], "mean_reversion": 7.5})
    assert held.estimates["kappa"] == 7.5 and held.stderr["kappa"] is None
    assert held.fixed == ("kappa", "rho")
    assert held.model_table()["mean_reversion"] == 7.5
    assert held.loglik <= fit.loglik + 1e-6      # a restriction cannot raise the maximum


def test_filtered_states_and_model_table(fit, history):
    assert fit.chi.shape == fit.xi.shape == (N_OBS,)
    assert fit.start_date.isoformat() == "2000-01-03"
    resid = fit.log_levels - fit.chi - fit.xi
    assert np.std(resid) < 2.0 * TRUE["sigma_eps"]
    table = fit.model_table()
    assert table["spot"] == pytest.approx(history["level_usd_per_gpu_hour"].iloc[-1])
    assert table["short_factor"] == fit.chi[-1]
    assert fit.model_table(spot=2.4)["spot"] == 2.4
    spec = load_spec({"model": table, "instrument": {"kind": "european", "option": "call",
                                                     "strike": table["spot"], "maturity": 0.5},
                      "market": {"curve": {"kind": "flat", "rate": 0.04}}})
    result = gpufin.price(spec)
    assert result["value"] > 0.0 and result["model"] == "schwartz-smith"


def test_rho_is_fixed_at_zero_unless_given(history):
    """rho and sigma_chi enter the likelihood only through sigma_chi^2 + 2 rho sigma_chi sigma_xi."""
    fit = calibrate(history)
    assert fit.estimates["rho"] == 0.0 and fit.stderr["rho"] is None
    explicit = calibrate(history, fixed={"rho": 0.0})
    assert fit.loglik == explicit.loglik
    assert calibrate(history, fixed={"rho": 0.3}).estimates["rho"] == 0.3


def test_one_factor_history_asks_for_sigma_xi_fixed():
    # Histories from the one-factor model (sigma_xi = 0) put the maximum at sigma_xi = 0 in
    # 26 of 30 seeds of this design; this seed is one of them.
    one_factor = dict(TRUE, kappa=3.0, sigma_xi=0.0, rho=0.0)
    frame = simulate(800, 1, one_factor)
    with pytest.raises(SpecError) as err:
        calibrate(frame, fixed={"rho": 0.0})
    assert err.value.key == "history"
    assert "sigma_xi" in err.value.problem and "--fix sigma_xi=0" in err.value.problem
    fit = calibrate(frame, fixed={"rho": 0.0, "sigma_xi": 0.0})
    for name in ("kappa", "sigma_chi", "mu_xi", "sigma_eps"):
        assert abs(fit.estimates[name] - one_factor[name]) <= 3.0 * fit.stderr[name], name


def test_too_short_a_history_is_refused():
    frame = simulate(6, 2, TRUE)
    with pytest.raises(SpecError) as err:
        calibrate(frame, fixed={"rho": 0.3})
    assert err.value.key == "history"
    assert "6 observations for 5 free parameters" in err.value.problem


def test_repeated_dates_and_bad_levels_are_refused(history):
    repeated = pd.concat([history.iloc[:50], history.iloc[[10]]])
    with pytest.raises(SpecError, match="appears 2 times"):
        calibrate(repeated, fixed={"rho": 0.3})
    bad = history.iloc[:50].copy()
    bad.loc[7, "level_usd_per_gpu_hour"] = 0.0
    with pytest.raises(SpecError, match="positive"):
        calibrate(bad, fixed={"rho": 0.3})
    with pytest.raises(SpecError, match="kappa"):
        calibrate(history, fixed={"kappa": -1.0})
    with pytest.raises(SpecError, match="unknown parameter"):
        calibrate(history, fixed={"theta": 1.0})


def test_select_history_by_sku_and_basis(history):
    frame = history.iloc[:10].copy()
    frame["sku"] = ["H100", "H200"] * 5
    frame["basis"] = "spot"
    assert list(select_history(frame, sku="H200")["sku"]) == ["H200"] * 5
    with pytest.raises(SpecError, match="choose one with --sku"):
        select_history(frame)
    with pytest.raises(SpecError, match="holds H100, H200"):
        select_history(frame, sku="B200")
    with pytest.raises(SpecError, match="no sku column"):
        select_history(history, sku="H100")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "calibrate", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_cli_writes_model_plot_and_json(history, tmp_path):
    path = tmp_path / "history.csv"
    history.to_csv(path, index=False, date_format="%Y-%m-%d")
    out = run_cli("history.csv", "--method", "mle", "--fix", "rho=0.3", "--format", "json",
                  "--out", "m.toml", "--plot", "fit.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n_obs"] == N_OBS and report["fixed"] == ["rho"]
    assert set(report["estimates"]) == set(TRUE) and report["stderr"]["rho"] is None
    model = tomllib.loads((tmp_path / "m.toml").read_text())["model"]
    assert model == pytest.approx(report["model"]) and model["kind"] == "schwartz-smith"
    spec = load_spec({"model": model, "instrument": {"kind": "european", "option": "put",
                                                     "strike": 1.0, "maturity": "6M"},
                      "market": {"valuation_date": "2026-07-01",
                                 "curve": {"kind": "flat", "rate": 0.04}}})
    assert gpufin.price(spec)["value"] > 0.0
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.png", "history.csv", "m.toml"]


def test_cli_mle_keeps_the_single_series_rules(tmp_path):
    shipped = str(ROOT / "data" / "rental_history.csv")
    out = run_cli(shipped, "--method", "mle", "--sku", "H100", "--basis", "list", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr == ("error: history: 4 observations for 5 free parameters; expected at least 5 "
                          "per free parameter (25): give a longer history or fix parameters with "
                          "--fix NAME=VALUE\n")
    out = run_cli(shipped, "--method", "mle", "--basis", "list", "--basis", "spot", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: --basis: got list, spot; --method mle")


def test_cli_default_is_the_posterior_mode_with_a_plot(tmp_path):
    shipped = str(ROOT / "data" / "rental_history.csv")
    out = run_cli(shipped, "--format", "json", "--plot", "fit.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["base"] == "spot" and report["sku"] == "H100" and report["n_obs"] == 15
    assert report["parameters"][0]["name"] == "kappa" and "sigma_eps" in report["moved_by_data"]
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_file_is_one_line_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,level_usd_per_gpu_hour\n2026-01-02,2.4\n2026-01-05,-1\n")
    out = run_cli("bad.csv", "--out", "m.toml", "--plot", "fit.png", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert "bad.csv" in out.stderr and "Traceback" not in out.stderr and out.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
