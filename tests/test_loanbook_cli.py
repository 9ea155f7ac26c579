"""`gpufin portfolio credit`: bad input, mixed books, outputs, and the same numbers bit for bit
in process, on two Dask workers and through an interrupted and resumed checkpointed run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from gpufin.engines.loan import prepare
from gpufin.errors import SpecError
from gpufin.loanbook.book import load_loan_book
from gpufin.loanbook.run import book_losses, credit_book

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "data" / "books" / "specs"
PATHS, CHUNK = 1200, 300
HEADER = "id,quantity,spec,model.gpus,instrument.principal,model.platform.name,instrument.kind,model.kind\n"


def write_book(folder: Path, rows: list[str]) -> Path:
    path = folder / "book.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def loan(pid: str, spec: str, gpus: int, principal: int, platform: str = "") -> str:
    return f"{pid},1,{SPECS / spec},{gpus},{principal},{platform},,"


SMALL = [loan("A", "b200_contracted.toml", 2000, 84_000_000),
         loan("B", "h200_contracted.toml", 1000, 35_750_000),
         loan("C", "h100_merchant.toml", 1000, 20_125_000)]


def invoke(*args):
    return CliRunner().invoke(main, ["portfolio", "credit", *map(str, args)])


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0]


def test_unknown_platform_is_one_line_naming_the_row(tmp_path):
    book = write_book(tmp_path, [SMALL[0], loan("BAD", "h100_merchant.toml", 100, 2_000_000, "nocloud")])
    one_line_error(invoke(book, "--allow-outside", "--paths", PATHS), "row BAD", "model.platform.name",
                   "'nocloud'", "coreweave")


def test_a_book_with_no_loans_is_one_line(tmp_path):
    book = write_book(tmp_path, ["FUT,10,,,,,future,gbm"])
    one_line_error(invoke(book, "--allow-outside"), str(book), "no loans")


def test_book_reader_keeps_loans_and_says_what_it_left_out(tmp_path):
    book = write_book(tmp_path, [*SMALL, "FUT,10,,,,,future,gbm", "BROKEN,1,missing.toml,,,,,"])
    loans = load_loan_book(book, allow_outside=True)
    assert loans.ids == ("A", "B", "C")
    reasons = dict(loans.left_out)
    assert "not a loan" in reasons["FUT"] and "missing.toml" in reasons["BROKEN"]
    with pytest.raises(SpecError, match="no loans"):
        load_loan_book(write_book(tmp_path, ["BROKEN,1,missing.toml,,,,,"]), allow_outside=True)


def test_a_market_file_declares_more_platforms(tmp_path):
    book = write_book(tmp_path, [loan("X", "h100_merchant.toml", 100, 2_000_000, "other-cloud")])
    with pytest.raises(SpecError, match="row X, model.platform.name"):
        load_loan_book(book, allow_outside=True)
    market = {"credit": {"names": [{"name": "other-cloud", "rating": "B2"}]}}
    assert load_loan_book(book, market, allow_outside=True).ids == ("X",)


def test_quantity_is_the_share_of_the_loan_held(tmp_path):
    whole = load_loan_book(write_book(tmp_path, SMALL), allow_outside=True)
    half = load_loan_book(write_book(tmp_path, [SMALL[0].replace(",1,", ",0.5,", 1), *SMALL[1:]]),
                          allow_outside=True)
    run = dict(paths=200, seed=3, horizon=1.0)
    a, b = book_losses(whole, **run), book_losses(half, **run)
    assert np.array_equal(b.loss[:, 0], 0.5 * a.loss[:, 0]) and np.array_equal(b.loss[:, 1:], a.loss[:, 1:])
    assert b.exposure[0] == 0.5 * a.exposure[0]


def test_a_mixed_book_values_the_loans_and_notes_the_rest(tmp_path):
    book = write_book(tmp_path, [*SMALL, "FUT,10,,,,,future,gbm"])
    out, plot = tmp_path / "r.csv", tmp_path / "loss.png"
    result = invoke(book, "--allow-outside", "--paths", PATHS, "--chunk", CHUNK, "--format", "json",
                    "--out", out, "--plot", plot, "--default", "coreweave")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    note = [line for line in lines if line.startswith("note:")]
    assert len(note) == 1 and "FUT (not a loan" in note[0]
    record = json.loads("\n".join(line for line in lines if not line.startswith("note:")))
    assert record["loans"] == 3 and record["left_out"] == 1 and record["paths"] == PATHS
    loans = [r for r in record["contributions"] if r["by"] == "loan"]
    assert sum(r["es_contribution_usd"] for r in loans) == pytest.approx(record["es"], rel=1e-9)
    # the platform in default today: every loan's lifetime loss can only grow on the same paths
    scenario = {r["scenario"]: r for r in record["scenarios"]}
    assert scenario["coreweave"]["el_change_usd"] > 0
    for name in ("", ".summary", ".defaults", ".scenarios", ".left_out", ".losses"):
        assert (tmp_path / f"r{name}.csv").exists(), name
    assert len(pd.read_csv(tmp_path / "r.losses.csv")) == PATHS
    assert plot.stat().st_size > 10_000


def test_workbook_and_csv_outputs(tmp_path):
    book = write_book(tmp_path, SMALL)
    out = tmp_path / "credit.xlsx"
    result = invoke(book, "--allow-outside", "--paths", PATHS, "--format", "csv", "--out", out, "--horizon", "life")
    assert result.exit_code == 0, result.output
    first, values = result.output.splitlines()[:2]
    record = dict(zip(first.split(","), values.split(",")))
    assert record["horizon"] == "life" and record["loans"] == "3"
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["contributions", "summary", "defaults", "left_out", "losses", "inputs"]
    assert sheets["losses"]["loss"].sum() / PATHS == pytest.approx(float(record["expected_loss"]))


def test_same_numbers_in_process_on_dask_and_checkpointed(tmp_path):
    book = load_loan_book(write_book(tmp_path, SMALL), allow_outside=True)
    run = dict(paths=PATHS, seed=7, horizon=1.0, chunk=CHUNK)
    alone = book_losses(book, **run)
    dask = book_losses(book, workers=2, **run)
    folder = tmp_path / "ck"
    book_losses(book, checkpoint=folder, **run)
    files = sorted(folder.glob("*.json"))
    assert len(files) == PATHS // CHUNK
    files[1].unlink()                       # an interrupted run: one chunk never finished
    kept = files[2].stat().st_mtime_ns
    resumed = book_losses(book, checkpoint=folder, **run)
    assert files[2].stat().st_mtime_ns == kept          # finished chunks are not recomputed
    one_chunk = book_losses(book, **{**run, "chunk": PATHS})
    for other in (dask, resumed, one_chunk):
        for name in ("loss", "loss_horizon", "default_time"):
            assert np.array_equal(getattr(alone, name), getattr(other, name)), name
    assert alone.loss.shape == (PATHS, 3) and np.isfinite(alone.loss).all()


def test_the_command_output_is_the_same_on_dask(tmp_path):
    book = write_book(tmp_path, SMALL)
    common = [book, "--allow-outside", "--paths", PATHS, "--chunk", CHUNK, "--format", "json", "--horizon", "life"]
    alone, dask = invoke(*common), invoke(*common, "--workers", 2)
    assert alone.exit_code == 0 and dask.exit_code == 0, alone.output + dask.output
    assert alone.output == dask.output


def test_the_command_output_is_the_same_at_one_and_two_threads(tmp_path):
    book = write_book(tmp_path, SMALL)
    command = [sys.executable, str(ROOT / "cli.py"), "portfolio", "credit", str(book), "--allow-outside",
               "--paths", str(PATHS), "--format", "json"]
    outputs = [subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_NUM_THREADS": threads}).stdout for threads in ("1", "2")]
    assert json.loads(outputs[0])["paths"] == PATHS
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("args, key", [(["--level", "1.2"], "--level"), (["--horizon", "soon"], "--horizon"),
                                       (["--out", "r.txt"], "--out"), (["--chunk", "0"], "--chunk"),
                                       (["--default", "nobody"], "ai-lab-a, ai-lab-b, coreweave")])
def test_bad_options_are_one_line(tmp_path, args, key):
    book = write_book(tmp_path, SMALL)
    one_line_error(invoke(book, "--allow-outside", "--paths", PATHS, *args), key)


def test_contracts_that_follow_one_another_weigh_by_gpu_years(tmp_path):
    """Two back-to-back contracts of 0.9 (years 0-2 and 2-4) on a 5.5-year loan (dated: its life
    is the last payment's time): each customer
    holds 0.9 x 2 / 5.5 of the fleet's GPU-years, the merchant share the rest."""
    spec = (SPECS / "h200_contracted.toml").read_text()
    spec = spec.replace("share = 0.45\nrate = 3.00\nend = 4.0", "share = 0.9\nrate = 3.00\nend = 2.0", 1)
    spec = spec.replace("share = 0.45\nrate = 3.00\nend = 4.0", "share = 0.9\nrate = 3.00\nstart = 2.0\nend = 4.0", 1)
    (tmp_path / "seq.toml").write_text(spec)
    book = write_book(tmp_path, [f"S,1,{tmp_path / 'seq.toml'},1000,35750000,,,"])
    result = invoke(book, "--allow-outside", "--paths", 400, "--format", "json")
    assert result.exit_code == 0, result.output
    run = credit_book(book, paths=400, allow_outside=True)
    customers = run.contributions[run.contributions["by"] == "customer"].set_index("name")
    life = float(prepare(load_loan_book(book, allow_outside=True).specs[0]).terms.schedule.pay_times[-1])
    assert 5.49 < life < 5.51                # 5.5 years, on the dated schedule
    expected = {"ai-lab-a": 0.9 * 2 / life, "ai-lab-b": 0.9 * 2 / life, "(merchant)": 1 - 2 * 0.9 * 2 / life}
    assert customers["exposure_usd"].to_dict() == pytest.approx(
        {k: v * float(run.contributions.loc[0, "exposure_usd"]) for k, v in expected.items()}, rel=1e-12)
