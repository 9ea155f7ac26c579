"""gpufin.hedge: hedge quantities and effectiveness on common paths.

References: a forward hedged with the future on its own index and window (ratio 1, R^2 1,
no residual); correlated Gaussian exposures, and two indices of a multi-index model with
lognormal levels (minimum-variance ratio rho sigma_x / sigma_h, variance reduction rho^2,
from the closed-form moments); the law of iterated expectations for the horizon's
closed-form conditional values; the optimizer's quantities against perturbations of
themselves; the loan engine's value for a loan on an index model."""
import json
import math
import os
import pickle
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import gpufin
from gpufin.engines.collateral import build_collateral, fleet_chunks
from gpufin.engines.montecarlo import build_index_set, index_chunks
from gpufin.engines.tail import tail_measures
from gpufin.errors import SpecError
from gpufin.hedge import analytics
from gpufin.hedge.exposure import _index_only, build_exposure, chunks
from gpufin.hedge.paths import grid_with
from gpufin.hedge.positions import load_candidates
from gpufin.hedge.run import hedge
from gpufin.hedge.values import lay_out, path_values
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.multi_index import build_indices
from gpufin.spec.reader import load_spec

N_SE = 4.0
TWO_FACTOR = {"kind": "schwartz-smith", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.45,
              "long_vol": 0.2, "correlation": -0.3, "long_drift": -0.13}
GBM = {"kind": "gbm", "spot": 3.4, "vol": 0.5}
MARKET = {"valuation_date": "2026-07-01", "curve": {"kind": "flat", "rate": 0.04}}
NON_IG = "data/deals/non_ig_ddtl.toml"
STRIPS = [f"data/examples/hedges/h200_strip_q{q}.toml" for q in (1, 2, 3, 4)]


def _write(tmp_path, name: str, doc: dict) -> str:
    """A spec document as a JSON file."""
    path = tmp_path / name.replace(".toml", ".json")
    path.write_text(json.dumps(doc))
    return str(path)


def _forward(tmp_path, model: dict, month: str, paths: int = 20_000) -> str:
    return _write(tmp_path, "forward.toml", {
        "model": model, "market": MARKET, "mc": {"paths": paths, "seed": 7},
        "instrument": {"kind": "future", "delivery_month": month, "strike": 2.2, "style": "forward",
                       "notional": 1000.0}})


@pytest.mark.parametrize("model, month, horizon", [
    (TWO_FACTOR, "2027-03", "3M"), (TWO_FACTOR, "2027-02", "0.5"), (GBM, "2027-01", "1M")])
def test_forward_hedged_with_its_future_is_perfect(tmp_path, model, month, horizon):
    exposure = _forward(tmp_path, model, month)
    future = _write(tmp_path, "future.toml", {"instrument": {
        "kind": "future", "delivery_month": month, "style": "futures", "notional": 1000.0}})
    r = hedge(exposure, [future], horizon).result
    assert r["hedges"][0]["quantity"] == pytest.approx(-1.0, abs=1e-9)
    assert r["hedges"][0]["valuation"] == "conditional"
    assert r["r2"] == pytest.approx(1.0, abs=1e-12)
    assert r["slope"] == pytest.approx(-1.0, abs=1e-9)
    assert r["dollar_offset"] == pytest.approx(1.0, abs=1e-9)
    unhedged, hedged = r["risk"]
    assert hedged["variance"] <= 1e-20 * unhedged["variance"]
    assert r["residual_share"] <= 1e-9 and r["highly_effective"]


