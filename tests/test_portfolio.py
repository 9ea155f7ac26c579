"""Books: the same numbers as `gpufin price`, closed-form Greeks, identical results across
executors and restarts, bad rows isolated, stress and VaR."""
import csv
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gpufin
from gpufin.errors import SpecError
from gpufin import stress_book, value_book, var_book
from gpufin.portfolio import positions
from gpufin.risk.bumps import apply_scenario, greek_bumps, greeks
from gpufin.spec.book import load_book

ROOT = Path(__file__).resolve().parents[1]
GBM = {"model.kind": "gbm", "model.spot": 2.4, "model.vol": 0.5, "model.rate": 0.04}
CALL = {"instrument.kind": "european", "instrument.option": "call", "instrument.strike": 2.5,
        "instrument.maturity": 1.0}


def write_book(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def asian_rows(n):
    return [dict(id=f"A{i}", quantity=1 + i % 3, book="b", counterparty=f"c{i % 2}", sku="H100", **GBM,
                 **{"instrument.kind": "asian", "instrument.option": "call", "instrument.strike": 2.0 + 0.05 * i,
                    "instrument.maturity": 1.0, "instrument.fixings": 12, "mc.paths": 20_000, "mc.seed": 3})
            for i in range(n)]


def test_identical_positions_sum_and_match_gpufin_price(tmp_path):
    rows = [dict(id=f"P{i}", quantity=3, **GBM, **CALL) for i in range(5)] + asian_rows(2)
    results, summary = value_book(write_book(tmp_path / "book.csv", rows), tmp_path / "out.csv")
    calls = results[results["instrument"] == "european"]
    one = gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
                        "instrument": {"kind": "european", "option": "call", "strike": 2.5, "maturity": 1.0}})
    assert (calls["unit_value"] == one["value"]).all() and (calls["value"] == 3 * one["value"]).all()
    assert summary.loc[summary["by"] == "instrument"].set_index("name").loc["european", "value"] == 15 * one["value"]
    asian = gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
                          "instrument": {"kind": "asian", "option": "call", "strike": 2.05, "maturity": 1.0,
                                         "fixings": 12}, "mc": {"paths": 20_000, "seed": 3}})
    assert results.set_index("id").loc["A1", "unit_value"] == asian["value"]
    assert (tmp_path / "out.summary.csv").exists()


def test_greeks_match_black_scholes_and_futures_delta(tmp_path):
    fut = {"instrument.kind": "future", "instrument.maturity": 0.5, "instrument.notional": 1000}
    rows = [dict(id="call", quantity=1, **GBM, **CALL), dict(id="fut", quantity=2, **GBM, **fut)]
    results, _ = value_book(write_book(tmp_path / "book.csv", rows), tmp_path / "out.parquet")
    r = results.set_index("id")
    s, k, t, vol, rate = 2.4, 2.5, 1.0, 0.5, 0.04
    d1 = (math.log(s / k) + (rate + vol ** 2 / 2) * t) / (vol * math.sqrt(t))
    assert r.loc["call", "delta"] == pytest.approx(stats.norm.cdf(d1), rel=1e-4)
    assert r.loc["call", "gamma"] == pytest.approx(stats.norm.pdf(d1) / (s * vol * math.sqrt(t)), rel=1e-3)
    # vega by a forward difference of 0.01 in volatility: within 1% of the analytic vega
    assert r.loc["call", "vega"] == pytest.approx(s * stats.norm.pdf(d1) * math.sqrt(t), rel=1e-2)
    times = (0.5 * 365 - np.arange(29, -1, -1)) / 365        # daily prints, the last at 0.5 years
    assert r.loc["fut", "delta"] == pytest.approx(2 * 1000 * np.mean(np.exp(rate * times)), rel=1e-9)
    assert r.loc["fut", "gamma"] == pytest.approx(0.0, abs=1e-3)


def test_bad_rows_are_named_and_good_rows_valued(tmp_path):
    (tmp_path / "broken.toml").write_text("[model\n")
    rows = [dict(id="good", quantity=1, **GBM, **CALL),
            dict(id="no-quantity", quantity="", **GBM, **CALL),
            dict(id="bad-file", quantity=1, spec="broken.toml"),
            dict(id="no-file", quantity=1, spec="missing.toml"),
            dict(id="negative", quantity=1, **GBM, **dict(CALL, **{"instrument.notional": -5})),
            dict(id="unknown", quantity=1, **GBM, **dict(CALL, **{"instrument.kind": "bermudan"}))]
    results, summary = value_book(write_book(tmp_path / "book.csv", rows), tmp_path / "out.csv")
    err = results.set_index("id")["error"]
    assert pd.isna(err["good"]) and results.set_index("id").loc["good", "value"] > 0
    assert err["no-quantity"].startswith("quantity")
    assert "malformed" in err["bad-file"] and "cannot read" in err["no-file"]
    assert err["negative"].startswith("instrument.notional")
    assert err["unknown"].startswith("instrument.kind")
    assert summary.set_index("by").loc["total", "errors"] == 5


def test_same_results_in_process_on_dask_and_checkpointed(tmp_path):
    """Whatever the executor and the chunk size (so whichever trades share paths)."""
    book = write_book(tmp_path / "book.csv", asian_rows(6) + [dict(id="c", quantity=1, **GBM, **CALL)])
    plain, _ = value_book(book, tmp_path / "a.csv", greeks=False)
    dask, _ = value_book(book, tmp_path / "b.csv", greeks=False, workers=2, chunk=2)
    chunked, _ = value_book(book, tmp_path / "c.csv", greeks=False, checkpoint=tmp_path / "ck", chunk=3)
    again, _ = value_book(book, tmp_path / "d.csv", greeks=False, checkpoint=tmp_path / "ck", chunk=3)
    pd.testing.assert_frame_equal(plain, dask)
    pd.testing.assert_frame_equal(plain, chunked)
    pd.testing.assert_frame_equal(plain, again)
    with pytest.raises(SpecError, match="--chunk"):
        value_book(book, tmp_path / "e.csv", chunk=0)


