"""What an analyst sees: the table formatter (units, ±, no scientific notation), CSV and JSON
at full precision, workbooks with number formats, the note for ignored flags, one flag
vocabulary across commands, and the plots."""
import csv
import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from gpufin.output.tables import format_frame, format_result, render, result_tables

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
LOAN = {"value": 382_690_124.9, "stderr": 54_549.3, "ci95": [382_583_210.2, 382_797_039.7],
        "paths": 2000, "seed": 2026, "method": "mc", "price_pct": 107.046188, "price_pct_stderr": 0.015259,
        "expected_loss": 120_701.6, "expected_loss_stderr": 52_673.0, "pd": 0.0765, "pd_stderr": 0.00594,
        "pd_by_year": [0.001, 0.0235, 0.0765], "lgd": 0.2403, "lgd_stderr": 0.0213, "spread": 0.0225,
        "spread_stderr": 0.000123, "wal": 1.6013, "strike": 2.4,
        "ltv_quantiles": [{"date": "2026-09-30", "time_years": 0.25, "paths": 2000, "q05": 0.59, "q50": 0.71},
                          {"date": "2026-12-30", "time_years": 0.5, "paths": 1999, "q05": 0.55, "q50": 0.73}]}
GBM = {"model.kind": "gbm", "model.spot": 2.4, "model.vol": 0.5, "model.rate": 0.04}
CALL = {"instrument.kind": "european", "instrument.option": "call", "instrument.strike": 2.5,
        "instrument.maturity": 1.0}


def lines(text: str) -> dict:
    """The rows of a plain key/value table: field -> (value, unit)."""
    rows = {}
    for line in text.split("\n\n")[0].splitlines():
        field, rest = line.split(None, 1)
        value, _, unit = rest.partition("  ")
        rows[field] = (value.strip(), unit.strip())
    return rows


