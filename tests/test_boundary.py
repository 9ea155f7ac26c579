"""The boundary: what a user types never crashes gpufin, never prices nonsense, and gets one
line naming the key (exit status 2). Each case is a regression test of a bad input that once
got through."""
import json
import subprocess
import sys
from pathlib import Path

import tomllib

import pandas as pd
import pytest

from gpufin.engines.pricing import price
from gpufin.errors import SpecError
from gpufin.market.data import load_history
from gpufin.spec import files, reader

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "european.toml"
FLEET = ROOT / "data" / "examples" / "fleet.toml"


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          cwd=ROOT)


def one_line_error(out, key: str, detail: str = ""):
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"error: {key}") and detail in lines[0], lines[0]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_binary_spec_file(tmp_path, suffix):
    binary = tmp_path / f"spec{suffix}"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line_error(run("price", str(binary)), str(binary), "not UTF-8 text")


def test_a_yaml_file_holding_toml_is_refused(tmp_path):
    yaml = tmp_path / "spec.yaml"
    yaml.write_text(EXAMPLE.read_text())
    one_line_error(run("price", str(yaml)), str(yaml), "expected a .toml or .json file")


CASES = [
    (["--set", "model.rate=inf"], "model.rate", "finite"),
    (["--set", "model.spot=inf"], "model.spot", "finite"),
    (["--set", "model.spot=nan"], "model.spot", "finite"),
    (["--set", "model.vol=1e300"], "model.vol", "10"),
    (["--set", "model.spot=true"], "model.spot", "valid number"),
    (["--set", "mc.paths=1000000000000"], "mc.paths", "100000000"),
    (["--set", "mc.paths=1e5"], "mc.paths", "valid integer"),
    (["--set", "instrument.maturity=nan"], "instrument.maturity", "finite"),
    (["--set", "mc.steps_per_year=1000000"], "mc.steps_per_year", "8760"),
]


@pytest.mark.parametrize("args,key,detail", CASES, ids=[c[0][1] for c in CASES])
def test_nonsense_is_refused_before_pricing(args, key, detail):
    one_line_error(run("price", str(EXAMPLE), *args), key, detail)


def test_a_json_string_is_not_a_number(tmp_path):
    doc = tomllib.loads(EXAMPLE.read_text())
    doc["model"]["spot"] = "2.4"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(doc))
    one_line_error(run("price", str(spec)), "model.spot", "valid number")


def test_a_huge_simulation_is_refused_before_allocating():
    one_line_error(run("simulate", str(FLEET), "--set", "mc.horizon=1e9"), "mc.horizon", "100")
    one_line_error(run("simulate", str(FLEET), "--paths", "10000000"), "mc.paths", "at most")


def test_a_binary_spec_in_one_book_row_sinks_only_that_row(tmp_path):
    import gpufin
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    (tmp_path / "good.toml").write_text(EXAMPLE.read_text())
    book = tmp_path / "book.csv"
    book.write_text("id,quantity,spec\nbad,1,binary.toml\ngood,1,good.toml\n")
    results, _ = gpufin.value_book(book, tmp_path / "out.csv", greeks=False)
    errors = results.set_index("id")["error"]
    assert "not UTF-8 text" in errors["bad"] and errors.isna()["good"]


def test_an_empty_scenario_file_is_refused(tmp_path):
    empty = tmp_path / "scenarios.toml"
    empty.write_text("")
    book = ROOT / "data" / "sample_book.csv"
    out = run("portfolio", "stress", str(book), "--scenarios", str(empty), "--paths", "64")
    one_line_error(out, str(empty), "")


def test_a_market_file_with_a_word_for_a_rate(tmp_path):
    import gpufin
    market = tmp_path / "market.toml"
    market.write_text('[market.curve]\nkind = "flat"\nrate = "four"\n')
    (tmp_path / "spec.toml").write_text(EXAMPLE.read_text())
    book = tmp_path / "book.csv"
    book.write_text("id,quantity,spec\nA,1,spec.toml\n")
    results, summary = gpufin.value_book(book, tmp_path / "out.csv", market_file=market, greeks=False)
    assert results.loc[0, "error"].startswith("market.curve.rate: got 'four'")
    assert summary.iloc[-1]["errors"] == 1


def test_a_history_with_an_infinite_level_names_the_line(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("date,level_usd_per_gpu_hour\n2026-01-01,2.4\n2026-01-02,inf\n")
    out = run("calibrate", str(history))
    one_line_error(out, str(history), "line 3: got 'inf'")


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_spec_with_a_byte_order_mark_is_read(tmp_path, suffix):
    text = EXAMPLE.read_text() if suffix == ".toml" else json.dumps(tomllib.loads(EXAMPLE.read_text()))
    spec = tmp_path / f"spec{suffix}"
    spec.write_text("\N{BYTE ORDER MARK}" + text, encoding="utf-8")
    assert price(spec) == price(EXAMPLE)


def test_a_history_that_is_not_utf8_is_one_line(tmp_path):
    history = tmp_path / "history.csv"
    text = "date,level_usd_per_gpu_hour,source\n2026-01-01,2.4,café\n"
    history.write_bytes(text.encode("latin-1"))
    with pytest.raises(SpecError) as err:
        load_history(history)
    assert str(err.value) == (f"{history}: not UTF-8 text (got byte 0xe9 at offset {text.index('é')}, as in a "
                              "binary file; expected a CSV table)")


def test_an_oversized_history_is_refused_before_parsing(tmp_path, monkeypatch):
    history = tmp_path / "history.csv"
    history.write_text("date,level_usd_per_gpu_hour\n2026-01-01,2.4\n2026-01-02,2.5\n")
    monkeypatch.setitem(files.MAX_BYTES, "CSV table", 32)
    monkeypatch.setattr(pd, "read_csv", None)            # parsing would fail with a TypeError
    with pytest.raises(SpecError) as err:
        load_history(history)
    size = history.stat().st_size
    assert str(err.value) == f"{history}: too large (got {size} bytes; expected a CSV table of at most 32 bytes)"


def test_an_oversized_spec_is_refused_before_parsing(tmp_path, monkeypatch):
    spec = tmp_path / "spec.toml"
    spec.write_text(EXAMPLE.read_text())
    monkeypatch.setitem(files.MAX_BYTES, "TOML document", 100)
    with pytest.raises(SpecError, match=r"spec.toml: too large \(got [0-9,]+ bytes; expected a TOML document "
                                        r"of at most 100 bytes\)"):
        reader.load_spec(spec)


def test_a_folder_is_not_a_spec(tmp_path):
    folder = tmp_path / "spec.toml"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"spec.toml: not a regular file \(got a folder; expected a TOML document\)"):
        files.read_document(folder)
