"""Recovery as the better of a sale and the SPV as a going concern, lender-optimal
acceleration, and deliveries that may arrive late: each against the alternatives on the same
paths (common random numbers)."""
from dataclasses import replace

import numpy as np
import pytest

import gpufin
from gpufin.engines.collateral import fleet_chunks
from gpufin.errors import SpecError
from gpufin.models.fleet import fleet_setup
from gpufin.spec.reader import load_spec

DEALS = "data/deals"
PATHS = 4000
Z = 3.0
COVENANTS = ['instrument.default_on="payment-or-covenant"', "instrument.ltv_trigger=0.8",
             'instrument.ltv_test="monthly"', "instrument.dscr_trigger=1.2"]
# the merchant deal accelerates on its own covenants; the contracted deals get tight ones
CASES = {"merchant_fleet": [], "non_ig_ddtl": COVENANTS, "ig_anchored_ddtl": COVENANTS}


def _price(deal: str, *overrides) -> dict:
    return gpufin.price(f"{DEALS}/{deal}.toml", [f"mc.paths={PATHS}", *CASES.get(deal, []), *overrides])


@pytest.mark.parametrize("deal", sorted(CASES))
def test_lender_optimal_acceleration_is_worth_at_least_never_and_always(deal):
    values = {rule: _price(deal, f'instrument.acceleration="{rule}"')
              for rule in ("never", "always", "lender-optimal")}
    best = max(values["never"]["value"], values["always"]["value"])
    noise = Z * max(v["stderr"] for v in values.values())
    assert values["lender-optimal"]["value"] >= best - noise


def test_lender_optimal_sells_where_the_going_concern_is_worth_less():
    """The merchant fleet's income value is below its appraisal, so every breach is a sale:
    lender-optimal acceleration is `always` there, path for path."""
    optimal = _price("merchant_fleet", 'instrument.acceleration="lender-optimal"')
    always = _price("merchant_fleet", 'instrument.acceleration="always"')
    assert optimal["value"] == always["value"]
    assert optimal["acceleration_probability"] == always["acceleration_probability"] > 0.3


@pytest.mark.parametrize("deal", sorted(CASES))
def test_the_going_concern_never_recovers_less_than_the_sale(deal):
    best = _price(deal)
    sale = _price(deal, 'instrument.recovery="liquidation"')
    assert best["value"] >= sale["value"] and best["expected_loss"] <= sale["expected_loss"]
    assert best["pd"] == sale["pd"]                       # recovery does not change who defaults
    assert sale["going_concern_share"] == 0.0


@pytest.fixture(scope="module")
def fleet():
    setup = fleet_setup(load_spec(f"{DEALS}/non_ig_ddtl.toml", instrument_required=False))
    return replace(setup.model, continuation=True), setup.market, setup.model.monthly_times(3.0)


def _going(model, market, times) -> np.ndarray:
    (_, out), = fleet_chunks(model, market, times, 2000, 5, 2000)
    return out[4].mean(axis=0)


def test_the_going_concern_rises_with_the_contract_rate_and_falls_with_hazard(fleet):
    model, market, times = fleet
    base = _going(model, market, times)
    richer = replace(model, contracts=tuple(replace(c, rate=c.rate * 1.1) for c in model.contracts))
    riskier = replace(model, contracts=tuple(replace(c, default_hazard=c.default_hazard + 0.1)
                                             for c in model.contracts))
    assert np.all(_going(richer, market, times)[:12] > base[:12])
    assert np.all(_going(riskier, market, times)[1:12] < base[1:12])


def test_a_late_delivery_is_the_delivery_moved(fleet):
    model, market, times = fleet
    staged = replace(model, continuation=False, deliveries=((0.0, 0.5), (0.5, 0.5)))
    late = replace(staged, delay_probability=1.0, delay_years=0.25)
    moved = replace(staged, deliveries=((0.25, 0.5), (0.75, 0.5)))
    (_, a), = fleet_chunks(late, market, times, 500, 5, 500)
    (_, b), = fleet_chunks(moved, market, times, 500, 5, 500)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-6)


def test_delivery_delays_lower_the_loan():
    on_time = _price("non_ig_ddtl")
    late = _price("non_ig_ddtl", "instrument.delivery_delay.probability=0.5",
                  "instrument.delivery_delay.length=0.5")
    assert late["value"] < on_time["value"] and late["pd"] >= on_time["pd"]


INDEX_LOAN = {"model": {"kind": "gbm", "spot": 100.0, "vol": 0.3, "rate": 0.04},
              "instrument": {"kind": "loan", "principal": 50.0, "maturity": 2.0, "coupon": 0.05},
              "mc": {"paths": 1000}}


@pytest.mark.parametrize("terms, key", [
    ({"acceleration": "lender-optimal"}, "instrument.acceleration"),
    ({"delivery_delay": {"probability": 0.1, "length": 0.25}}, "instrument.delivery_delay"),
])
def test_fleet_only_keys_are_refused_on_an_index_model(terms, key):
    spec = {**INDEX_LOAN, "instrument": {**INDEX_LOAN["instrument"], **terms}}
    with pytest.raises(SpecError) as error:
        gpufin.price(spec)
    assert error.value.key == key


@pytest.mark.parametrize("override, key", [
    ('instrument.recovery="book"', "instrument.recovery"),
    ("instrument.delivery_delay.probability=1.5", "instrument.delivery_delay.probability"),
    ('instrument.acceleration="sometimes"', "instrument.acceleration"),
])
def test_bad_recovery_and_delay_keys_are_one_line(override, key):
    extra = ["instrument.delivery_delay.length=0.25"] if "delivery_delay" in override else []
    with pytest.raises(SpecError) as error:
        _price("non_ig_ddtl", override, *extra)
    assert error.value.key == key and "\n" not in str(error.value)