@pytest.mark.parametrize("rho, sigma_x, sigma_h", [(0.8, 2.0, 1.0), (-0.5, 1.0, 3.0), (0.3, 5.0, 0.5)])
def test_gaussian_basis_ratio_and_reduction(rho, sigma_x, sigma_h):
    """Exposure and hedge jointly Gaussian: q = -rho sigma_x / sigma_h, reduction rho^2."""
    n = 40_000
    z = np.random.default_rng(17).standard_normal((n, 2))
    h = sigma_h * z[:, 0]
    x = sigma_x * (rho * z[:, 0] + math.sqrt(1.0 - rho * rho) * z[:, 1])
    (q,) = analytics.min_variance(x, h[:, None])
    q_se = sigma_x * math.sqrt(1.0 - rho * rho) / (sigma_h * math.sqrt(n))
    assert abs(q + rho * sigma_x / sigma_h) <= N_SE * q_se
    m = analytics.measures(x, h[:, None], np.array([q]))
    assert abs(m["variance_reduction"] - rho * rho) <= N_SE * m["r2_stderr"]
    assert abs(m["r2"] - m["variance_reduction"]) < 1e-9        # one hedge at its optimum
    assert abs(m["slope"] + rho * rho) <= N_SE * m["slope_stderr"]      # q cov(h, x) / var(x)
    es_exact = sigma_x * math.sqrt(1.0 - rho * rho) * 2.665214220345806    # phi(z99) / 1%
    assert abs(m["hedged"]["es"] - es_exact) <= N_SE * m["hedged"]["es_stderr"]


def _objective(name, x, h, q):
    pnl = x + h @ q
    return analytics.variance(pnl)[0] if name == "variance" else _es(pnl)


def _es(pnl):
    """The 99% ES of the loss -pnl."""
    return tail_measures(-pnl, analytics.ES_LEVEL)["es"]


@pytest.mark.parametrize("name", ["variance", "es"])
def test_optimum_beats_perturbations(name):
    """Two candidates and a fat-tailed exposure: every +-10% move of the quantities (one at a
    time and together) does worse on the objective."""
    rng = np.random.default_rng(5)
    n = 4000
    f = rng.standard_normal((n, 2))
    h = np.column_stack([f[:, 0], 0.5 * f[:, 0] + f[:, 1]])
    x = -1.5 * f[:, 0] + 0.7 * f[:, 1] + rng.standard_t(3, n) - 2.0 * np.maximum(-f[:, 0] - 1.5, 0.0)
    q = analytics.min_variance(x, h) if name == "variance" else analytics.min_es(x, h)
    best = _objective(name, x, h, q)
    for move in ([1.1, 1.0], [0.9, 1.0], [1.0, 1.1], [1.0, 0.9], [1.1, 1.1], [0.9, 0.9]):
        assert best < _objective(name, x, h, q * np.array(move))


def test_es_programme_is_the_sample_es():
    """The LP's optimum is the sample ES of the hedged loss (worst 1% of paths)."""
    rng = np.random.default_rng(9)
    h = rng.standard_normal((3000, 1))
    x = -2.0 * h[:, 0] + rng.standard_t(4, 3000)
    q = analytics.min_es(x, h)
    grid = np.linspace(q[0] - 0.3, q[0] + 0.3, 61)
    values = [_es(x + h[:, 0] * g) for g in grid]
    assert _es(x + h @ q) <= min(values) + 1e-9


def _two_indices(basis: bool, rho_short: float, rho_long: float) -> dict:
    """A two-index model without jumps: B on its own factors, or a basis index of A."""
    a = {"name": "A", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.45, "long_vol": 0.2}
    if basis:
        b = {"name": "B", "basis_of": "A", "spot": 2.5, "mean_reversion": 4.0, "short_vol": 0.22}
        corr = [[1.0, 0.0, rho_short], [0.0, 1.0, 0.0], [rho_short, 0.0, 1.0]]
    else:
        b = {"name": "B", "spot": 3.4, "mean_reversion": 1.5, "short_vol": 0.35, "long_vol": 0.25}
        corr = [[1.0, 0.0, rho_short, 0.0], [0.0, 1.0, 0.0, rho_long],
                [rho_short, 0.0, 1.0, 0.0], [0.0, rho_long, 0.0, 1.0]]
    return {"kind": "multi-index", "indices": [a, b], "correlation": corr}


