"""The GPU collateral model: index moments against closed forms, utilization bounds, fleet
survival, a deterministic fleet against a hand computation, reproducibility, bad input."""
import math

import numba
import numpy as np
import pandas as pd
import pytest

from gpufin.engines.collateral import fleet_chunks
from gpufin.errors import SpecError
from gpufin.models.fleet import fleet_setup
from gpufin.spec.reader import load_spec
from gpufin.workflows.simulate import simulate

FLAT = {"curve": {"kind": "flat", "rate": 0.04}, "valuation_date": "2026-07-01"}


def setup_of(model: dict, horizon=5.0, market=FLAT):
    doc = {"model": dict({"kind": "gpu-fleet", "gpus": 1000}, **model), "mc": {"horizon": horizon},
           "market": market}
    return fleet_setup(load_spec(doc, instrument_required=False))


def paths_of(setup, n, seed=7, chunk=None):
    return np.concatenate([c for _, c in fleet_chunks(setup.model, setup.market, setup.times, n, seed,
                                                          chunk)], axis=1)


INDEX_CASES = [
    {},   # data/SOURCES.md section 3 defaults: launches and spikes on
    {"short_vol": 0.8, "long_vol": 0.1, "correlation": -0.5, "mean_reversion": 4.0},
    {"short_vol": 0.2, "long_vol": 0.35, "correlation": 0.6, "launch_intensity": 2.0,
     "launch_jump_mean": -0.3, "spike_intensity": 1.5, "spike_jump_mean": 0.3, "spike_jump_vol": 0.2},
    {"launch_intensity": 0.0, "launch_dates": [0.5, 1.5], "mean_reversion": 1.0, "short_factor": 0.2},
]


@pytest.mark.parametrize("index", INDEX_CASES)
def test_index_moments_match_closed_forms(index):
    setup = setup_of({"index": index}, horizon=3.0)
    paths = paths_of(setup, 40_000)[0]
    times = setup.times
    for i in (3, 12, 24, 36):
        s = paths[:, i]
        mean_se = s.std(ddof=1) / math.sqrt(s.size)
        assert abs(s.mean() - setup.model.index.mean(times[i])[0]) < 4 * mean_se
        logs = np.log(s)
        dev2 = (logs - logs.mean()) ** 2
        var_se = dev2.std(ddof=1) / math.sqrt(s.size)
        assert abs(logs.var(ddof=1) - setup.model.index.log_variance(times[i])[0]) < 4 * var_se


def test_utilization_stays_inside_the_unit_interval_and_survival_is_exponential():
    setup = setup_of({"utilization": {"vol": 3.0, "level": 0.9}, "failure_rate": 0.06})
    util = paths_of(setup, 5_000)[1]
    assert util.min() > 0.0 and util.max() < 1.0
    times = setup.times
    assert np.allclose(setup.model.fleet_size(times), 1000 * np.exp(-0.06 * times), rtol=1e-14)
    spared = setup_of({"spare_fraction": 0.05, "failure_rate": 0.04}).model.fleet_size(times)
    assert spared[0] == 1000 and np.all(spared <= 1000)
    assert spared[-1] == pytest.approx(1050 * math.exp(-0.04 * times[-1]))


DETERMINISTIC = {
    "gpus": 800, "age_years": 1.0, "failure_rate": 0.05, "spare_fraction": 0.0,
    "economic_life_years": 4.0, "salvage_fraction": 0.02, "discount_spread": 0.03,
    "index": {"spot": 2.5, "short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0,
              "spike_intensity": 0.0, "long_drift": -0.2, "short_factor": 0.3,
              "mean_reversion": 1.5},
    "utilization": {"vol": 0.0, "level": 0.65, "start": 0.8, "mean_reversion": 3.0,
                    "contracted": 0.95},
    "costs": {"power_kw": 1.1, "pue": 1.3, "power_price": 0.07, "other_cost": 0.35},
    "contracts": [{"share": 0.6, "rate": 2.2, "start": 0.0, "end": 1.5, "prepayment": 0.2},
                  {"share": 0.3, "rate": 1.9, "start": "2027-01-01", "end": "2028-12-31",
                   "prepayment": 0.25}],
}


