"""A corpus of bad inputs across every command, each with the one line it must print: exit
status 2, `error: KEY...` naming where the mistake is, no traceback, no file written. The
commands run in process (click's runner), so the corpus costs seconds."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "data" / "examples").glob("*.toml") if p.stem != "fleet")
DEALS = sorted((ROOT / "data" / "deals").glob("*.toml"))
FLEET = ROOT / "data" / "examples" / "fleet.toml"
BOOK = ROOT / "data" / "sample_book.csv"
HISTORY = ROOT / "data" / "rental_history.csv"
BAD = ROOT / "tests" / "data" / "bad"          # files no command may parse

# (--set assignment, key the error must name) for any trade spec
SPEC_CASES = [
    ("model.spot=-1", "model."), ("model.spot=nan", "model."), ("model.spot=inf", "model."),
    ("model.spot=true", "model."), ('model.spot="2.4"', "model."), ("model.spott=2.4", "model.spott"),
    ('model.kind="heston"', "model.kind"), ('instrument.kind="bermudan"', "instrument.kind"),
    ("instrument.notional=-5", "instrument.notional"), ("mc.paths=1", "mc.paths"),
    ("mc.paths=1000000000000", "mc.paths"), ('mc.seed="x"', "mc.seed"), ('mc.method="fast"', "mc.method"),
    ('market.valuation_date="2026-13-01"', "market.valuation_date"), ("instrument.maturity=-1", "instrument.maturity"),
    ("mc.steps_per_year=10000000", "mc.steps_per_year"), ("mc.chunk_paths=0", "mc.chunk_paths"),
    ("mc.antithetic=3", "mc.antithetic"),
]
LOAN_CASES = [
    ("instrument.principal=-1", "instrument.principal"), ("instrument.spread=-2.0", "instrument.spread"),
    ('instrument.amortization="balloon"', "instrument.amortization"),
    ('instrument.payment_frequency="weekly"', "instrument.payment_frequency"),
    ("instrument.liquidation_haircut=1.5", "instrument.liquidation_haircut"),
    ('instrument.acceleration="sometimes"', "instrument.acceleration"),
    ('instrument.default_on="never"', "instrument.default_on"),
    ("instrument.workout_cost=2", "instrument.workout_cost"), ('instrument.dscr_basis="ltm"', "instrument.dscr_basis"),
    ("instrument.maturity=0", "instrument.maturity"), ('model.valuation="book"', "model.valuation"),
    ("model.gpus=0", "model.gpus"), ('model.sku="Z100"', "sku"), ("model.failure_rate=-0.1", "model.failure_rate"),
]
FLEET_CASES = [
    ("model.gpus=-5", "model.gpus"), ("model.utilization.level=1.5", "model.utilization.level"),
    ("model.index.short_vol=-1", "model.index.short_vol"), ("model.costs.pue=0.5", "model.costs.pue"),
    ("mc.horizon=1e9", "mc.horizon"), ("mc.horizon=0", "mc.horizon"), ("model.index.launch_dates=[-1.0]", "model.index.launch_dates"),
    ("model.contracts=[{share = 2.0, rate = 1.0, end = 1.0}]", "model.contracts"),
]


def _cases():
    for spec in EXAMPLES:
        for assignment, key in SPEC_CASES:
            yield pytest.param(["price", str(spec), "--set", assignment], key, id=f"{spec.stem}:{assignment}")
    for deal in DEALS:
        for assignment, key in LOAN_CASES:
            yield pytest.param(["price", str(deal), "--paths", "64", "--set", assignment], key,
                               id=f"{deal.stem}:{assignment}")
    for assignment, key in FLEET_CASES:
        yield pytest.param(["simulate", str(FLEET), "--paths", "64", "--set", assignment], key,
                           id=f"simulate:{assignment}")
    commands = [
        (["price", "nowhere.toml"], "nowhere.toml"),
        (["price", str(EXAMPLES[0]), "--out", "result.txt"], "--out"),
        (["price", str(EXAMPLES[0]), "--out", str(EXAMPLES[0])], "--out"),
        (["price", str(EXAMPLES[0]), "--set", "model"], "--set"),
        (["simulate", str(FLEET), "--out", "paths.csv"], "--out"),
        (["simulate", str(FLEET), "--plot", str(FLEET)], "--plot"),
        (["simulate", str(FLEET), "--plot", "fan.txt"], "--plot"),
        (["simulate", str(EXAMPLES[0])], "model.kind"),
        (["calibrate", str(HISTORY), "--out", str(HISTORY)], "--out"),
        (["calibrate", str(HISTORY), "--plot", str(HISTORY)], "--plot"),
        (["calibrate", str(HISTORY), "--plot", "fit.txt"], "--plot"),
        (["calibrate", "nowhere.csv"], "nowhere.csv"),
        (["calibrate", str(HISTORY), "--fix", "kappa"], "--fix"),
        (["portfolio", "value", str(BOOK), "--out", str(BOOK)], "--out"),
        (["portfolio", "value", str(BOOK), "--out", "results.txt"], "--out"),
        (["portfolio", "value", "nowhere.csv"], "nowhere.csv"),
        (["portfolio", "value", str(BOOK), "--chunk", "0", "--paths", "64"], "--chunk"),
        (["portfolio", "value", str(BOOK), "--market", "nowhere.toml"], "nowhere.toml"),
        (["portfolio", "stress", str(BOOK), "--out", str(BOOK)], "--out"),
        (["portfolio", "stress", str(BOOK), "--scenarios", "nowhere.toml"], "nowhere.toml"),
        (["portfolio", "var", str(BOOK), "--n-scenarios", "0"], "--n-scenarios"),
        (["portfolio", "var", str(BOOK), "--scenarios", "5"], "--scenarios"),
        (["portfolio", "var", str(BOOK), "--level", "2"], "--level"),
        (["portfolio", "var", str(BOOK), "--correlation", "1.5"], "--correlation"),
        (["portfolio", "var", str(BOOK), "--vol", "-1"], "--vol"),
        (["portfolio", "var", str(BOOK), "--horizon", "10Q"], "--horizon"),
        (["portfolio", "var", str(BOOK), "--plot", str(BOOK)], "--plot"),
        (["calibrate", str(BAD / "latin1_history.csv")], f"{BAD / 'latin1_history.csv'}: not UTF-8 text"),
        (["portfolio", "value", str(BAD / "binary_book.csv")], f"{BAD / 'binary_book.csv'}: not UTF-8 text"),
        (["portfolio", "stress", str(BAD / "binary_book.csv"), "--allow-outside"],
         f"{BAD / 'binary_book.csv'}: not UTF-8 text"),
        (["portfolio", "var", str(BAD / "binary_book.csv")], f"{BAD / 'binary_book.csv'}: not UTF-8 text"),
    ]
    for args, key in commands:
        yield pytest.param(args, key, id=" ".join(a.replace(str(ROOT) + "/", "") for a in args))


CORPUS = list(_cases())


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 150


@pytest.mark.parametrize("args,key", CORPUS)
def test_a_bad_input_is_one_line_naming_where(args, key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (ROOT / "data").rglob("*") if p.is_file()}
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], lines
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())      # nothing written
    assert {p.name: p.stat().st_mtime_ns for p in (ROOT / "data").rglob("*") if p.is_file()} == before


def test_a_bug_is_one_internal_error_line_and_debug_shows_the_traceback(monkeypatch):
    import gpufin

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(gpufin, "price", broken)
    result = CliRunner().invoke(cli.main, ["price", str(EXAMPLES[0])])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("internal error: ZeroDivisionError: a bug (a bug in gpufin; rerun with "
                                     "--debug for the traceback)")
    debug = CliRunner().invoke(cli.main, ["--debug", "price", str(EXAMPLES[0])])
    assert isinstance(debug.exception, ZeroDivisionError)


def test_stale_temporary_files_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "result.json"
    stale = tmp_path / ".result.json.tmp-999999999"            # no such process
    stale.write_text("half a file")
    result = CliRunner().invoke(cli.main, ["price", str(EXAMPLES[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["value"] > 0 and not stale.exists()


def test_an_output_under_a_file_is_one_line(tmp_path):
    parent = tmp_path / "file"
    parent.write_text("not a folder")
    result = CliRunner().invoke(cli.main, ["price", str(EXAMPLES[0]), "--out", str(parent / "r.json")])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {parent / 'r.json'}: cannot write")