def _print_at(index: str) -> dict:
    """A forward on one print of `index` at 2027-01-01, paid then: S(h) at the horizon."""
    return {"kind": "future", "index": index, "maturity": "2027-01-01", "window_days": 1,
            "style": "forward", "notional": 1000.0}


@pytest.mark.parametrize("basis, rho_short, rho_long", [(True, 0.8, 0.0), (True, 0.3, 0.0), (False, 0.6, 0.7),
                                                        (False, -0.4, 0.5)])
def test_basis_hedge_ratio_and_reduction(tmp_path, basis, rho_short, rho_long):
    """S_B(h) hedged with S_A(h) on a two-index model: with lognormal levels, the ratio is
    -rho sigma_x / sigma_h = -Cov(S_B, S_A) / Var(S_A) and the reduction rho^2, from
    m = E[S], v = Var[ln S] and c = Cov[ln S_A, ln S_B]: Cov(S_A, S_B) = m_A m_B (e^c - 1)."""
    model = _two_indices(basis, rho_short, rho_long)
    exposure = _write(tmp_path, "exposure.toml", {"model": model, "market": MARKET,
                                                  "mc": {"paths": 40_000, "seed": 5}, "instrument": _print_at("B")})
    candidate = _write(tmp_path, "hedge.toml", {"instrument": _print_at("A")})
    run = hedge(exposure, [candidate], "6M")
    s = load_spec(exposure)
    indices = build_indices(s)
    t = run.result["horizon_years"]
    m_a, m_b = (float(indices.index(n).mean(t)[0]) for n in "AB")
    v_a, v_b = (float(indices.index(n).log_variance(t)[0]) for n in "AB")
    c = float(indices.log_covariance("A", "B", t)[0])
    cov = m_a * m_b * math.expm1(c)
    rho = cov / math.sqrt(m_a ** 2 * math.expm1(v_a) * m_b ** 2 * math.expm1(v_b))
    (q,) = run.quantities
    h = run.hedges[:, 0]
    resid = run.exposure + q * h
    q_se = resid.std() / (h.std() * math.sqrt(h.size))
    assert abs(q + cov / (m_a ** 2 * math.expm1(v_a))) <= N_SE * q_se
    assert abs(run.result["variance_reduction"] - rho * rho) <= N_SE * run.result["r2_stderr"]


JUMPS = {**TWO_FACTOR, "launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1,
         "spike_intensity": 0.5, "spike_jump_mean": 0.18, "spike_jump_vol": 0.1}


@pytest.mark.parametrize("model, horizon, month", [(TWO_FACTOR, 0.25, "2027-01"), (TWO_FACTOR, 0.5, "2027-06"),
                                                   (JUMPS, 0.4, "2027-03"), (GBM, 0.3, "2026-12")])
def test_conditional_value_is_the_conditional_expectation(model, horizon, month):
    """On the same paths the pathwise payoff minus the horizon's closed-form value has mean zero
    and no covariance with it (E[payoff | path to h] = the closed form), jumps included."""
    s = load_spec({"model": model, "market": MARKET, "mc": {"paths": 40_000, "seed": 3},
                   "instrument": {"kind": "future", "delivery_month": month, "style": "forward"}})
    market = build_market(s.market, None, s.timeline)
    indices = build_index_set(s, market)
    plan = build_plan(s.instrument, s.model.spot, s.timeline)
    grid = grid_with(plan.event_times(), horizon)
    conditional = lay_out(plan, "index", market, grid, horizon, "instrument")
    pathwise = replace(conditional, conditional=False)
    cond, path = [], []
    for _, paths, horizons in index_chunks(indices, market, grid, horizon, s.mc.paths, s.mc.seed):
        cond.append(path_values(conditional, paths, horizons))
        path.append(path_values(pathwise, paths, horizons))
    cond, path = np.concatenate(cond), np.concatenate(path)
    noise = path - cond
    n = noise.size
    assert abs(noise.mean()) <= N_SE * noise.std() / math.sqrt(n)
    product = (noise - noise.mean()) * (cond - cond.mean())
    assert abs(product.mean()) <= N_SE * product.std() / math.sqrt(n)