def test_killed_run_restarts_and_finishes_identically(tmp_path):
    # distinct maturities: no two positions share paths, so each chunk takes a while
    rows = [dict(r, **{"instrument.maturity": 0.5 + i / 100, "mc.paths": 60_000})
            for i, r in enumerate(asian_rows(160))]
    book = write_book(tmp_path / "book.csv", rows)
    reference, _ = value_book(book, tmp_path / "ref.csv", greeks=False)
    ck = tmp_path / "ck"
    cmd = [sys.executable, str(ROOT / "cli.py"), "portfolio", "value", str(book), "--out",
           str(tmp_path / "out.csv"), "--no-greeks", "--checkpoint", str(ck), "--chunk", "32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(ck.glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not (tmp_path / "out.csv").exists()            # nothing half-written
    finished = len(list(ck.glob("*.json")))
    assert 2 <= finished < 5                              # 160 positions make 5 chunks
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    result = pd.read_csv(tmp_path / "out.csv")
    assert list(result["id"]) == [f"A{i}" for i in range(160)]
    np.testing.assert_array_equal(result["value"].to_numpy(), reference["value"].to_numpy())


def test_stress_and_var(tmp_path):
    rows = [dict(id="call", quantity=10, sku="H100", **GBM, **CALL),
            dict(id="loan", quantity=1, sku="H100", spec=str(ROOT / "data/deals/merchant_fleet.toml"),
                 **{"mc.paths": 2000})]
    book = write_book(tmp_path / "book.csv", rows)
    table = stress_book(book, out=tmp_path / "stress.csv", allow_outside=True)
    s = table.set_index("id")
    assert s.loc["call", "new-generation"] < 0 < s.loc["call", "rates-up-200bp"]
    assert s.loc["loan", "new-generation"] < 0 and s.loc["loan", "power-doubles"] < 0
    assert s.loc["call", "utilization-50"] == 0.0 and pd.isna(s.loc["call", "error"])
    result = var_book(book, horizon_days=10, scenarios=60, plot=tmp_path / "pnl.png", out=tmp_path / "var.csv",
                      allow_outside=True)
    assert result["es"] >= result["var"] > 0 and result["errors"] == 0
    assert (tmp_path / "pnl.png").read_bytes()[:4] == b"\x89PNG"
    assert len(pd.read_csv(tmp_path / "var.csv")) == 60


def test_loans_revalued_under_scenarios_are_their_prices(tmp_path):
    """A loan under scenarios that move more than the index and the rates is revalued for its
    value alone (no quantiles, no new-GPU check): price()'s value of each moved document, bit
    for bit."""
    rows = [dict(id="loan", quantity=1, sku="H100", spec=str(ROOT / "data/deals/merchant_fleet.toml"),
                 **{"mc.paths": 500})]
    book = load_book(write_book(tmp_path / "book.csv", rows), allow_outside=True)
    scenarios = {"power": {"power_factor": 2.0},
                 "severe": {"index_factor": 0.6, "utilization": 0.5, "rate_shift": 0.01}}
    row, = positions.scenario_chunk(book, {"scenarios": scenarios})
    doc = positions._prepared(book[0].doc, {})[0]
    assert row["unit_values"]["base"] == gpufin.price(doc)["value"]
    for name, shocks in scenarios.items():
        moved = apply_scenario(doc, positions._position_shocks(row, shocks))
        assert row["unit_values"][name] == gpufin.price(moved)["value"], name


def test_loan_greeks_from_bumps_valued_alone_are_the_bumped_prices(tmp_path):
    """A loan's bumped documents are valued for their values alone: the Greeks are those of
    price() of each bumped document, bit for bit."""
    rows = [dict(id="loan", quantity=1, sku="H100", spec=str(ROOT / "data/deals/merchant_fleet.toml"),
                 **{"mc.paths": 500})]
    book = load_book(write_book(tmp_path / "book.csv", rows), allow_outside=True)
    row, = positions.value_chunk(book, {})
    doc = positions._prepared(book[0].doc, {})[0]
    bumps = greek_bumps(doc)
    spot = bumps.pop("spot")
    expected = greeks(gpufin.price(doc)["value"], {k: gpufin.price(d)["value"] for k, d in bumps.items()}, spot)
    assert {k: row[k] for k in expected} == expected


def test_misspelt_scenario_file_is_refused(tmp_path):
    book = write_book(tmp_path / "book.csv", [dict(id="call", quantity=1, **GBM, **CALL)])
    (tmp_path / "s.toml").write_text('[drop]\ndescription = "rents fall"\nindex_facter = 0.6\n')
    with pytest.raises(Exception, match="index_facter"):
        stress_book(book, tmp_path / "s.toml")


def test_repeated_ids_keep_their_own_rows(tmp_path):
    """Rows go back to book order by position, not by id: two positions may share an id."""
    rows = [dict(id="X", quantity=1, **GBM, **dict(CALL, **{"instrument.maturity": m})) for m in (2.0, 1.0)]
    results, _ = value_book(write_book(tmp_path / "book.csv", rows), tmp_path / "out.csv", greeks=False)
    alone = [gpufin.price({"model": {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
                           "instrument": {"kind": "european", "option": "call", "strike": 2.5,
                                          "maturity": m}})["value"] for m in (2.0, 1.0)]
    assert results["value"].tolist() == alone
