"""Risk on trades on one index of a multi-index model (gpufin.risk.bumps, gpufin.portfolio).

Reference: each index of a multi-index model is a Schwartz-Smith index on its own (its
marginal, gpufin.models.multi_index.MultiIndex.index), so a trade on it has the value, the
bumped Greeks and the stressed values of the same trade on the single-index schwartz-smith
model of that marginal (with the index's forward curve as market.forward_curve). Bumps are
revalued on common random numbers: the two models simulate the same paths, so the Greeks
agree to rounding, at two models (a basis index with launches and spikes; two SKUs with
forward curves) and on the base and the basis index. Book commands give a multi-index row
the value, gamma, DV01, stressed P&L and VaR of its single-index equivalent to rounding, and
its delta and vega within N_SE standard errors of the equivalent's pathwise ones.
"""
import copy
import json
import math
import tomllib
from pathlib import Path

import pytest
from conftest import N_SE

from gpufin.engines.pricing import price, price_many
from gpufin.models.multi_index import build_indices
from gpufin.portfolio.scenarios import stress_book, var_book
from gpufin.portfolio.value import value_book
from gpufin.risk.bumps import apply_scenario, greek_bumps, greeks, scale_index, spot_of, traded_sku, vol_key
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = tomllib.loads((ROOT / "data" / "examples" / "multi_index.toml").read_text())["model"]
TWO_SKUS = {"kind": "multi-index", "rate": 0.03, "indices": [
    {"name": "A", "sku": "H100", "spot": 2.4, "mean_reversion": 2.0, "short_vol": 0.5, "long_vol": 0.2,
     "long_drift": -0.1, "short_factor": 0.1,
     "forward_curve": [{"time": 0.5, "price": 2.3}, {"time": 2.0, "price": 2.0}]},
    {"name": "B", "basis_of": "A", "spot": 2.6, "mean_reversion": 4.0, "short_vol": 0.3, "basis_level": 0.05,
     "forward_curve": [{"time": 0.5, "price": 2.5}, {"time": 2.0, "price": 2.2}]},
    {"name": "C", "sku": "H200", "spot": 3.4, "mean_reversion": 1.5, "short_vol": 0.4, "long_vol": 0.25}],
    "correlation": [[1.0, -0.2, 0.7, 0.6, 0.1], [-0.2, 1.0, 0.0, 0.0, 0.7], [0.7, 0.0, 1.0, 0.3, 0.0],
                    [0.6, 0.0, 0.3, 1.0, 0.3], [0.1, 0.7, 0.0, 0.3, 1.0]]}
MC = {"method": "mc", "paths": 4_000, "seed": 17}
EUROPEAN = {"kind": "european", "option": "put", "strike": 2.4, "maturity": 0.5, "notional": 1000}
ASIAN = {"kind": "asian", "option": "call", "strike": 2.3, "maturity": 1.0, "fixings": 12}
FUTURE = {"kind": "future", "maturity": 1.0, "window_days": 30, "strike": 2.3, "notional": 100}
CASES = [(EXAMPLE, "H100-1y", EUROPEAN, MC), (EXAMPLE, "H100-spot", ASIAN, MC),
         (TWO_SKUS, "B", ASIAN, MC), (TWO_SKUS, "C", EUROPEAN, MC), (TWO_SKUS, "A", FUTURE, {})]
IDS = ["basis-european", "base-asian", "curve-basis-asian", "other-sku-european", "base-future"]


def _trade(model: dict, name: str, instrument: dict, mc: dict) -> dict:
    return {"model": copy.deepcopy(model), "instrument": {**instrument, "index": name}, "mc": dict(mc)}


def _single(model: dict, name: str, instrument: dict, mc: dict) -> dict:
    """The same trade on the schwartz-smith model of index `name`'s marginal."""
    m = build_indices(load_spec({"model": model}, instrument_required=False)).index(name)
    index = next(ix for ix in model["indices"] if ix["name"] == name)
    single = {"kind": "schwartz-smith", "spot": m.spot, "mean_reversion": m.kappa, "short_vol": m.sigma_chi,
              "long_vol": m.sigma_xi, "correlation": m.rho, "long_drift": m.mu_xi, "short_factor": m.chi0,
              "launch_intensity": m.launch_intensity, "launch_jump_mean": m.launch_mean,
              "launch_jump_vol": m.launch_vol, "launch_dates": list(m.launch_times),
              "spike_intensity": m.spike_intensity, "spike_jump_mean": m.spike_mean,
              "spike_jump_vol": m.spike_vol, "rate": model["rate"]}
    return {"model": single, "instrument": dict(instrument), "mc": dict(mc),
            "market": {"forward_curve": copy.deepcopy(index.get("forward_curve", []))}}


def _bumped_greeks(doc: dict) -> dict:
    bumps = greek_bumps(doc)
    spot = bumps.pop("spot")
    base, *moved = price_many([doc, *bumps.values()])
    return greeks(base["value"], dict(zip(bumps, (r["value"] for r in moved))), spot)