def test_fleet_index_is_the_loans_path_by_path():
    """The fleet's index on the hedge's grid is the loan's index at the dates both have."""
    s = load_spec(NON_IG, ["mc.paths=64"])
    collateral = build_collateral(s)
    loan_grid = np.arange(13) / 12.0
    hedge_grid = np.union1d(loan_grid, np.arange(1, 366) / 365.0)
    (_, on_loan), = fleet_chunks(collateral.model, collateral.market, loan_grid, 64, 2026, None)
    (_, on_hedge), = fleet_chunks(_index_only(collateral.model), collateral.market, hedge_grid, 64, 2026, None)
    assert np.array_equal(on_loan[0], on_hedge[0][:, np.searchsorted(hedge_grid, loan_grid)])


def test_non_ig_deal_minimum_es_hedge():
    """The shipped non-IG deal with the 12-month H200 strip: the minimum-ES hedge lowers the
    99% ES of the lender's P&L (in sample it cannot raise it: no hedge is a feasible choice)."""
    run = hedge(NON_IG, STRIPS, "1Y", "es", ["mc.paths=2000"])
    r = run.result
    assert r["exposure"] == "loan" and len(r["hedges"]) == 4
    unhedged, hedged = r["risk"]
    assert (unhedged["position"], hedged["position"]) == ("unhedged", "hedged")
    assert hedged["es"] <= unhedged["es"] * (1.0 + 1e-12)          # to rounding
    assert hedged["expected_loss"] == pytest.approx(unhedged["expected_loss"], rel=1e-9, abs=1e-3)
    assert max(hedged["pd"], unhedged["pd"]) <= r["payment_pd"]      # losses on payment defaults


def test_candidate_on_another_model(tmp_path):
    exposure = _forward(tmp_path, TWO_FACTOR, "2027-03", paths=1000)
    other = _write(tmp_path, "other.toml", {
        "model": {**TWO_FACTOR, "spot": 2.5}, "market": MARKET,
        "instrument": {"kind": "future", "delivery_month": "2027-03"}})
    with pytest.raises(SpecError, match=r"^hedge\[1\]\.model: got spot = 2.5 .*expected the exposure's model"):
        hedge(exposure, [other], "3M")


def test_horizon_after_every_maturity(tmp_path):
    exposure = _forward(tmp_path, TWO_FACTOR, "2026-09", paths=1000)
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "delivery_month": "2026-08"}})
    with pytest.raises(SpecError, match=r"^--horizon: got '1Y' .*every position has paid by"):
        hedge(exposure, [future], "1Y")


def test_loan_on_an_index_model(tmp_path):
    """A loan on an index model runs its waterfall on the hedge's paths: its value is the
    loan engine's (other paths, the same law) within 4 standard errors of the difference."""
    doc = {"model": {**GBM, "rate": 0.04}, "market": MARKET, "mc": {"paths": 20_000, "seed": 9},
           "instrument": {"kind": "loan", "principal": 2.6, "maturity": 2.0, "coupon": 0.06,
                          "payment_frequency": "6M", "ltv_trigger": 1.0, "liquidation_haircut": 0.1,
                          "liquidation_lag": 0.25}}
    exposure = _write(tmp_path, "loan.toml", doc)
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "delivery_month": "2027-06"}})
    r = hedge(exposure, [future], "1Y").result
    alone = gpufin.price(doc)
    se = math.hypot(r["exposure_value_usd_stderr"], alone["stderr"])
    assert abs(r["exposure_value_usd"] - alone["value"]) <= N_SE * se
    assert r["hedges"][0]["quantity"] < 0.0 < r["hedges"][0]["correlation"]     # sell the index
    assert r["payment_pd"] > 0.0


