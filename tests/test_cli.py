"""The `gpufin` command: same fields as the API, formats, and one-line errors for bad input."""
import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import gpufin

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
[model]
kind = "gbm"
spot = 2.4
vol = 0.5
rate = 0.04

[instrument]
kind = "asian"
option = "call"
strike = 2.4
maturity = 1.0
fixings = 12

[mc]
paths = 20000
seed = 0
"""


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                          text=True, cwd=ROOT)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "asian.toml"
    path.write_text(SPEC)
    return path


def test_json_output_is_the_api_result(spec_file):
    out = run("price", str(spec_file), "--format", "json", "--paths", "10000", "--seed", "3",
              "--set", "instrument.strike=2.5")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    api = gpufin.price(spec_file, ["instrument.strike=2.5", "mc.paths=10000", "mc.seed=3"])
    assert cli == api
    assert {"value", "stderr", "ci95", "paths", "seed", "method"} <= cli.keys()
    assert cli["paths"] == 10000 and cli["seed"] == 3 and cli["strike"] == 2.5


def test_json_spec_file_and_table_and_csv(spec_file, tmp_path):
    import tomllib
    as_json = tmp_path / "asian.json"
    as_json.write_text(json.dumps(tomllib.loads(SPEC)))
    assert gpufin.price(as_json) == gpufin.price(spec_file)
    table = run("price", str(spec_file))
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[0] == "value"
    csv_out = run("price", str(spec_file), "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("value,stderr,ci95,paths,seed,method") and len(csv_out) == 2


BAD = [
    (["--set", "model.vol=-0.3"], "model.vol", "-0.3"),
    (["--set", "model.volatility=0.3"], "model.volatility", "did you mean 'vol'"),
    (["--set", "instrument.strik=2"], "instrument.strik", "did you mean 'strike'"),
    (["--set", "instrument.maturity=0"], "instrument.maturity", "> 0"),
    (["--set", "instrument.maturity=-1"], "instrument.maturity", "a negative time"),
    (["--set", "market.valuation_date=2026-07-01", "--set", "instrument.maturity=2026-01-01"],
     "instrument.maturity", "before the valuation date 2026-07-01"),
    (["--set", "market.valuation_date=2026-07-01", "--set", "instrument.maturity=\"6Q\""],
     "instrument.maturity", "a tenor like 18M"),
    (["--set", "instrument.maturity=nan"], "instrument.maturity", "finite"),
    (["--set", "instrument.kind=\"bermudan\""], "instrument.kind", "bermudan"),
    (["--set", "model.kind=\"heston\""], "model.kind", "heston"),
    (["--set", "instrument.option=\"straddle\""], "instrument.option", "straddle"),
    (["--set", "mc.paths=10001"], "mc.paths", "even"),
    (["--set", "mc.method=\"analytic\""], "instrument.kind", "no closed form"),
    (["--set", "instrument.maturity=\"18M\""], "instrument.maturity", "market.valuation_date"),
]


@pytest.mark.parametrize("args,key,detail", BAD)
def test_bad_input_is_one_line_naming_the_key(spec_file, args, key, detail):
    out = run("price", str(spec_file), *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith(f"error: {key}") and detail in lines[0]


def test_missing_key_and_malformed_files(tmp_path):
    missing = tmp_path / "missing.toml"
    missing.write_text(SPEC.replace("strike = 2.4\n", ""))
    out = run("price", str(missing))
    assert out.returncode == 2 and out.stderr.startswith("error: instrument.strike: missing")
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\nkind = 1")
    out = run("price", str(broken))
    assert out.returncode == 2 and "malformed" in out.stderr and "Traceback" not in out.stderr
    out = run("price", str(tmp_path / "nowhere.toml"))
    assert out.returncode == 2 and "cannot read" in out.stderr


def test_a_fixing_after_maturity_is_one_line(tmp_path):
    bad = tmp_path / "late.toml"
    bad.write_text(SPEC.replace("fixings = 12", "fixing_times = [0.5, 1.5]"))
    out = run("price", str(bad))
    assert out.returncode == 2 and out.stderr.startswith("error: instrument.fixing_times")
    assert len(out.stderr.strip().splitlines()) == 1


def test_set_accepts_unquoted_dates(spec_file):
    quoted = gpufin.price(spec_file, ['market.valuation_date="2026-11-26"', 'instrument.maturity="2027-11-26"'])
    bare = gpufin.price(spec_file, ["market.valuation_date=2026-11-26", "instrument.maturity=2027-11-26"])
    assert quoted == bare


HEAVY = ("gpufin", "numba", "QuantLib", "pandas", "matplotlib", "dask")


@pytest.mark.parametrize("command", [[], ["price"], ["simulate"], ["portfolio"], ["portfolio", "var"]],
                         ids=lambda c: " ".join(c) or "gpufin")
def test_help_imports_nothing_heavy(command):
    """`--help` must not load gpufin (and with it numba, QuantLib, pandas): the CLI imports
    gpufin inside its commands only."""
    code = ("import sys, cli\n"
            "try:\n"
            f"    cli.main({command + ['--help']!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert "Usage:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


UNUSED_BY_CLOSED_FORMS = ("pandas", "scipy.special", "matplotlib", "dask", "distributed",
                          "gpufin.engines.collateral", "gpufin.engines.loan")


@pytest.mark.parametrize("example", ["european", "barrier", "swap"])
def test_a_closed_form_price_loads_only_what_it_uses(example):
    """A closed-form `gpufin price` starts without pandas, scipy's special functions, matplotlib,
    Dask or the fleet and loan engines (gpufin's public names, pandas and the engines of fleets
    and loans load on first use): they were more than half of its start-up. A module bound
    lazily but never read is not loaded (its type is not yet a plain module)."""
    code = ("import sys, types, cli\n"
            "try:\n"
            f"    cli.main(['price', 'data/examples/{example}.toml'])\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print([m for m in {UNUSED_BY_CLOSED_FORMS!r} if type(sys.modules.get(m)) is types.ModuleType])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "analytic" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_matplotlib_loads_only_for_a_plot():
    """A calibration without --plot, and the book's scenario module, leave matplotlib unloaded
    (it was a fifth of `gpufin calibrate`'s CPU time)."""
    code = ("import sys, types, cli, gpufin.portfolio.scenarios\n"
            "try:\n"
            "    cli.main(['calibrate', 'data/rental_history.csv'])\n"
            "except SystemExit as exit:\n"
            "    print('exit', exit.code)\n"
            "print(type(sys.modules.get('matplotlib')) is types.ModuleType)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-2:] == ["exit 0", "False"]


def test_the_posterior_fit_runs_without_numba(tmp_path):
    """The default calibration's likelihood is numpy and scipy (gpufin.models.state_space):
    no kernel compiles and numba is not imported; the maximum-likelihood fit loads it. (The
    long factor fixed at 0: the posterior fit's filter quote by quote, as well.)"""
    history = tmp_path / "history.csv"
    start = dt.date(2026, 1, 1)
    history.write_text("date,level_usd_per_gpu_hour\n" + "".join(
        f"{start + dt.timedelta(days=d)},"
        f"{2.4 * math.exp(0.05 * math.sin(d / 5.0) + 0.02 * math.sin(0.7 * d * d) - 0.002 * d):.4f}\n"
        for d in range(80)))
    code = ("import sys, cli\n"
            "try:\n"
            "    cli.main(sys.argv[1:])\n"
            "except SystemExit as exit:\n"
            "    print('exit', exit.code)\n"
            "print('numba' in sys.modules)")
    runs = {method: subprocess.run([sys.executable, "-c", code, "calibrate", str(history), "--method", method,
                                    "--fix", "rho=0", "--fix", "kappa=2", "--fix", "sigma_xi=0"],
                                   capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip().splitlines()[-2:]
            for method in ("map", "mle")}
    assert runs == {"map": ["exit 0", "False"], "mle": ["exit 0", "True"]}


def test_a_lazy_library_loads_on_first_use():
    code = ("import sys, types\n"
            "from gpufin.output.tables import pd\n"
            "loaded = type(sys.modules['pandas']) is types.ModuleType\n"
            "frame = pd.DataFrame({'a': [1]})\n"
            "print(loaded, type(sys.modules['pandas']) is types.ModuleType, frame.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "True", "(1,", "1)"]
