"""The fleet kernel's index state (pricing_kernels.fleet, FleetArgs.write_state): chi and xi
such that ln S = g(t) + chi + xi with g the index's TwoFactor.shift, on shipped fleets and
deals; asking for them changes no other series, and the default output keeps the values it
had before (tests/data/fleet_default_output.npz, at 37 paths: not a whole number of lanes;
to 1e-12 relative, as the golden figures, since NumPy's vector math differs in the last bit
between CPUs)."""
from pathlib import Path

import numpy as np
import pytest

from gpufin.engines.collateral import fleet_chunks
from gpufin.engines.loan import prepare
from gpufin.models.fleet import fleet_setup
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import CASH, INDEX

PATHS, SEED = 37, 11
FLEET = "data/examples/fleet.toml"
# a fleet whose index has a shift (a forward curve) and scheduled launches
CURVED = {"model": {"kind": "gpu-fleet", "gpus": 1000, "index": {"launch_dates": [0.5, 1.2]}},
          "mc": {"horizon": 2.0},
          "market": {"curve": {"kind": "flat", "rate": 0.04}, "valuation_date": "2026-07-01",
                     "forward_curve": [{"time": 0.5, "price": 2.1}, {"time": 2.0, "price": 1.4}]}}
STORED = Path(__file__).resolve().parent / "data" / "fleet_default_output.npz"


def _fleet(spec=FLEET):
    """A fleet (the shipped one by default) over two years: (model, market, dates)."""
    setup = fleet_setup(load_spec(spec, ["mc.horizon=2"], instrument_required=False))
    return setup.model, setup.market, setup.times


FLEETS = {"fleet": _fleet, "curved": lambda: _fleet(CURVED)}


def _deal(name: str):
    """A shipped deal's collateral on its loan grid: (model, market, dates, observe)."""
    run = prepare(load_spec(f"data/deals/{name}.toml", [f"mc.paths={PATHS}", f"mc.seed={SEED}"]))
    return run.collateral.model, run.collateral.market, run.grid, run.observe


def _run(model, market, times, observe=None, first_series=INDEX, state=False):
    (_, out), = fleet_chunks(model, market, times, PATHS, SEED, None, observe, 0, first_series, state)
    return out


def test_default_output_keeps_its_values():
    stored = np.load(STORED)
    np.testing.assert_allclose(_run(*_fleet()), stored["fleet"], rtol=1e-12, atol=0.0)
    for name in ("non_ig_ddtl", "merchant_fleet"):
        np.testing.assert_allclose(_run(*_deal(name), first_series=CASH), stored[name], rtol=1e-12,
                                   atol=0.0)


@pytest.mark.parametrize("name", ["fleet", "curved", "non_ig_ddtl", "merchant_fleet"])
def test_state_gives_the_index_and_changes_no_other_series(name):
    """exp(g + chi + xi) is the written index to 1e-12 relative on every path and date, g the
    fleet index's shift (0 at the valuation date; not 0 after it with a forward curve); the
    other series are the same bits."""
    model, market, times, *observe = FLEETS[name]() if name in FLEETS else _deal(name)
    plain = _run(model, market, times, *observe)
    out = _run(model, market, times, *observe, state=True)
    assert out.shape[0] == plain.shape[0] + 2
    assert np.array_equal(out[:-2], plain)
    g = model.index.shift(times)
    assert g[0] == 0.0 and (name != "curved" or np.abs(g[1:]).min() > 1e-3)
    index = np.exp(g[None, :] + out[-2] + out[-1])
    assert np.allclose(index, out[INDEX], rtol=1e-12, atol=0.0)
    # the state moves: chi mean-reverts around 0, xi carries the long-term level
    assert out[-2][:, 1:].std() > 0.0 and out[-1][:, 1:].std() > 0.0
    collateral = _run(model, market, times, *observe, first_series=CASH, state=True)
    assert np.array_equal(collateral[-2:], out[-2:])
    assert np.array_equal(collateral[:-2], plain[CASH:])
