"""VaR moves from the book's own models, and scenario revaluation on shared paths.

The default index moves of `portfolio var` are each SKU's model's own S_h / S_0: checked
against the lognormal moments of GBM and the closed-form E[S_h] of Schwartz-Smith (launch
jumps and spikes included) within 4 standard errors, at two horizons each. The overrides give
the lognormal moves of the previous default, number for number. Scenario and bump values from
price_moved (one model, all moves) equal the full revaluation of each moved document to
rounding, position by position."""
import math

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from gpufin import var_book
from gpufin.engines.analytic import black_array, closed_form, closed_form_moves
from gpufin.engines.pricing import per_unit_factor, price_many
from gpufin.errors import SpecError
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.index import build_model, with_forward_curve
from gpufin.portfolio import positions
from gpufin.portfolio.scenarios import var_moves
from gpufin.risk.bumps import apply_scenario, shift_rates
from gpufin.spec.book import load_book
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec
from test_portfolio import write_book

GBM = {"model.kind": "gbm", "model.spot": 2.4, "model.vol": 0.5, "model.rate": 0.04}
SS = {"model.kind": "schwartz-smith", "model.spot": 3.4, "model.mean_reversion": 2.0, "model.short_vol": 0.45,
      "model.long_vol": 0.2, "model.long_drift": -0.13, "model.short_factor": 0.1,
      "model.launch_intensity": 1.0, "model.launch_jump_mean": -0.16, "model.launch_jump_vol": 0.1,
      "model.spike_intensity": 0.5, "model.spike_jump_mean": 0.18, "model.spike_jump_vol": 0.1,
      "model.rate": 0.04}
FUTURE = {"instrument.kind": "future", "instrument.maturity": 0.5, "instrument.notional": 1000}
N = 20_000


def _book(tmp_path, rows):
    path = write_book(tmp_path / "book.csv", [dict(id=f"P{i}", quantity=1, **r) for i, r in enumerate(rows)])
    return load_book(path)


def _within(sample: np.ndarray, expected: float, n_se: float = 4.0):
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) < n_se * se, (sample.mean(), expected, se)


def _factors(moves: dict, sku: str) -> np.ndarray:
    return np.array([m["index_factor_by_sku"][sku] for m in moves.values()])


@pytest.mark.parametrize("vol,years", [(0.5, 10 / 365), (0.3, 0.5)])
def test_gbm_moves_have_the_models_lognormal_moments(tmp_path, vol, years):
    book = _book(tmp_path, [dict(sku="H100", **dict(GBM, **{"model.vol": vol}), **FUTURE)])
    moves, used = var_moves(book, {}, years, N, 7)
    x = _factors(moves, "H100")
    _within(x, math.exp(0.04 * years))                         # E[S_h / S_0] = e^{r h}, no dividend
    logs = np.log(x)
    _within(logs, (0.04 - 0.5 * vol ** 2) * years)
    # variance of the log: the sample variance against sigma^2 h, its se from the fourth moment
    centred = (logs - logs.mean()) ** 2
    _within(centred, vol ** 2 * years)
    assert used["index_moves"] == "models" and used["correlation"] == 0.8 and used["rate_vol"] == 0.01


@pytest.mark.parametrize("years", [10 / 365, 0.25])
def test_schwartz_smith_moves_match_the_closed_form_mean(tmp_path, years):
    book = _book(tmp_path, [dict(sku="B200", **SS, **FUTURE)])
    moves, _ = var_moves(book, {}, years, N, 3)
    spec = positions._prepared(book[0].doc, {})[1]
    model = build_model(spec.model, spec.timeline)
    _within(_factors(moves, "B200"), float(model.mean(years)[0]) / 3.4)


def test_skus_keep_their_own_draws_and_move_together(tmp_path):
    book = _book(tmp_path, [dict(sku="H100", **GBM, **FUTURE), dict(sku="B200", **SS, **FUTURE)])
    moves, _ = var_moves(book, {}, 0.25, 2_000, 5, correlation=0.9)
    h100, b200 = _factors(moves, "H100"), _factors(moves, "B200")
    alone, _ = var_moves(book[:1], {}, 0.25, 2_000, 5)
    # a SKU's draws are its model's whatever the other SKUs: the copula only reorders them
    np.testing.assert_array_equal(np.sort(h100), np.sort(_factors(alone, "H100")))
    ranks = pd.Series(h100).rank().corr(pd.Series(b200).rank())
    assert ranks > 0.8                    # Spearman of a 0.9 Gaussian copula is 0.89


