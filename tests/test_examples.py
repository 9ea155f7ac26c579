"""Every shipped example prices; where a closed form exists Monte Carlo agrees with it."""
import tomllib
from pathlib import Path

import pytest
from conftest import assert_close_se

import gpufin
from gpufin.errors import NoClosedForm

ALL = sorted((Path(__file__).resolve().parents[1] / "data" / "examples").glob("*.toml"))
EXAMPLES = [p for p in ALL if "instrument" in tomllib.loads(p.read_text())]
FLEETS = [p for p in ALL if p not in EXAMPLES]


def test_every_instrument_has_an_example():
    kinds = {gpufin.price(p)["instrument"] for p in EXAMPLES}
    assert kinds >= {"european", "asian", "barrier", "future", "swap", "cap", "floor"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_prices_and_matches_its_closed_form(path):
    result = gpufin.price(path)
    assert result["value"] == result["value"] and result["stderr"] >= 0.0
    mc = gpufin.price(path, ['mc.method="mc"'])
    try:
        exact = gpufin.price(path, ['mc.method="analytic"'])
    except NoClosedForm:
        return
    assert_close_se(mc, exact["value"])


@pytest.mark.parametrize("path", FLEETS, ids=lambda p: p.stem)
def test_fleet_example_simulates(path):
    from gpufin.workflows.simulate import simulate
    sim = simulate(path, ["mc.paths=2000"])
    value = sim.quantiles[sim.quantiles["series"] == "collateral_value"]
    assert (value["q05"] > 0).all() and (value["q05"] <= value["q95"]).all()


DEALS = sorted((Path(__file__).resolve().parents[1] / "data" / "deals").glob("*.toml"))


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
def test_deal_prices(path):
    result = gpufin.price(path, ["mc.paths=2000"])
    assert result["instrument"] == "loan" and 0.0 < result["price_pct"] < 150.0
    assert 0.0 <= result["pd"] <= 1.0 and result["expected_loss"] >= 0.0
