"""Credit risk of a loan book (gpufin.loanbook.risk) against closed forms.

The reference book: 100 equal bullet loans on a one-factor Gaussian copula (default by the
horizon when sqrt(rho) Z + sqrt(1 - rho) e_i <= Phi^-1(p)), loss_i = LGD x 1{default} per unit
of exposure. Its exact finite-pool loss distribution is a binomial mixture integrated over Z
(Gauss-Hermite, 200 nodes); the large-pool (Vasicek) quantile differs from it by the
granularity of 100 names, which the first-order granularity adjustment (Gordy 2004, Martin and
Wilde 2002) predicts to within one loss step LGD / 100 (the finite pool's quantile lies on that
grid). Monte Carlo estimates must lie within 4 standard errors of the exact figures, from numpy
draws and from the book's own kernel (one fleet with 100 contracted customers loading on the
credit factor: 100 customer default times per path from one run).
"""
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gpufin.errors import SpecError
from gpufin.loanbook import risk
from gpufin.loanbook.joint import simulate_book
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
NAMES, PD, LGD, PATHS, LEVEL = 100, 0.02, 0.6, 20_000, 0.99
TOLERANCE = 4.0          # standard errors


def copula_losses(rho: float, paths: int, seed: int, n: int = NAMES, pd_: float = PD, lgd: float = LGD):
    """[paths, n] losses per unit of exposure and the default indicators of the reference book."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((paths, 1))
    defaulted = math.sqrt(rho) * z + math.sqrt(1 - rho) * rng.standard_normal((paths, n)) <= stats.norm.ppf(pd_)
    return lgd / n * defaulted, defaulted


def conditional_pd(rho: float, z):
    return stats.norm.cdf((stats.norm.ppf(PD) - math.sqrt(rho) * z) / math.sqrt(1 - rho))


def kernel_losses(rho: float, paths: int, seed: int):
    """The reference book from gpufin.loanbook.joint: a fleet whose 100 customers default at a
    flat hazard -ln(1 - PD) (so P(tau <= 1) = PD) with loading sqrt(rho) on the credit factor,
    taken over one year; loss_i = LGD / NAMES x 1{tau_i <= 1}."""
    doc = read_document(ROOT / "data" / "books" / "specs" / "h100_merchant.toml")
    doc["model"].pop("platform")
    doc["model"]["contracts"] = [{"customer": f"c{i:03d}", "share": 0.0099, "rate": 2.0, "end": 3.0,
                                  "default_hazard": -math.log(1 - PD)} for i in range(NAMES)]
    doc["model"]["credit"] = {"loading": math.sqrt(rho), "horizon": 1.0}
    defaulted = simulate_book([("pool", load_spec(doc))], paths, seed).customer_default_time <= 1.0
    return LGD / NAMES * defaulted, defaulted


def finite_pool(rho: float) -> np.ndarray:
    """P(K = k), k = 0..NAMES, of the reference book: a binomial mixture over Z."""
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    p = conditional_pd(rho, z)
    return np.array([np.sum(w * stats.binom.pmf(k, NAMES, p)) for k in range(NAMES + 1)])


def exact_var_es(pk: np.ndarray, level: float) -> tuple[float, float]:
    """VaR and ES (ES = the mean of the quantile function above `level`) of loss LGD K / NAMES."""
    cdf = np.cumsum(pk)
    below = np.concatenate([[0.0], cdf[:-1]])
    losses = LGD * np.arange(NAMES + 1) / NAMES
    var = float(losses[np.searchsorted(cdf, level - 1e-12)])
    mass = np.clip(np.minimum(cdf, 1.0) - np.maximum(below, level), 0.0, None)
    return var, float(np.sum(losses * mass) / (1 - level))


def vasicek_quantile(rho: float, level: float) -> float:
    """The large-pool loss quantile LGD Phi((Phi^-1(p) + sqrt(rho) Phi^-1(level)) / sqrt(1 - rho))."""
    return LGD * float(conditional_pd(rho, -stats.norm.ppf(level)))


def granularity_adjustment(rho: float, level: float, h: float = 1e-4) -> float:
    """-(1 / 2 phi(x)) d/dx [phi(x) v(x) / mu'(x)] at x = Phi^-1(level), X = -Z, mu(x) the
    conditional loss and v(x) = LGD^2 p(x) (1 - p(x)) / NAMES its conditional variance."""
    def mu(x):
        return LGD * conditional_pd(rho, -x)

    def g(x):
        p = mu(x) / LGD
        slope = (mu(x + h) - mu(x - h)) / (2 * h)
        return stats.norm.pdf(x) * LGD ** 2 * p * (1 - p) / NAMES / slope
    x = stats.norm.ppf(level)
    return -(g(x + h) - g(x - h)) / (2 * h) / (2 * stats.norm.pdf(x))


@pytest.mark.parametrize("draws", [copula_losses, kernel_losses], ids=["numpy", "kernel"])
@pytest.mark.parametrize("rho, seed", [(0.12, 11), (0.24, 12)])
def test_homogeneous_book_against_the_finite_pool_and_vasicek(rho, seed, draws):
    loss, defaulted = draws(rho, PATHS, seed)
    m = risk.loss_measures(loss.sum(axis=1), LEVEL)
    pk = finite_pool(rho)
    var, es = exact_var_es(pk, LEVEL)
    assert abs(m["var"] - var) <= TOLERANCE * m["var_stderr"]
    assert abs(m["es"] - es) <= TOLERANCE * m["es_stderr"]
    assert abs(m["expected_loss"] - PD * LGD) <= TOLERANCE * m["expected_loss_stderr"]
    # the large-pool quantile misses the 100-name book by its granularity, as predicted
    step = LGD / NAMES
    predicted = vasicek_quantile(rho, LEVEL) + granularity_adjustment(rho, LEVEL)
    assert 0.0 <= var - predicted < step
    assert abs(m["var"] - predicted) <= TOLERANCE * m["var_stderr"] + step
    # P(k or more defaults) against the mixture
    counts = risk.default_counts(defaulted, 20)
    exact = 1.0 - np.concatenate([[0.0], np.cumsum(pk)])[counts["k"]]
    assert np.all(np.abs(counts["probability"] - exact) <= TOLERANCE * counts["probability_stderr"] + 1e-12)


@pytest.mark.parametrize("rho", [0.12, 0.24])
def test_the_large_pool_quantile_misses_100_names_by_their_granularity(rho):
    """Why the test above compares with the finite pool: the large-pool quantile is more than a
    loss step (and more than its first-order granularity adjustment's error) below it."""
    var, _ = exact_var_es(finite_pool(rho), LEVEL)
    gap = var - vasicek_quantile(rho, LEVEL)
    assert gap > LGD / NAMES
    assert abs(gap - granularity_adjustment(rho, LEVEL)) < LGD / NAMES < gap


@pytest.mark.parametrize("rho", [0.12, 0.24])
def test_standard_errors_match_the_spread_over_seeds(rho):
    """The delta-method errors of VaR and ES and the EL error against the standard deviation of
    the estimates over 40 independent runs (a ratio within 0.6-1.6, the sampling range of 40
    runs with room for the errors' own noise)."""
    runs = [risk.loss_measures(copula_losses(rho, 4000, 100 + s)[0].sum(axis=1), LEVEL) for s in range(40)]
    for key in ("expected_loss", "var", "es"):
        spread = np.std([r[key] for r in runs], ddof=1)
        reported = np.mean([r[f"{key}_stderr"] for r in runs])
        assert 0.6 < reported / spread < 1.6, (key, reported, spread)


SHARES = ({"lab": 0.9}, {"lab": 0.5, "hyper": 0.5}, {"hyper": 1.0}, {}, {"lab": 0.3}, {"hyper": 0.6, "lab": 0.2})


def sample_paths(paths: int = 4000, seed: int = 3) -> SimpleNamespace:
    """A BookPaths-shaped record of six loans of unequal sizes on a Gaussian copula."""
    exposure = np.array([100.0, 80.0, 60.0, 40.0, 30.0, 20.0])
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((paths, 1))
    x = 0.5 * z + math.sqrt(0.75) * rng.standard_normal((paths, 6))
    default_time = np.where(x <= stats.norm.ppf(0.08), -np.log(rng.uniform(size=(paths, 6))) * 3.0, np.inf)
    lgd = rng.uniform(0.2, 0.8, size=(paths, 6))
    loss = np.where(np.isfinite(default_time), lgd * exposure, 0.0)
    return SimpleNamespace(
        ids=("a", "b", "c", "d", "e", "f"), loss=loss, loss_horizon=np.where(default_time <= 1.0, loss, 0.0),
        default_time=default_time, exposure=exposure, loan_platform=("p1", "p1", "p2", "p2", None, "p1"),
        loan_sku=("H100", "H200", "B200", "H100", "H200", "B200"), loan_customer_shares=SHARES, first_path=0,
        seed=seed, horizon=1.0)


@pytest.mark.parametrize("level", [0.95, 0.99, 0.999])
@pytest.mark.parametrize("horizon", [None, 1.0])
def test_contributions_add_up_to_es(level, horizon):
    paths = sample_paths()
    result, table = risk.credit_risk(paths, level, horizon)
    es = result["es"]
    assert es > 0
    for by in ("loan", "customer", "platform", "sku"):
        total = table.loc[table["by"] == by, "es_contribution_usd"].sum()
        assert abs(total - es) <= 1e-9 * es, by
        assert table.loc[table["by"] == by, "es_share"].sum() == pytest.approx(1.0, abs=1e-9)
    assert (table["es_contribution_usd_stderr"] >= 0).all()


def test_customer_split_and_group_weights():
    assert risk.customer_weights({"lab": 0.6, "hyper": 0.3}) == pytest.approx(
        {"lab": 0.6, "hyper": 0.3, risk.MERCHANT: 0.1})
    # GPU-years: 0.9 for years 0-2 then 0.9 for 2-4 of a 5-year loan, and a renewal of 0.5
    # (0-3, then 3-6, cut at the loan's end) to one customer
    shares = risk.gpu_year_shares([("a", 0.9, 0.0, 2.0), ("b", 0.9, 2.0, 4.0)], 5.0)
    assert shares == pytest.approx({"a": 0.36, "b": 0.36})
    assert risk.customer_weights(shares) == pytest.approx({"a": 0.36, "b": 0.36, risk.MERCHANT: 0.28})
    assert risk.gpu_year_shares([("a", 0.5, 0.0, 3.0), ("a", 0.5, 3.0, 6.0)], 5.0) == pytest.approx({"a": 0.5})
    with pytest.raises(SpecError, match="instrument.maturity"):
        risk.gpu_year_shares([("a", 0.5, 0.0, 3.0)], 0.0)
    names, w = risk.groupings(SHARES, ["p1", None, "p1", "p2", "p2", "p1"], ["H100"] * 6)["platform"]
    assert names == [risk.NO_PLATFORM, "p1", "p2"]
    assert w.sum(axis=1) == pytest.approx(np.ones(6))


def test_a_loan_alone_in_the_tail_takes_the_whole_es():
    loss = np.zeros((100, 3))
    loss[7, 1] = 50.0
    contribution = risk.euler(loss, 0.99)
    assert list(contribution) == [0.0, 50.0, 0.0]


def test_concentration_and_default_counts():
    paths = sample_paths()
    result, table = risk.credit_risk(paths, 0.99, 1.0)
    # exposure by customer: lab 90 + 40 + 9 + 4 = 143, hyper 40 + 60 + 12 = 112, of 330
    assert result["largest_customer_exposure"] == "lab"
    assert result["largest_customer_exposure_share"] == pytest.approx(143.0 / 330.0)
    assert result["largest_platform_exposure"] == "p1"
    assert result["largest_platform_exposure_share"] == pytest.approx(200.0 / 330.0)
    defaults = pd.DataFrame(result["defaults"])
    horizon_defaults = (paths.default_time <= 1.0).sum(axis=1)
    assert defaults["probability"].iloc[0] == pytest.approx(np.mean(horizon_defaults >= 1))
    assert defaults["probability"].is_monotonic_decreasing
    assert [d["horizon"] for d in result["distribution"]] == ["1y", "life"]


def test_scenario_changes_come_from_common_paths():
    base = sample_paths()
    stressed = SimpleNamespace(**{**vars(base), "loss": base.loss + np.array([0, 0, 0, 0, 0, 10.0])})
    table = risk.scenario_table(base, {"p9": stressed}, 0.99, None)
    assert list(table["scenario"]) == ["base", "p9"]
    assert table["el_change_usd"].tolist() == pytest.approx([0.0, 10.0])
    assert table["el_change_usd_stderr"].tolist() == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize("text, years", [("1Y", 1.0), ("6M", 0.5), ("life", None), ("LIFE", None)])
def test_horizon(text, years):
    assert risk.parse_horizon(text) == years


@pytest.mark.parametrize("bad", ["0Y", "1.5Y", "forever", ""])
def test_bad_horizon_and_level(bad):
    with pytest.raises(SpecError, match="--horizon"):
        risk.parse_horizon(bad)
    with pytest.raises(SpecError, match="--level"):
        risk.check_level(1.0)
    with pytest.raises(SpecError, match="--paths"):
        risk.loss_measures(np.ones(10), 0.99)


def test_a_book_without_tail_losses_has_zero_shares_and_valid_json():
    """ES = 0 (no loss on any path): every es_share is 0.0, and the JSON has no NaN."""
    paths = sample_paths(400)
    paths.loss = np.zeros_like(paths.loss)
    paths.loss_horizon = np.zeros_like(paths.loss)
    result, table = risk.credit_risk(paths, 0.99, 1.0)
    assert result["es"] == 0.0 and (table["es_share"] == 0.0).all()
    json.dumps({**result, "contributions": table.to_dict(orient="records")}, allow_nan=False)


def test_var_is_the_q99_of_its_row():
    m = risk.loss_measures(sample_paths(2000).loss.sum(axis=1), 0.99)
    assert m["var"] == m["q99"]