def test_same_bits_on_one_and_two_threads_and_pickles(tmp_path):
    """A hedge gives the same bits on 1 and 2 numba threads, and its run pickles."""
    exposure = _forward(tmp_path, JUMPS, "2027-03", paths=3000)
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "delivery_month": "2027-01"}})
    code = ("import json, sys; from gpufin.hedge.run import hedge; "
            f"r = hedge({exposure!r}, [{future!r}], '3M', 'es'); "
            "print(json.dumps([r.quantities.tolist(), r.exposure.tolist()[:50], r.result['risk']]))")
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_NUM_THREADS": threads}).stdout
               for threads in ("1", "2")]
    assert outputs[0] == outputs[1]
    run = hedge(exposure, [future], "3M")
    again = pickle.loads(pickle.dumps(run))
    assert again.result == run.result and np.array_equal(again.hedges, run.hedges)


@pytest.mark.parametrize("objective", ["variance", "es"])
def test_merchant_loan_optimum_beats_perturbations(objective):
    """On the merchant H100 loan (index-sensitive: sweep and monthly LTV test) the strip's
    quantities beat every +-10% move of each of them on the objective, on the run's own paths."""
    run = hedge("data/deals/merchant_fleet.toml", STRIPS, "1Y", objective, ["mc.paths=2000"])
    x, h, q = run.exposure, run.hedges, run.quantities
    best = _objective(objective, x, h, q)
    for k in range(q.size):
        for factor in (0.9, 1.1):
            moved = q.copy()
            moved[k] *= factor
            assert best <= _objective(objective, x, h, moved) + 1e-9 * abs(best)
    assert best < _objective(objective, x, h, np.zeros_like(q))


def test_state_settled_candidates(tmp_path):
    """An option on a future and a residual-value put as candidates: valued by their payoff on
    the index's simulated state, their mean is their closed-form price within 4 standard
    errors; a gpu-fleet's paths carry the state too, so they are valued there as well."""
    exposure = _forward(tmp_path, JUMPS, "2027-06", paths=40_000)
    option = {"kind": "future-option", "option": "put", "strike": 2.0, "expiry": "2027-03-31",
              "delivery_month": "2027-04", "notional": 1000.0}
    put = {"kind": "residual-put", "strike": 15_000.0, "maturity": 2.0, "residual_value": 16_000.0,
           "notional": 10.0}
    files = [_write(tmp_path, f"{n}.toml", {"instrument": ins}) for n, ins in (("option", option), ("put", put))]
    option_row, put_row = hedge(exposure, files, "6M").result["hedges"]
    assert option_row["valuation"] == put_row["valuation"] == "pathwise"
    # the option: no closed form with spikes, so gpufin.price's Monte Carlo on other paths
    alone = gpufin.price({"model": JUMPS, "market": MARKET, "instrument": option,
                          "mc": {"paths": 200_000, "seed": 4}})
    assert abs(option_row["value"] - alone["value"]) <= N_SE * math.hypot(option_row["stderr"], alone["stderr"])
    exact = gpufin.price({"model": JUMPS, "market": MARKET, "instrument": put})
    assert exact["method"] == "analytic"
    assert abs(put_row["value"] - exact["value"]) <= N_SE * put_row["stderr"]
    on_fleet = hedge(NON_IG, [files[0]], "1Y", overrides=["mc.paths=100"]).result["hedges"][0]
    assert on_fleet["valuation"] == "pathwise" and on_fleet["value"] > 0.0


@pytest.mark.parametrize("objective", ["variance", "es"])
def test_dependent_candidates_are_dropped(objective):
    """A duplicate and an exact combination of two candidates are dropped (quantity 0) and the
    rest is the optimum on the independent candidates alone; the ES programme no longer fails
    on the line of optima that duplicates make."""
    rng = np.random.default_rng(21)
    n = 3000
    f = rng.standard_normal((n, 2))
    x = -1.2 * f[:, 0] + 0.4 * f[:, 1] + rng.standard_t(4, n)
    h = np.column_stack([f[:, 0], f[:, 0], f[:, 1], 2.0 * f[:, 0] - 3.0 * f[:, 1]])
    q, dropped = analytics.hedge_quantities(x, h, objective)
    assert dropped == [1, 3]
    assert q[1] == q[3] == 0.0
    alone = analytics.hedge_quantities(x, h[:, [0, 2]], objective)[0]
    assert np.allclose(q[[0, 2]], alone, rtol=1e-9, atol=1e-12)
    assert _objective(objective, x, h, q) <= _objective(objective, x, h, q + 0.1 * np.array([0, 0, 1, 0])) + 1e-12