def invoke(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "book.csv"
    rows = [dict(id="long", quantity=3, sku="H100", **GBM, **CALL),
            dict(id="short", quantity=-1, sku="B200", **GBM, **dict(CALL, **{"instrument.strike": 2.8}))]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_units_errors_bp_and_percent():
    rows = lines(format_result(LOAN, "table", rich=False))
    assert rows["value"] == ("382.69 ± 0.05", "USD m")
    assert rows["ci95"] == ("[382.58, 382.80]", "USD m")
    assert rows["price_pct"] == ("107.0462 ± 0.0153", "% of par")
    assert rows["expected_loss"] == ("120,701.60 ± 52,673.00", "USD")
    assert rows["pd"] == ("7.65 ± 0.59", "%") and rows["lgd"] == ("24.03 ± 2.13", "%")
    assert rows["pd_by_year"] == ("[0.10, 2.35, 7.65]", "%")
    assert rows["spread"] == ("225.0 ± 1.2", "bp")
    assert rows["strike"] == ("2.4000", "USD/GPU-hr") and rows["paths"] == ("2,000", "")
    assert not {"stderr", "pd_stderr", "spread_stderr", "ltv_quantiles"} & rows.keys()


def test_nested_tables_are_dotted_fields():
    rows = lines(format_result({"value": 12.5, "times_years": {"start": 0.0, "maturity": 1.0},
                                "collateral_check": {"capex_usd": 55000.0, "condition": "retail"}},
                               "table", rich=False))
    assert rows["times_years.maturity"] == ("1.00", "yr") and rows["collateral_check.capex_usd"] == ("55,000.00", "USD")
    assert rows["collateral_check.condition"] == ("retail", "")


def test_a_netted_book_shows_zero_not_scientific_notation():
    assert lines(format_result({"value": -5.8e-11, "stderr": 0.0}, "table", rich=False))["value"] == ("0.00", "USD")
    summary = pd.DataFrame({"by": ["book", "book"], "name": ["swaps", "options"], "value": [5.8e-11, -4717.71]})
    text = format_frame(summary, "table", group="by", rich=False)
    assert "e-" not in text and "-0.00" not in text
    assert text.splitlines()[-2].split()[-1] == "0.00" and text.splitlines()[-1].split()[-1] == "-4,717.71"


def test_quantile_rows_are_tables_below_and_long_csv_rows():
    table = format_result(LOAN, "table", rich=False)
    below = table.split("\n\n")[1].splitlines()
    assert below[0] == "ltv_quantiles" and below[1].split() == ["date", "time_years", "paths", "q05", "q50"]
    assert below[2].split() == ["yr", "%", "%"] and below[3].split() == ["2026-09-30", "0.25", "2,000", "59.00", "71.00"]
    main, ltv = format_result(LOAN, "csv").split("\n\n")
    head, row = list(csv.reader(io.StringIO(main)))
    assert "ltv_quantiles" not in head and float(row[head.index("value")]) == LOAN["value"]
    assert list(csv.DictReader(io.StringIO(ltv)))[1] == {"table": "ltv_quantiles", "date": "2026-12-30",
                                                          "time_years": "0.5", "paths": "1999", "q05": "0.55",
                                                          "q50": "0.73"}
    assert json.loads(format_result(LOAN, "json"))["pd_stderr"] == LOAN["pd_stderr"]


def test_rich_draws_the_same_cells():
    text = render(result_tables(LOAN), rich=True)
    assert "\x1b[" in text and "382.69 ± 0.05" in text and "ltv_quantiles" in text


def test_simulate_quantiles_in_the_unit_of_each_series(tmp_path):
    quantiles = pd.DataFrame({"date": ["2026-07-01"] * 3, "time_years": [0.0] * 3,
                              "series": ["index", "utilization", "collateral_value"],
                              "mean": [2.4, 0.7, 1.89215e8], "q50": [2.4, 0.7, 1.9e8]})
    tables = format_frame(quantiles, "table", group="series", rich=False).split("\n\n")
    assert [t.splitlines()[0] for t in tables] == ["index", "utilization", "collateral_value"]
    assert [t.splitlines()[2].split() for t in tables] == [["yr", "USD/GPU-hr", "USD/GPU-hr"], ["yr", "%", "%"],
                                                               ["yr", "USD", "m", "USD", "m"]]
    assert [t.splitlines()[3].split()[2:] for t in tables] == [["2.4000", "2.4000"], ["70.00", "70.00"],
                                                               ["189.22", "190.00"]]


def test_price_note_method_and_files(tmp_path):
    spec = ROOT / "data/examples/european.toml"
    closed = invoke("price", spec, "--paths", 2000, "--out", tmp_path / "e.json")
    assert closed.exit_code == 0
    assert closed.stderr.strip() == "note: closed form used; --paths/--seed ignored (use --method mc)"
    assert json.loads((tmp_path / "e.json").read_text())["method"] == "analytic"
    simulated = invoke("price", spec, "--paths", 2000, "--method", "mc", "--format", "json")
    assert simulated.stderr == "" and json.loads(simulated.stdout)["method"] == "mc"
    assert invoke("price", spec).stderr == ""
    assert invoke("price", spec, "--seed", 3, "--method", "analytic").stderr == ""
    refused = invoke("price", spec, "--out", tmp_path / "e.txt")
    assert refused.exit_code == 2 and refused.stderr.startswith("error: --out: ") and ".xlsx" in refused.stderr


def test_loan_workbook_has_its_sheets_and_number_formats(tmp_path):
    out = invoke("price", ROOT / "data/deals/non_ig_ddtl.toml", "--paths", 2000, "--out", tmp_path / "loan.xlsx")
    assert out.exit_code == 0, out.output
    sheets = pd.read_excel(tmp_path / "loan.xlsx", sheet_name=None)
    assert list(sheets) == ["results", "schedule", "ltv_quantiles", "dscr_quantiles", "inputs"]
    assert "instrument.kind" in set(sheets["inputs"]["field"]) and "2000" in set(sheets["inputs"]["value"].astype(str))
    book = openpyxl.load_workbook(tmp_path / "loan.xlsx")
    fmt = {row[0].value: row[1].number_format for row in book["results"].iter_rows(min_row=2)}
    assert fmt["value"] == fmt["expected_loss"] == "#,##0" and fmt["price_pct"] == "0.0000"
    assert fmt["pd"] == fmt["pd_stderr"] == "0.00%" and fmt["method"] == "General"
    assert book["ltv_quantiles"]["D2"].number_format == "0.00%"      # q05 of the first date


def test_simulate_workbook_and_four_panel_fan(tmp_path):
    spec = ROOT / "data/examples/fleet.toml"
    out = invoke("simulate", spec, "--paths", 500, "--set", "mc.horizon=1.0", "--out", tmp_path / "q.xlsx",
                 "--plot", tmp_path / "fan.png")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0] == "index" and "USD m per month" in out.stdout
    frame = pd.read_excel(tmp_path / "q.xlsx", sheet_name="results")
    assert len(frame) == 4 * 13 and list(pd.ExcelFile(tmp_path / "q.xlsx").sheet_names) == ["results", "inputs"]
    sheet = openpyxl.load_workbook(tmp_path / "q.xlsx")["results"]
    formats = {sheet.cell(row, 3).value: sheet.cell(row, 4).number_format for row in range(2, sheet.max_row + 1)}
    assert formats == {"index": "0.0000", "utilization": "0.00%", "cash_flow": "#,##0", "collateral_value": "#,##0"}
    assert (tmp_path / "fan.png").read_bytes()[:8] == PNG
    refused = invoke("simulate", spec, "--out", tmp_path / "q.csv")
    assert refused.exit_code == 2 and refused.stderr.strip() == \
        f"error: --out: got '{tmp_path / 'q.csv'}'; expected a .parquet or .xlsx file"
    assert not (tmp_path / "q.csv").exists()


