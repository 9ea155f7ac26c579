"""A loan's Greeks on common random numbers (gpufin.risk.loan_greeks): jump-to-default equal,
bit for bit, to the difference of two prices on the same paths; the signs the economics
gives, beyond 2 standard errors where the bump moves many paths, at two parameter sets;
standard errors that fall like 1/sqrt(paths); bad input as one-line errors; the same Greeks,
times the quantity, on a loan row of `portfolio value` and NaN on other rows."""
import copy
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gpufin import value_book
from gpufin.engines.loan import fixed_schedule, price_loan
from gpufin.errors import SpecError
from gpufin.portfolio.positions import LOAN_GREEKS
from gpufin.risk.loan_greeks import loan_greeks
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec

ROOT = Path(__file__).resolve().parents[1]
PATHS = 3000
SIGMAS = 2.0


def risky_loan(hazard: float, principal: float, paths: int = PATHS) -> dict:
    """The shipped non-investment-grade fleet (two customers at `hazard` a year each, a
    platform at 5% a year) under a fixed-rate 9% loan of `principal` USD, linear amortization:
    large enough that defaults, covenant breaches and sales happen on many paths."""
    doc = read_document(ROOT / "data/deals/non_ig_ddtl.toml")
    ins = doc["instrument"]
    del ins["spread"], ins["target_dscr"]
    ins.update(coupon=0.09, principal=principal, amortization="linear")
    for c in doc["model"]["contracts"]:
        c["default_hazard"] = hazard
    doc["model"]["platform"] = {"default_hazard": 0.05}
    doc["mc"]["paths"] = paths
    return doc


CASES = [(0.15, 450e6), (0.08, 420e6)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"hazard{c[0]}-principal{c[1]:.0f}")
def case(request):
    hazard, principal = request.param
    doc = risky_loan(hazard, principal)
    return doc, loan_greeks(doc, at=2.0)


def _value(doc: dict) -> float:
    return price_loan(load_spec(doc))["value"]


def test_haircut_is_the_price_with_the_haircut_bumped_minus_the_base(case):
    """The haircut bump is valued on the base paths, not simulated again: the same bits."""
    doc, greeks = case
    base = fixed_schedule(doc)
    bumped = copy.deepcopy(base)
    bumped["instrument"]["liquidation_haircut"] = load_spec(base).instrument.liquidation_haircut + 0.01
    assert greeks["haircut"] == _value(bumped) - _value(base)


def test_jtd_is_the_price_with_the_customer_defaulted_minus_the_base(case):
    doc, greeks = case
    base = fixed_schedule(doc)
    for i, row in enumerate(greeks["customer_greeks"]):
        defaulted = copy.deepcopy(base)
        defaulted["model"]["contracts"][i]["default_hazard"] = math.inf
        assert row["customer"] == doc["model"]["contracts"][i]["customer"]
        assert row["jtd"] == _value(defaulted) - _value(base)           # same paths: exactly
        assert row["jtd"] < -SIGMAS * row["jtd_stderr"]


def test_signs_follow_the_economics(case):
    _, g = case

    def beyond(key, sign):
        assert sign * g[key] > SIGMAS * g[f"{key}_stderr"] > 0.0, (key, g[key], g[f"{key}_stderr"])

    beyond("dv01", -1)                    # a fixed-rate loan loses when rates rise
    beyond("rent_level", +1)              # higher rents: more cash and collateral
    beyond("rent_trend", +1)
    beyond("launch_intensity_up", -1)     # more launches: lower rents
    beyond("residual", -1)                # collateral x 0.99
    beyond("haircut", -1)
    beyond("lag", -1)                     # later sale proceeds are worth less
    beyond("jtd_platform", -1)
    beyond("jtd_at_platform", -1)
    assert g["cs01"] < -SIGMAS * g["cs01_stderr"]
    # +1 bp of hazard moves a default time by a few hours: only paths whose default crosses a
    # date of the grid change, so PD01 is negative but within noise at these path counts
    assert g["pd01_platform"] <= 0.0
    for row in g["customer_greeks"]:
        assert row["pd01"] <= 0.0 and row["pd01_stderr"] >= 0.0
        assert row["jtd_at"] < -SIGMAS * row["jtd_at_stderr"]
        assert row["jtd"] < row["jtd_at"]          # a default today costs more than one in 2 years


def test_stderrs_fall_like_one_over_root_paths():
    small = loan_greeks(risky_loan(0.15, 450e6, paths=1000))
    large = loan_greeks(risky_loan(0.15, 450e6, paths=4000))
    for key in ("dv01", "rent_level", "residual", "haircut", "jtd_platform"):
        ratio = small[f"{key}_stderr"] / large[f"{key}_stderr"]
        assert 1.4 < ratio < 2.8, (key, ratio)          # sqrt(4) = 2


def test_at_outside_the_loan_life_is_refused():
    doc = risky_loan(0.15, 450e6, paths=200)
    for at in (0.0, -1.0, 6.0):
        with pytest.raises(SpecError, match=r"^at: got .*inside the loan's life"):
            loan_greeks(doc, at=at)


def test_cli_refuses_loan_greeks_for_a_non_loan():
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "price", "data/examples/european.toml",
                           "--loan-greeks"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--loan-greeks" in lines[0] and "instrument.kind" in lines[0]


def test_portfolio_value_reports_loan_greeks_on_loan_rows_only(tmp_path):
    book = tmp_path / "book.csv"
    book.write_text("id,quantity,spec,model.kind,model.spot,model.vol,model.rate,instrument.kind,"
                    "instrument.option,instrument.strike,instrument.maturity,mc.paths\n"
                    f"loan,2,{ROOT / 'data/deals/merchant_fleet.toml'},,,,,,,,,2000\n"
                    "call,10,,gbm,2.4,0.5,0.04,european,call,2.5,1.0,\n")
    results, _ = value_book(book, allow_outside=True)
    rows = results.set_index("id")
    alone = loan_greeks(ROOT / "data/deals/merchant_fleet.toml", ["mc.paths=2000"])
    for column, key in LOAN_GREEKS.items():
        if key in alone:
            scale = 1.0 if key == "cs01" else 2.0
            assert rows.loc["loan", column] == pytest.approx(scale * alone[key], rel=1e-12, abs=1e-9)
            assert rows.loc["loan", f"{column}_stderr"] == pytest.approx(scale * alone[f"{key}_stderr"],
                                                                          rel=1e-12, abs=1e-9)
        assert math.isnan(rows.loc["call", column])
    assert pd.isna(rows.loc["loan", "error"]) and rows.loc["loan", "loan_haircut"] < 0