def _by_hand(days):
    """Cash flows and income values of DETERMINISTIC, computed directly from the definitions."""
    t = days / 365.0
    log_s = 0.3 * np.exp(-1.5 * t) + (math.log(2.5) - 0.3) - 0.2 * t
    index = np.exp(log_s)
    theta, y0 = math.log(0.65 / 0.35), math.log(0.8 / 0.2)
    util = 1 / (1 + np.exp(-(theta + (y0 - theta) * np.exp(-3.0 * t))))
    fleet = 800 * np.exp(-0.05 * t)
    opex = 1.1 * 1.3 * 0.07 + 0.35
    # contract 1: days 0..548 -> grid dates 0..18; contract 2 starts on day 184 (date 6)
    # and ends on day 914 (date 30)
    end1 = int(np.argmin(np.abs(days - 548)))
    start2, end2 = int(np.argmin(np.abs(days - 184))), int(np.argmin(np.abs(days - 914)))
    cash = np.zeros(days.size)
    for i in range(1, days.size):
        on1 = i <= end1
        on2 = start2 < i <= end2
        # the customers pay 80% and 75% of the rate; the prepaid rest is released from the
        # SPV's prepayment account as the service is delivered
        contract = on1 * 0.6 * 2.2 * 0.95 * (0.8 + 0.2) + on2 * 0.3 * 1.9 * 0.95 * (0.75 + 0.25)
        merchant = 1 - 0.6 * on1 - 0.3 * on2
        cash[i] = 24 * (days[i] - days[i - 1]) * fleet[i] * (contract + merchant * util[i] * index[i] - opex)
    vdays = np.arange(0, 37) * 365 / 12
    income = np.zeros(days.size)
    for i, ti in enumerate(t):
        total = 0.0
        for a, b in zip(vdays[:-1], vdays[1:]):
            s = b / 365.0
            if s <= ti + 1e-12:
                continue
            tau = s - ti
            s_index = math.exp(0.3 * math.exp(-1.5 * s) + math.log(2.5) - 0.3 - 0.2 * s)
            s_util = 1 / (1 + math.exp(-(theta + (y0 - theta) * math.exp(-3.0 * s))))
            total += math.exp(-(0.04 + 0.03 + 0.05) * tau) * 24 * (b - a) * (s_util * s_index - opex)
        income[i] = max(total, 0.02 * 50_000)
    return index, util, cash, fleet * income


def test_deterministic_fleet_matches_hand_computation():
    setup = setup_of(DETERMINISTIC, horizon=3.0)
    paths = paths_of(setup, 3)
    assert np.array_equal(paths[:, 0], paths[:, 2])      # no randomness left
    index, util, cash, value = _by_hand(setup.times * 365.0)
    np.testing.assert_allclose(paths[0, 0], index, rtol=1e-10)
    np.testing.assert_allclose(paths[1, 0], util, rtol=1e-10)
    np.testing.assert_allclose(paths[2, 0, 1:], cash[1:], rtol=1e-10)
    np.testing.assert_allclose(paths[3, 0], value, rtol=1e-10)
    assert value[-1] == pytest.approx(setup.model.fleet_size(3.0) * 0.02 * 50_000)  # salvage floor


def test_residual_and_book_values_follow_their_curves():
    times = setup_of(DETERMINISTIC).times
    fleet = 800 * np.exp(-0.05 * times)
    book = paths_of(setup_of(dict(DETERMINISTIC, valuation="book", depreciation_years=4)), 2)[3, 0]
    np.testing.assert_allclose(book, fleet * 50_000 * np.maximum(1 - (1 + times) / 4, 0), rtol=1e-12)
    residual = paths_of(setup_of(dict(DETERMINISTIC, valuation="residual")), 2)[3, 0]
    ages = [0, 1, 2, 3, 4, 5, 6]
    fractions = [1.0, 0.65, 0.45, 0.30, 0.20, 0.12, 0.08]
    rent = 2.5 / 2.4             # today's index against the catalog level the curve refers to
    np.testing.assert_allclose(residual, fleet * 50_000 * np.interp(1 + times, ages, fractions) * rent,
                               rtol=1e-10)


def test_same_numbers_for_any_chunking_and_thread_count():
    setup = setup_of({"contracts": [{"share": 0.7, "rate": 2.0, "end": 3, "default_hazard": 0.3}]})
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = paths_of(setup, 3000)
        numba.set_num_threads(2)
        two = paths_of(setup, 3000, chunk=1000)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two)