@pytest.mark.parametrize("model, name, instrument, mc", CASES, ids=IDS)
def test_bumped_greeks_equal_the_single_index_equivalent(model, name, instrument, mc):
    joint = _bumped_greeks(_trade(model, name, instrument, mc))
    alone = _bumped_greeks(_single(model, name, instrument, mc))
    for greek in ("delta", "gamma", "vega", "dv01"):
        assert joint[greek] == pytest.approx(alone[greek], rel=1e-8, abs=1e-10), greek
    assert joint["delta"] != 0.0
    assert (joint["vega"] != 0.0) == (instrument is not FUTURE)     # a future is linear in the index


def test_bumps_point_at_the_traded_index_and_its_sku():
    doc = _trade(TWO_SKUS, "B", ASIAN, MC)
    assert spot_of(doc) == 2.6 and traded_sku(doc) == "H100"
    assert vol_key(doc) == ("indices", 1, "short_vol")
    up = scale_index(doc, 1.25)["model"]["indices"]
    a, b, c = TWO_SKUS["indices"]
    assert [ix["spot"] for ix in up] == [1.25 * a["spot"], 1.25 * b["spot"], c["spot"]]
    assert [p["price"] for p in up[1]["forward_curve"]] == [1.25 * p["price"] for p in b["forward_curve"]]
    assert up[1]["basis_level"] == b["basis_level"]        # the basis today is unchanged
    other = scale_index(_trade(TWO_SKUS, "C", ASIAN, MC), 0.5)["model"]["indices"]
    assert [ix["spot"] for ix in other] == [a["spot"], b["spot"], 0.5 * c["spot"]]
    assert doc["model"] == TWO_SKUS                         # the input is not changed


@pytest.mark.parametrize("model, name, instrument, mc", CASES[:3], ids=IDS[:3])
def test_stress_scenario_moves_the_trade_as_the_single_index_equivalent(model, name, instrument, mc):
    shocks = {"index_factor": 0.6, "rate_shift": 0.02}
    docs = [_trade(model, name, instrument, mc), _single(model, name, instrument, mc)]
    joint_base, joint, alone_base, alone = (r["value"] for d in docs
                                            for r in price_many([d, apply_scenario(d, shocks)]))
    assert joint - joint_base == pytest.approx(alone - alone_base, rel=1e-9)
    assert joint != pytest.approx(joint_base, rel=1e-3)


def _write_book(tmp_path: Path, docs: dict) -> Path:
    """A book of one row per document (spec files beside it), all tagged with no SKU."""
    lines = ["id,quantity,spec"]
    for n, (pid, doc) in enumerate(docs.items()):
        path = tmp_path / f"{pid}.json"
        path.write_text(json.dumps(doc))
        lines.append(f"{pid},{n + 2},{path.name}")
    book = tmp_path / "book.csv"
    book.write_text("\n".join(lines) + "\n")
    return book


def test_book_values_a_multi_index_row_with_greeks(tmp_path):
    joint, alone = _trade(EXAMPLE, "H100-1y", EUROPEAN, MC), _single(EXAMPLE, "H100-1y", EUROPEAN, MC)
    rows, _ = value_book(_write_book(tmp_path, {"joint": joint, "alone": alone}))
    a, b = rows.iloc[0], rows.iloc[1]
    assert a["error"] is None and b["error"] is None and a["sku"] == "H100"
    assert a["unit_value"] == pytest.approx(b["unit_value"], rel=1e-12)
    for column in ("value", "gamma", "dv01"):       # quantities 2 and 3
        assert math.isfinite(a[column]) and a[column] != 0.0
        assert a[column] / 2 == pytest.approx(b[column] / 3, rel=1e-8), column
    # the single-index row's delta and vega are pathwise: the bumped ones agree within N_SE
    reference = price(alone, greeks=True)
    assert reference["greeks_method"] == "pathwise"
    for greek in ("delta", "vega"):
        assert abs(a[greek] / 2 - b[greek] / 3) <= N_SE * reference[f"{greek}_stderr"], greek


def test_book_stress_and_var_of_a_multi_index_row(tmp_path):
    joint, alone = _trade(TWO_SKUS, "B", ASIAN, MC), _single(TWO_SKUS, "B", ASIAN, MC)
    alone_book = _write_book(tmp_path, {"alone": alone})
    alone_book.write_text(alone_book.read_text().replace("id,quantity,spec", "id,quantity,spec,sku")
                          .replace("alone.json", "alone.json,H100"))
    scenarios = tmp_path / "scenarios.toml"
    scenarios.write_text('[cut]\ndescription = "rents fall 40%"\nindex_factor = 0.6\nrate_shift = 0.01\n')
    joint_dir = tmp_path / "joint"
    joint_dir.mkdir()
    joint_book = _write_book(joint_dir, {"joint": joint})
    stressed = [stress_book(b, scenarios)["cut"].iloc[0] for b in (joint_book, alone_book)]
    assert stressed[0] == pytest.approx(stressed[1], rel=1e-9) and stressed[0] != 0.0
    var = [var_book(b, scenarios=8, seed=3) for b in (joint_book, alone_book)]
    assert var[0]["errors"] == 0 and var[0]["var"] != 0.0
    assert var[0]["var"] == pytest.approx(var[1]["var"], rel=1e-9)
    assert var[0]["es"] == pytest.approx(var[1]["es"], rel=1e-9)