def test_es_programme_failure_is_not_blamed_on_the_objective(monkeypatch):
    """A solver failure is reported as the programme's, not as a bad --objective."""
    rng = np.random.default_rng(3)
    h = rng.standard_normal((500, 1))
    monkeypatch.setattr(analytics, "linprog", lambda *a, **k: type("R", (), {"success": False,
                                                                          "message": "stub"})())
    with pytest.raises(RuntimeError, match="minimum-ES programme did not solve") as err:
        analytics.min_es(-h[:, 0], h)
    assert "--objective" not in str(err.value)


@pytest.mark.parametrize("paths", [2, 99])
def test_too_few_paths_are_refused_up_front(tmp_path, paths):
    exposure = _forward(tmp_path, GBM, "2027-03", paths=paths)
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "delivery_month": "2027-01"}})
    with pytest.raises(SpecError, match=rf"^--paths: got {paths}; expected at least 100 paths"):
        hedge(exposure, [future], "3M")


def test_a_hedge_file_that_is_no_derivative_names_its_position_and_file(tmp_path):
    exposure = _forward(tmp_path, GBM, "2027-03", paths=200)
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "delivery_month": "2027-01"}})
    with pytest.raises(SpecError, match=r"^hedge\[2\]\.instrument: missing table in data/examples/fleet.toml"):
        hedge(exposure, [future, "data/examples/fleet.toml"], "3M")


@pytest.mark.parametrize("valuation_date, horizon, years, start", [
    ("2026-07-01", "2027-01-01", 184 / 365, None), (None, "2026-04-01", 90 / 365, "2026-01-01"),
    (None, "3M", 90 / 365, "2026-01-01"), ("2026-07-01", "0.25", 0.25, None)])
def test_horizon_as_a_date_or_tenor(tmp_path, valuation_date, horizon, years, start):
    """An ISO date counts from the valuation date; without one, a date or tenor counts from the
    default start, which the result names (`horizon_from`)."""
    market = {"curve": MARKET["curve"], **({"valuation_date": valuation_date} if valuation_date else {})}
    exposure = _write(tmp_path, "forward.toml", {
        "model": GBM, "market": market, "mc": {"paths": 200, "seed": 7},
        "instrument": {"kind": "future", "maturity": 2.0, "strike": 2.2, "style": "forward", "notional": 1.0}})
    future = _write(tmp_path, "future.toml", {"instrument": {"kind": "future", "maturity": 1.5}})
    r = hedge(exposure, [future], horizon).result
    assert r["horizon_years"] == pytest.approx(years, rel=1e-12)
    assert r.get("horizon_from") == start


def test_pathwise_candidates_with_cash_after_the_horizon_are_reported(tmp_path):
    """An option paying after the horizon is valued pathwise and listed as attenuated; one that
    pays before it, and a future valued in closed form, are not."""
    exposure = _forward(tmp_path, GBM, "2027-06", paths=500)
    files = [_write(tmp_path, f"{name}.toml", {"instrument": ins}) for name, ins in (
        ("late", {"kind": "european", "option": "call", "strike": 3.4, "maturity": "9M", "notional": 1000.0}),
        ("early", {"kind": "european", "option": "call", "strike": 3.4, "maturity": "2M", "notional": 1000.0}),
        ("future", {"kind": "future", "delivery_month": "2027-03", "notional": 1000.0}))]
    r = hedge(exposure, files, "3M").result
    assert r["attenuated"] == [files[0]]
    assert [row["valuation"] for row in r["hedges"]] == ["pathwise", "pathwise", "conditional"]
    assert "attenuates" in r["hedges"][0]["note"] and r["hedges"][1]["note"] == r["hedges"][2]["note"] == ""