def test_customer_default_sends_the_share_to_the_merchant_market():
    base = {"index": {"short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0, "spike_intensity": 0.0},
            "utilization": {"vol": 0.0}}
    safe = paths_of(setup_of(dict(base, contracts=[{"share": 1.0, "rate": 3.0, "end": 5}])), 1)
    gone = paths_of(setup_of(dict(base, contracts=[{"share": 1.0, "rate": 3.0, "end": 5,
                                                    "default_hazard": math.inf}])), 1)
    merchant = paths_of(setup_of(base), 1)
    assert np.all(safe[2, 0, 1:] > gone[2, 0, 1:])
    np.testing.assert_allclose(gone[2], merchant[2], rtol=1e-14)


def test_parquet_stream_reads_back_and_quantiles(tmp_path):
    doc = {"model": {"kind": "gpu-fleet", "gpus": 100}, "mc": {"paths": 3000, "seed": 3, "chunk_paths": 1000,
                                                                "horizon": 1.0}}
    out = tmp_path / "paths.parquet"
    sim = simulate(doc, out_path=out)
    frame = pd.read_parquet(out)
    assert len(frame) == 3000 * 13 and frame["path"].nunique() == 3000
    assert not list(tmp_path.glob(".*tmp*"))
    q = sim.quantiles[sim.quantiles["series"] == "index"]
    by_date = frame.groupby("date")["index"].quantile(0.5).to_numpy()
    np.testing.assert_allclose(q["q50"].to_numpy(), by_date, rtol=1e-12)
    assert (q["q05"] <= q["q50"]).all() and (q["q50"] <= q["q95"]).all()


BAD = [
    ({"sku": "H900"}, "model.sku"),
    ({"utilization": {"level": 1.3}}, "model.utilization.level"),
    ({"utilization": {"level": 0.0}}, "model.utilization.level"),
    ({"contracts": [{"share": 0.5, "rate": 2.0, "start": 2, "end": 1}]}, "model.contracts[0].end"),
    ({"costs": {"other_cost": -0.1}}, "model.costs.other_cost"),
    ({"capex": -5}, "model.capex"),
    ({"contracts": [{"share": 0.7, "rate": 2.0, "end": 2}, {"share": 0.6, "rate": 2.0, "end": 3}]},
     "model.contracts"),
]


@pytest.mark.parametrize("model,key", BAD)
def test_bad_fleet_input_names_the_key(model, key):
    with pytest.raises(SpecError) as err:
        setup_of(model)
    assert str(err.value).startswith(key)


def test_simulate_command_writes_png_parquet_and_json(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "cli.py"), "simulate", str(root / "data/examples/fleet.toml"),
           "--paths", "2000", "--set", "mc.horizon=1.0"]
    out = subprocess.run(cmd + ["--format", "json", "--plot", str(tmp_path / "fan.png"),
                                "--out", str(tmp_path / "paths.parquet")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["paths"] == 2000 and len(result["quantiles"]) == 4 * 13
    assert (tmp_path / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_parquet(tmp_path / "paths.parquet")) == 2000 * 13
    bad = subprocess.run(cmd + ["--set", "model.utilization.level=1.5", "--out", str(tmp_path / "bad.parquet")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: model.utilization.level")
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad.parquet").exists()


def test_residual_value_follows_the_curve_on_average_under_a_random_index():
    """E[e^{e xi_t}] normalizes the residual approach: the mean per-GPU value is the curve."""
    setup = setup_of({"valuation": "residual", "residual_elasticity": 1.5, "failure_rate": 0.0,
                      "index": {"long_vol": 0.3, "launch_dates": [0.7]}}, horizon=3.0)
    value = paths_of(setup, 40_000)[3] / 1000
    times = setup.times
    curve = 50_000 * np.interp(times, [0, 1, 2, 3, 4, 5, 6], [1.0, 0.65, 0.45, 0.30, 0.20, 0.12, 0.08])
    for i in (6, 12, 24, 36):
        se = value[:, i].std(ddof=1) / math.sqrt(value.shape[0])
        assert abs(value[:, i].mean() - curve[i]) < 4 * se


def test_contracts_of_one_customer_default_together():
    base = {"index": {"short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0, "spike_intensity": 0.0},
            "utilization": {"vol": 0.0}}
    two = [{"customer": "lab", "share": 0.4, "rate": 3.0, "end": 5, "default_hazard": 0.5},
           {"customer": "lab", "share": 0.4, "rate": 3.0, "end": 5, "default_hazard": 0.5}]
    cash = paths_of(setup_of(dict(base, contracts=two)), 2000)[2]
    one = paths_of(setup_of(dict(base, contracts=[dict(two[0], share=0.8)])), 2000)[2]
    np.testing.assert_allclose(cash, one, rtol=1e-12)
    with pytest.raises(SpecError, match="two default hazards"):
        setup_of(dict(base, contracts=[two[0], dict(two[1], default_hazard=0.1)]))


def test_power_price_defaults_to_the_snapshot_and_past_launches_are_refused():
    from gpufin.market.data import load_market_data
    opex = setup_of({}).model.opex
    assert opex == pytest.approx(1.0 * 1.25 * load_market_data().snapshot["power_price_usd_per_kwh"] + 0.40)
    with pytest.raises(SpecError, match="model.index.launch_dates"):
        setup_of({"index": {"launch_dates": ["2026-01-01"]}})


def test_a_prepayment_is_released_as_the_service_is_delivered_even_after_a_default():
    """The customer defaults at once (hazard inf): its 45% of the fleet earns the merchant rate,
    and the 20% it prepaid is still released, month by month, over the contract's term."""
    base = {"index": {"short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0, "spike_intensity": 0.0},
            "utilization": {"vol": 0.0}, "failure_rate": 0.0}
    contract = {"customer": "lab", "share": 0.45, "rate": 3.0, "end": 2.0, "default_hazard": math.inf}
    prepaid = setup_of(dict(base, contracts=[dict(contract, prepayment=0.2)]), horizon=3.0)
    unpaid = setup_of(dict(base, contracts=[dict(contract, prepayment=0.0)]), horizon=3.0)
    extra = paths_of(prepaid, 2)[2, 0] - paths_of(unpaid, 2)[2, 0]
    months = prepaid.times[1:]
    hours = 8760 * np.diff(prepaid.times)
    release = np.where(months <= 2.0 + 1e-12, 0.2 * 3.0 * 0.45 * 0.95 * hours * 1000, 0.0)
    np.testing.assert_allclose(extra[1:], release, rtol=1e-12, atol=1e-6)
