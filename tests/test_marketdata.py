"""Shipped market data (data/): it loads, its numbers are sane, and bad input is a SpecError."""
import shutil

import numpy as np
import pandas as pd
import pytest

from gpufin.errors import SpecError
from gpufin.market.curve import build_market
from gpufin.market.data import BASES, DATA_DIR, SHOCKS, load_history, load_market_data
from gpufin.spec.schema import MarketSpec

SKUS = ("A100", "H100", "H200", "B200")


@pytest.fixture(scope="module")
def md():
    return load_market_data()


def test_everything_loads(md):
    assert set(SKUS) <= set(md.gpus.index)
    assert len(md.used_prices) and len(md.rental_history)
    assert md.snapshot["valuation_date"] == "2026-07-01"
    assert {"new-generation", "utilization-50", "power-doubles", "rates-up-200bp",
            "anchor-default", "severe"} <= set(md.scenarios)
    assert load_market_data(DATA_DIR).gpus.equals(md.gpus)


@pytest.mark.parametrize("sku", SKUS)
def test_catalog_numbers_are_positive(md, sku):
    row = md.gpu(sku)
    for key in ("power_kw", "capex_usd", "tdp_w", "index_spot_usd_per_gpu_hour"):
        assert row[key] > 0, key
    assert md.gpu(sku.lower())["sku"] == sku
    assert md.gpu("H100")["index_spot_usd_per_gpu_hour"] == 2.40


def test_used_prices_are_ranges(md):
    up = md.used_prices
    assert (up["price_usd_low"] > 0).all() and (up["price_usd_low"] <= up["price_usd_high"]).all()


def test_history_has_documented_bases_and_positive_levels(md):
    h = md.rental_history
    assert pd.api.types.is_datetime64_any_dtype(h["date"])
    assert h["date"].is_monotonic_increasing
    assert set(h["basis"]) <= set(BASES)
    assert (h["level_usd_per_gpu_hour"] > 0).all()
    assert set(h["sku"].str.split("-").str[0]) <= set(md.gpus.index)
    assert h["confidence"].str.strip().ne("").all()


def test_snapshot_curve_bootstraps_and_forward_curve_validates(md):
    spec = MarketSpec.model_validate(md.market_table())
    d5 = build_market(spec, None).discount(5.0)[0]
    assert 0.0 < d5 < 1.0
    times = [float(p.time) for p in spec.forward_curve]
    assert times[0] > 0 and np.all(np.diff(times) > 0)
    assert all(p.price > 0 for p in spec.forward_curve)
    assert md.snapshot["power_price_usd_per_kwh"] == 0.08


def test_market_table_is_a_copy(md):
    md.market_table()["curve"]["kind"] = "flat"
    assert md.market_table()["curve"]["kind"] == "sofr"


def test_residual_curve_decreases_from_one(md):
    ages, fractions = md.residual_curve()
    assert ages[0] == 0.0 and fractions[0] == 1.0
    assert np.all(np.diff(ages) > 0) and np.all(np.diff(fractions) < 0)
    assert fractions[-1] > 0


def test_scenarios_have_descriptions_and_known_shocks(md):
    for name, table in md.scenarios.items():
        assert table["description"].strip(), name
        assert set(table) - {"description"} <= set(SHOCKS), name
        assert len(table) >= 2, name
    assert md.scenario("new-generation")["index_factor"] == 0.6


def test_unknown_sku_and_scenario(md):
    with pytest.raises(SpecError, match=r"model\.sku: got 'X'; expected one of A100, B200, H100, H200"):
        md.gpu("X")
    with pytest.raises(SpecError, match=r"^--scenario: got 'nope'; expected one of .*severe"):
        md.scenario("nope", key="--scenario")
    with pytest.raises(SpecError, match=r"^scenario: "):
        md.scenario("nope")


def _write(tmp_path, text):
    path = tmp_path / "h.csv"
    path.write_text(text)
    return path


def test_load_history_reads_and_sorts(tmp_path):
    path = _write(tmp_path, "date,level_usd_per_gpu_hour,sku\n2026-03-01,2.35,H100\n2025-10-01,1.70,H100\n")
    h = load_history(path)
    assert list(h["level_usd_per_gpu_hour"]) == [1.70, 2.35]
    assert pd.api.types.is_datetime64_any_dtype(h["date"])


@pytest.mark.parametrize("text, needle", [
    (None, "cannot read"),
    ("date,price\n2026-01-01,2.0\n", "level_usd_per_gpu_hour"),
    ("date,level_usd_per_gpu_hour\n2026-01-01,2.0\nJune 2026,2.1\n", "column 'date', line 3"),
    ("date,level_usd_per_gpu_hour\n2026-01-01,-2.0\n", "column 'level_usd_per_gpu_hour', line 2"),
    ("date,level_usd_per_gpu_hour\n2026-01-01,abc\n", "expected a number"),
    ("", "malformed CSV"),
])
def test_bad_history_files(tmp_path, text, needle):
    path = tmp_path / "missing.csv" if text is None else _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_history(path)
    assert str(path) in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, old, new, needle", [
    ("rental_history.csv", ",contract-1y,", ",forward,", "basis"),
    ("gpus.csv", ",50000,", ",0,", "capex_usd"),
    ("scenarios.toml", "power_factor = 2.0", "power_fator = 2.0", "power_fator"),
    ("market.toml", "fraction = 0.45", "fraction = 0.75", "residual_curve"),
    ("market.toml", 'kind = "sofr"', 'kind = "libor"', "curve"),
])
def test_shipped_files_are_validated(tmp_path, name, old, new, needle):
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d, ignore=shutil.ignore_patterns("examples"))
    text = (d / name).read_text()
    assert old in text
    (d / name).write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as err:
        load_market_data(d)
    assert name in str(err.value) and needle in str(err.value)


def test_a_changed_file_is_read_again_and_callers_get_copies(tmp_path):
    folder = shutil.copytree(DATA_DIR, tmp_path / "data")
    first = load_market_data(folder)
    first.snapshot["power_price_usd_per_kwh"] = -1.0              # a caller's copy only
    assert load_market_data(folder).snapshot["power_price_usd_per_kwh"] == 0.08
    toml = folder / "market.toml"
    toml.write_text(toml.read_text().replace("power_price_usd_per_kwh = 0.08",
                                             "power_price_usd_per_kwh = 0.09"))
    assert load_market_data(folder).snapshot["power_price_usd_per_kwh"] == 0.09