def test_overrides_give_the_lognormal_moves(tmp_path):
    """--vol, --correlation and --rate-vol: exp(vol sqrt(h) Z - vol^2 h / 2), Z correlated
    normals, and shifts rate_vol sqrt(h) Z_r, drawn as before from numpy's generator."""
    book = _book(tmp_path, [dict(sku="H100", **GBM, **FUTURE), dict(sku="B200", **SS, **FUTURE)])
    h, n = 10 / 365, 50
    moves, used = var_moves(book, {}, h, n, 1, vol=0.5, correlation=0.8, rate_vol=0.01)
    rng = np.random.default_rng(1)
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    z = rng.standard_normal((n, 2)) @ np.linalg.cholesky(corr).T
    expected = np.exp(0.5 * math.sqrt(h) * z - 0.125 * h)
    shifts = 0.01 * math.sqrt(h) * rng.standard_normal(n)
    np.testing.assert_array_equal(np.column_stack([_factors(moves, "B200"), _factors(moves, "H100")]),
                                  expected)
    np.testing.assert_array_equal([m["rate_shift"] for m in moves.values()], shifts)
    assert used == {"index_moves": "lognormal", "vol": 0.5, "correlation": 0.8, "rate_vol": 0.01}


def _small_book(tmp_path):
    asian = {"instrument.kind": "asian", "instrument.option": "call", "instrument.strike": 2.3,
             "instrument.maturity": 0.5, "instrument.fixings": 6, "mc.paths": 4_000, "mc.seed": 9}
    put = {"instrument.kind": "european", "instrument.option": "put", "instrument.strike": 3.2,
           "instrument.maturity": 1.0}
    swap = {"instrument.kind": "swap", "instrument.fixed_rate": 3.0, "instrument.maturity": 1.0,
            "instrument.period_months": 3, "instrument.notional": 100}
    merton = {"model.kind": "jump-diffusion", "model.spot": 2.4, "model.vol": 0.4, "model.rate": 0.04,
              "model.jump_intensity": 1.0, "model.jump_mean": -0.16, "model.jump_vol": 0.1}
    rows = [dict(sku="H100", **GBM, **asian), dict(sku="H100", **GBM, **FUTURE),
            dict(sku="H100", **merton, **asian), dict(sku="B200", **SS, **asian),
            dict(sku="B200", **SS, **put), dict(sku="B200", **SS, **swap), dict(sku="B200", **SS, **FUTURE)]
    return _book(tmp_path, rows)


def test_moved_values_equal_full_revaluation(tmp_path):
    """Each position's value under each scenario, from price_moved, against price_many of the
    moved document (same seeds, so common random numbers): equal to rounding."""
    book = _small_book(tmp_path)
    moves, _ = var_moves(book, {}, 0.25, 12, 4)
    moves["drop"] = {"index_factor": 0.6, "rate_shift": 0.02}
    fast = positions.scenario_chunk(book, {"scenarios": moves})
    worst = 0.0
    for pos, row in zip(book, fast):
        doc = positions._prepared(pos.doc, {})[0]
        docs = [doc] + [apply_scenario(doc, positions._position_shocks(row, moves[n])) for n in moves]
        for result, name in zip(price_many(docs), ["base", *moves]):
            worst = max(worst, abs(result["value"] - row["unit_values"][name]) / abs(result["value"]))
    assert worst < 1e-10, worst


def test_moved_greek_bumps_equal_full_revaluation(tmp_path, monkeypatch):
    """Spot and rate bumps on the base model's paths: the same Greeks as bumped documents
    (gamma of a linear trade is rounding noise either way: compared on the value's scale)."""
    book = _small_book(tmp_path)
    fast = pd.DataFrame(positions.value_chunk(book, {}))
    monkeypatch.setattr(positions, "_movable", lambda doc: False)
    slow = pd.DataFrame(positions.value_chunk(book, {}))
    for column in ("value", "delta", "vega", "dv01"):
        np.testing.assert_allclose(fast[column], slow[column], rtol=1e-9, atol=0)
    spot = np.array([2.4, 2.4, 2.4, 3.4, 3.4, 3.4, 3.4])
    scale = np.abs(slow["value"].to_numpy()) / (0.01 * spot) ** 2
    assert np.all(np.abs(fast["gamma"] - slow["gamma"]) <= 1e-9 * scale)


def test_var_identical_in_process_chunked_and_on_dask(tmp_path):
    book = write_book(tmp_path / "book.csv", [dict(id=f"P{i}", quantity=1 + i, **r) for i, r in enumerate(
        [dict(sku="H100", **GBM, **FUTURE), dict(sku="B200", **SS, **FUTURE),
         dict(sku="B200", **SS, **{"instrument.kind": "asian", "instrument.option": "call",
                                   "instrument.strike": 3.3, "instrument.maturity": 0.5,
                                   "instrument.fixings": 6, "mc.paths": 2_000})])])
    plain = var_book(book, scenarios=20)
    assert var_book(book, scenarios=20, chunk=1) == plain
    assert var_book(book, scenarios=20, chunk=2, workers=2) == plain