@pytest.mark.parametrize("noise", [0.5, 1.0, 2.0])
def test_noise_in_a_candidate_attenuates_its_quantity(noise):
    """Why `attenuated` is reported: the exposure -h and the candidate h + e (e independent
    noise, as a pathwise value's after the horizon) give q = var(h) / (var(h) + var(e)),
    not 1; noise in the exposure instead leaves q = 1. Within 4 standard errors of the
    regression slope."""
    rng = np.random.default_rng(8)
    n = 20_000
    h, e = rng.standard_normal(n), noise * rng.standard_normal(n)
    (q,) = analytics.min_variance(-h, (h + e)[:, None])
    slope_se = noise / ((1.0 + noise ** 2) * math.sqrt(n))     # residual sd / (sd(h + e) sqrt(n))
    assert abs(q - 1.0 / (1.0 + noise ** 2)) <= N_SE * slope_se
    (q,) = analytics.min_variance(-h + e, h[:, None])
    assert abs(q - 1.0) <= N_SE * noise / math.sqrt(n)


FLEET = "data/examples/fleet.toml"
Q4 = STRIPS[3]          # months 10 to 12: after a 6-month horizon
CURVED_FLEET = {"model": {"kind": "gpu-fleet", "gpus": 1000, "index": {"launch_dates": [0.5, 0.8]}},
                "mc": {"paths": 4000, "seed": 12, "horizon": 2.0},
                "market": {"curve": {"kind": "flat", "rate": 0.04}, "valuation_date": "2026-07-01",
                           "forward_curve": [{"time": 0.5, "price": 2.1}, {"time": 2.0, "price": 1.4}]}}


def _fleet_candidate(spec, horizon: float, paths: int):
    """On a fleet's cash exposure (spec: a path or a dict) with the strip quarter Q4 at
    `horizon` years: the candidate's conditional and pathwise values per path as the hedge
    computes them, the plan, the fleet setup and the seed."""
    s = load_spec(spec, [f"mc.paths={paths}"], instrument_required=False)
    exposure = build_exposure(s, {})
    candidate, = load_candidates([Q4], exposure.indices, exposure.model_doc, exposure.market_doc)
    grid = grid_with(candidate.plan.event_times(), horizon)
    laid = lay_out(candidate.plan, candidate.index, candidate.market, grid, horizon, "hedge[1].instrument")
    assert laid.conditional
    values = [(path_values(laid, c.paths, c.horizons), path_values(replace(laid, conditional=False), c.paths,
                                                                   c.horizons))
              for c in chunks(exposure, grid, horizon, paths, s.mc.seed)]
    cond, path = (np.concatenate(v) for v in zip(*values))
    return cond, path, candidate.plan, grid, exposure.detail, s.mc.seed