def test_portfolio_value_prints_without_out_and_writes_a_workbook(book, tmp_path):
    printed = invoke("portfolio", "value", book, "--format", "json")
    assert printed.exit_code == 0, printed.output
    assert {r["by"] for r in json.loads(printed.stdout)} == {"book", "counterparty", "sku", "instrument", "total"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]
    out = invoke("portfolio", "value", book, "--out", tmp_path / "v.xlsx", "--plot", tmp_path / "v.png")
    assert out.exit_code == 0, out.output
    first = out.stdout.splitlines()
    assert first[0] == "book" and first[1].split()[:5] == ["name", "positions", "errors", "value", "delta"]
    assert first[2].split()[:5] == ["USD", "USD", "per", "USD/GPU-hr", "USD"]
    book_file = openpyxl.load_workbook(tmp_path / "v.xlsx")
    assert book_file.sheetnames == ["results", "summary", "inputs"]
    header = [c.value for c in book_file["summary"][1]]
    assert book_file["summary"].cell(2, header.index("value") + 1).number_format == "#,##0"
    assert (tmp_path / "v.png").read_bytes()[:8] == PNG


def test_portfolio_stress_and_var_flags(book, tmp_path):
    stress = invoke("portfolio", "stress", book, "--format", "csv", "--out", tmp_path / "s.xlsx",
                    "--plot", tmp_path / "s.png")
    assert stress.exit_code == 0, stress.output
    assert stress.stdout.splitlines()[0] == "scenario,pnl" and len(stress.stdout.splitlines()) == 7
    sheets = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert sheets.sheetnames == ["results", "summary", "inputs"]
    header = [c.value for c in sheets["results"][1]]
    assert sheets["results"].cell(2, header.index("new-generation") + 1).number_format == "#,##0"
    var = invoke("portfolio", "var", book, "--n-scenarios", 4, "--out", tmp_path / "v.xlsx", "--plot", tmp_path / "v.png")
    assert var.exit_code == 0, var.output
    assert lines(var.stdout)["scenarios"] == ("4", "") and lines(var.stdout)["level"] == ("99.00", "%")
    assert pd.read_excel(tmp_path / "v.xlsx", sheet_name="results").shape == (4, 2)
    for png in ("s.png", "v.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG
    renamed = invoke("portfolio", "var", book, "--scenarios", 4)
    assert renamed.exit_code == 2 and renamed.stdout == ""
    assert renamed.stderr == "error: --scenarios: renamed; use --n-scenarios N\n"


def test_json_writes_what_is_not_a_number_as_null():
    """JSON has no NaN: a NaN or infinite figure (an undefined ratio, no default) prints as
    null, in records and in rows, and the text parses under a strict reader."""
    text = format_result({"ratio": float("nan"), "time": float("inf"), "rows": [{"a": float("nan"), "b": 1.5}]},
                         "json")
    def refuse(name):
        raise ValueError(name)
    parsed = json.loads(text, parse_constant=refuse)
    assert parsed == {"ratio": None, "time": None, "rows": [{"a": None, "b": 1.5}]}