@pytest.mark.parametrize("key,kwargs", [("--correlation", {"correlation": 1.5}), ("--vol", {"vol": -0.1}),
                                        ("--rate-vol", {"rate_vol": -1.0}), ("--n-scenarios", {"scenarios": 1})])
def test_bad_overrides_are_one_line_errors(tmp_path, key, kwargs):
    book = write_book(tmp_path / "book.csv", [dict(id="f", quantity=1, sku="H100", **GBM, **FUTURE)])
    with pytest.raises(SpecError) as err:
        var_book(book, **kwargs)
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def _example(name: str, table: str) -> dict:
    return read_document(f"data/examples/{name}.toml")[table]


MOVE_MODELS = {"gbm": _example("european", "model"), "merton": _example("jump_diffusion", "model"),
               "schwartz": _example("schwartz", "model"),
               "launches": {**_example("future", "model"), "spike_intensity": 0.0,
                            "launch_dates": ["2026-10-01"], "rate": 0.04},
               "spikes": {**_example("swap", "model"), "rate": 0.04}}
MOVE_TRADES = {"call": _example("european", "instrument"), "put": _example("jump_diffusion", "instrument"),
               "cap": {**_example("cap", "instrument"), "prints": "end"},       # caplets on one print
               "floor": {**_example("floor", "instrument"), "prints": "end"},
               "swap": _example("swap", "instrument"), "future": _example("future", "instrument")}
RATE_MOVES = [(1.0, None), (0.6, 0.02), (1.3, -0.01), (0.85, 0.005), (1.05, 0.0)]


@pytest.mark.parametrize("model", list(MOVE_MODELS))
@pytest.mark.parametrize("trade", list(MOVE_TRADES))
def test_closed_form_moves_are_the_closed_forms_move_by_move(model, trade):
    """All moves of a trade at once (NumPy over the moves) against closed_form of each moved
    plan on its own curve (QuantLib's blackFormula term by term): equal to rounding."""
    if model == "spikes" and trade not in ("swap", "future"):
        pytest.skip("no closed form for options with shortage spikes")
    doc = {"model": MOVE_MODELS[model], "instrument": MOVE_TRADES[trade],
           "market": {"valuation_date": "2026-07-01"}}
    s = load_spec(doc)
    index = with_forward_curve(build_model(s.model, s.timeline), s.market.forward_curve, s.timeline)
    plan = build_plan(s.instrument, s.model.spot, s.timeline)
    moved = [load_spec(doc if d is None else shift_rates(doc, d)) for _, d in RATE_MOVES]
    markets = [build_market(m.market, m.model.rate, m.timeline) for m in moved]
    factors = np.array([f for f, _ in RATE_MOVES])
    at_once = closed_form_moves(index, markets, plan, factors)
    one_by_one = [closed_form(index, market, per_unit_factor(plan, f)) for f, market in zip(factors, markets)]
    np.testing.assert_allclose(at_once, one_by_one, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("omega", [1.0, -1.0])
def test_black_on_arrays_is_quantlibs_black_formula(omega):
    strikes = np.array([0.5, 1.9, 2.4, 3.1, 8.0])
    for forward, std_dev, discount in [(2.4, 0.35, 0.97), (2.4, 1e-4, 0.9), (1.1, 2.5, 0.6), (2.4, 0.0, 0.95)]:
        ours = black_array(omega, strikes, forward, std_dev, discount)
        kind = ql.Option.Call if omega > 0 else ql.Option.Put
        theirs = [discount * max(omega * (forward - k), 0.0) if std_dev == 0.0
                  else ql.blackFormula(kind, k, forward, std_dev, discount) for k in strikes]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * forward)


@pytest.mark.parametrize("omega", [1.0, -1.0])
def test_black_over_terms_and_moves_is_each_terms_own_bits(omega):
    """european_moves prices a Poisson mixture's terms [term, move] in one array: each row has
    the bits of that term priced alone over the moves."""
    strikes = np.array([1.9, 2.4, 2.45, 3.1])
    dfs = np.array([0.97, 0.95, 0.99, 0.9])
    forwards, std_devs = np.array([2.4, 2.1, 1.7, 0.9, 3.3]), np.array([0.35, 0.0, 0.5, 1.2, 1e-4])
    grid = black_array(omega, strikes, forwards[:, None], std_devs[:, None], dfs)
    for row, forward, std_dev in zip(grid, forwards, std_devs):
        assert np.array_equal(row, black_array(omega, strikes, forward, std_dev, dfs))