@pytest.mark.parametrize("spec, horizon", [(FLEET, 0.5), (CURVED_FLEET, 0.6)])
def test_fleet_candidate_is_valued_in_closed_form_at_the_horizon(spec, horizon):
    """On a gpu-fleet's paths a swap strip paying after the horizon is valued in closed form:
    per path, TwoFactor's futures price E_h[S_t] = exp(L(h, t) + e^{-kappa (t - h)} chi_h + xi_h)
    from the state the fleet kernel writes (exp(g + chi + xi) the index at h); over paths its
    mean is the strip's value on E[S_t] (TwoFactor.mean, closed form, jumps included) within 4
    standard errors; the pathwise payoff less it has mean zero (iterated expectations)."""
    paths = 4000
    cond, path, plan, grid, setup, seed = _fleet_candidate(spec, horizon, paths)
    index = setup.model.index
    (_, out), = fleet_chunks(setup.model, setup.market, grid, paths, seed, None, state=True)
    at = int(np.searchsorted(grid, horizon))
    chi, xi = out[-2][:, at], out[-1][:, at]
    assert np.allclose(np.exp(index.shift(horizon)[0] + chi + xi), out[0][:, at], rtol=1e-12, atol=0.0)
    expected = np.zeros(paths)
    unconditional = 0.0
    for p in plan.periods:
        times = np.asarray(p.print_times)
        assert times.min() > horizon
        futures = np.exp(index.conditional_log_level(horizon, times)[None, :]
                         + np.exp(-index.kappa * (times - horizon))[None, :] * chi[:, None] + xi[:, None])
        df = setup.market.discount(np.array([p.pay_time]))[0]
        expected += df * p.omega * ((p.known_sum + futures.sum(axis=1)) / p.total_prints - p.strike)
        unconditional += df * p.omega * ((p.known_sum + index.mean(times).sum()) / p.total_prints - p.strike)
    assert np.allclose(cond, plan.notional * expected, rtol=1e-12, atol=1e-9 * plan.notional)
    se = cond.std(ddof=1) / math.sqrt(paths)
    assert abs(cond.mean() - plan.notional * unconditional) <= N_SE * se
    noise = path - cond
    assert abs(noise.mean()) <= N_SE * noise.std(ddof=1) / math.sqrt(paths)
    r = hedge(spec, [Q4], str(horizon), overrides=[f"mc.paths={paths}"]).result
    assert r["hedges"][0]["valuation"] == "conditional" and r["attenuated"] == []
    assert r["hedges"][0]["note"] == ""
    assert r["hedges"][0]["value"] == pytest.approx(cond.mean(), rel=1e-12)


def test_fleet_quantity_is_not_attenuated():
    """The minimum-variance quantity on a fleet's cash is the regression on the closed-form
    conditional values; the pathwise values' noise is uncorrelated with the exposure (known at
    the horizon), so their quantity is the same one attenuated by var(conditional) /
    var(pathwise), within 4 standard errors of that relation's noise."""
    paths = 4000
    run = hedge(FLEET, [Q4], "0.5", overrides=[f"mc.paths={paths}"])
    cond, path, *_ = _fleet_candidate(FLEET, 0.5, paths)
    x = run.exposure
    (q_cond,) = analytics.min_variance(x, (cond - cond.mean())[:, None])
    assert run.quantities[0] == pytest.approx(q_cond, rel=1e-9)
    (q_path,) = analytics.min_variance(x, (path - path.mean())[:, None])
    assert q_cond < 0.0 and abs(q_path) < abs(q_cond)
    # q = -cov(x, h) / var(h), so q_path var(P) - q_cond var(C) = -cov(x, P - C): 0 within
    # N_SE standard errors
    noise = path - cond
    product = (x - x.mean()) * (noise - noise.mean())
    gap = q_path * path.var() - q_cond * cond.var()
    assert gap == pytest.approx(-product.mean(), rel=1e-6, abs=1e-9 * abs(q_cond) * cond.var())
    assert abs(gap) <= N_SE * product.std(ddof=1) / math.sqrt(paths)
    assert cond.var() / path.var() < 0.95          # the attenuation the closed form removes


def test_fleet_hedge_same_bits_on_one_and_two_threads():
    """A hedge of a fleet's cash with a candidate valued at the horizon from the fleet kernel's
    state gives the same bits on 1 and 2 numba threads."""
    code = ("import json; from gpufin.hedge.run import hedge; "
            f"r = hedge({FLEET!r}, [{Q4!r}], '0.5', 'es', ['mc.paths=600']); "
            "print(json.dumps([r.quantities.tolist(), r.exposure.tolist()[:50], r.hedges[:50].tolist(), "
            "r.result['risk'], r.result['hedges']]))")
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_NUM_THREADS": threads}).stdout
               for threads in ("1", "2")]
    assert outputs[0] == outputs[1] and outputs[0]
