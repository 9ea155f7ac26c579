"""Pathwise delta and vega (pricing_kernels.pathwise) and the closed forms' Greeks: against
QuantLib, the closed forms, and bump-and-revalue of the Monte Carlo price on common random
numbers; the price they come with is the price alone, bit for bit, for any thread count and
chunk size; barriers keep their bumps."""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from click.testing import CliRunner
from conftest import N_SE, spec
from quantlib_refs import asian, bsm_process, european_greeks

import cli
import gpufin
from gpufin.engines.pricing import price_many
from gpufin.risk.bumps import bump_vol, scale_index

GBM = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}
MERTON = {"kind": "jump-diffusion", "spot": 2.4, "vol": 0.3, "rate": 0.04, "jump_intensity": 1.0,
          "jump_mean": -0.16, "jump_vol": 0.1}
SCHWARTZ = {"kind": "schwartz", "spot": 2.4, "vol": 0.6, "rate": 0.04, "mean_reversion": 1.5,
            "long_run_level": 2.0}
SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0, "short_vol": 0.45,
      "long_vol": 0.2, "correlation": -0.3, "long_drift": -0.13, "launch_intensity": 1.0,
      "launch_jump_mean": -0.16, "launch_jump_vol": 0.1}
SS_SPIKES = dict(SS, spike_intensity=2.0, spike_jump_mean=0.3, spike_jump_vol=0.1)
ROOT = Path(__file__).resolve().parents[1]
FORWARD = {"forward_curve": [{"time": 0.5, "price": 2.2}, {"time": 1.5, "price": 2.0}]}
EURO = {"kind": "european", "option": "call", "strike": 2.5, "maturity": 1.0}
H = 1e-3        # relative spot bump and absolute vol bump of the common-random-number differences
CRN_SE = 1.0    # pathwise vs a bump on the same paths: they differ only by the O(h^2) bias and the
                # few paths whose payoff kink falls inside the bump, far less than one stderr


def mc_greeks(doc: dict, **mc) -> dict:
    return gpufin.price(dict(doc, mc={**doc["mc"], "method": "mc", **mc}), greeks=True)


def assert_within(result: dict, greek: str, reference: float, n_se: float = N_SE):
    stderr = result[f"{greek}_stderr"]
    assert stderr > 0.0
    z = (result[greek] - reference) / stderr
    assert abs(z) <= n_se, f"{greek} {result[greek]:.6g} vs {reference:.6g}: {z:.2f} SE"


def crn_bumps(doc: dict, h: float = H) -> tuple[float, float]:
    """Central differences of the price (on common random numbers, by Monte Carlo): delta per
    unit of spot (a relative bump h), vega per unit of volatility (h)."""
    up, down, vol_up, vol_down = price_many([scale_index(doc, 1 + h), scale_index(doc, 1 - h),
                                             bump_vol(doc, h), bump_vol(doc, -h)])
    return ((up["value"] - down["value"]) / (2 * h * doc["model"]["spot"]),
            (vol_up["value"] - vol_down["value"]) / (2 * h))


GBM_CASES = [  # spot, vol, rate, dividend, strike, days, option
    (2.4, 0.50, 0.04, 0.00, 2.5, 365, "call"),
    (2.4, 0.15, 0.04, 0.02, 2.4, 91, "put"),
    (2.4, 0.80, 0.00, 0.00, 4.0, 730, "call"),
    (3.0, 0.30, 0.05, 0.00, 2.2, 30, "put"),
]


@pytest.mark.parametrize("spot,vol,rate,dividend,strike,days,option", GBM_CASES)
def test_gbm_european_vs_quantlib(spot, vol, rate, dividend, strike, days, option):
    model = {"kind": "gbm", "spot": spot, "vol": vol, "rate": rate, "dividend": dividend}
    doc = spec(model, {"kind": "european", "option": option, "strike": strike, "maturity": days / 365})
    delta, vega = european_greeks(bsm_process(spot, vol, rate, dividend), days, strike, option)
    analytic = gpufin.price(doc, greeks=True)
    assert analytic["greeks_method"] == "analytic" and analytic["delta_stderr"] == 0.0
    assert analytic["delta"] == pytest.approx(delta, rel=1e-10)
    assert analytic["vega"] == pytest.approx(vega, rel=1e-10)
    mc = mc_greeks(doc)
    assert mc["greeks_method"] == "pathwise"
    assert_within(mc, "delta", delta)
    assert_within(mc, "vega", vega)


@pytest.mark.parametrize("option,strike,past", [("call", 2.4, 0), ("put", 2.6, 6), ("call", 2.0, 3)])
def test_geometric_asian_vs_quantlib(option, strike, past):
    days = [30, 60, 91, 121, 152, 182]
    process = bsm_process(2.4, 0.5, 0.04)
    running, average = (2.9 ** past, 2.9) if past else (None, None)
    engine = asian(process, "geometric", days, strike, option,
                   ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process), running, past)
    ins = {"kind": "asian", "option": option, "strike": strike, "maturity": days[-1] / 365,
           "fixing_times": [d / 365 for d in days], "averaging": "geometric",
           "past_fixings": past, "past_average": average}
    doc = spec(GBM, ins)
    analytic = gpufin.price(doc, greeks=True)
    assert analytic["delta"] == pytest.approx(engine.delta(), rel=1e-10)
    assert analytic["vega"] == pytest.approx(engine.vega(), rel=1e-10)
    mc = mc_greeks(doc)
    assert_within(mc, "delta", engine.delta())
    assert_within(mc, "vega", engine.vega())


CLOSED_FORMS = [  # model, instrument, market: trades whose closed form has Greeks
    (MERTON, EURO, {}),
    (dict(MERTON, vol=0.1, jump_intensity=3.0, jump_mean=-0.05), dict(EURO, option="put", maturity=0.5), {}),
    (SCHWARTZ, EURO, {}),
    (SS, dict(EURO, strike=2.2, maturity=1.5), {}),
    (SS, dict(EURO, option="put", strike=2.1), FORWARD),
    (dict(GBM, vol=0.3), {"kind": "asian", "option": "put", "strike": 2.5, "maturity": 1.0,
                          "fixings": 12, "averaging": "geometric"}, {}),
    (SS, {"kind": "future", "maturity": 0.5, "notional": 1000}, {}),
    (SCHWARTZ, {"kind": "swap", "maturity": 1.0, "fixed_rate": 2.3, "position": "payer",
                "notional": 1000}, {}),
    (MERTON, {"kind": "floor", "maturity": 1.0, "strike": 2.3, "prints": "end", "notional": 1000}, {}),
    (SS, {"kind": "cap", "maturity": 1.0, "strike": 2.4, "prints": "end", "notional": 1000}, FORWARD),
]


@pytest.mark.parametrize("model,ins,market", CLOSED_FORMS)
def test_pathwise_vs_closed_form(model, ins, market):
    doc = dict(spec(model, ins), market=copy.deepcopy(market))
    analytic = gpufin.price(doc, greeks=True)
    assert analytic["method"] == analytic["greeks_method"] == "analytic"
    mc = mc_greeks(doc)
    assert_within(mc, "delta", analytic["delta"])
    assert_within(mc, "vega", analytic["vega"])


@pytest.mark.parametrize("model,ins,market", CLOSED_FORMS)
def test_closed_form_greeks_are_the_derivatives_of_the_closed_form(model, ins, market):
    doc = dict(spec(model, ins), market=copy.deepcopy(market))
    analytic = gpufin.price(doc, greeks=True)
    delta, vega = crn_bumps(doc, 1e-5)          # closed forms: no noise, a small bump
    scale = abs(analytic["value"]) + abs(analytic["delta"]) * model["spot"]
    assert analytic["delta"] == pytest.approx(delta, abs=1e-8 * scale)
    assert analytic["vega"] == pytest.approx(vega, abs=1e-8 * scale)


CRN_TRADES = [  # payoffs and models without a closed form for their Greeks
    (GBM, {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "fixings": 52}),
    (GBM, {"kind": "asian", "option": "put", "strike": 2.4, "maturity": 1.0,
           "fixing_times": [0.0, 0.25, 0.5, 0.75, 1.0]}),
    (MERTON, {"kind": "asian", "option": "put", "strike": 2.3, "maturity": 1.0, "fixings": 12}),
    (SS, {"kind": "cap", "maturity": 1.0, "strike": 2.4, "notional": 1000}),
    (SCHWARTZ, {"kind": "floor", "maturity": 0.5, "strike": 2.2, "notional": 1000}),
    (SS_SPIKES, EURO),
    (GBM, {"kind": "floor", "maturity": 1.0, "strike": 2.3, "notional": 1000}),
]


@pytest.mark.parametrize("model,ins", CRN_TRADES)
def test_pathwise_vs_bump_and_revalue_on_common_random_numbers(model, ins):
    doc = spec(model, ins, paths=50_000, method="mc", control_variate=False)
    result = gpufin.price(doc, greeks=True)
    delta, vega = crn_bumps(doc)
    assert result["greeks_method"] == "pathwise"
    assert_within(result, "delta", delta, CRN_SE)
    assert_within(result, "vega", vega, CRN_SE)


def test_control_variate_cuts_the_greeks_error_and_agrees():
    """GBM arithmetic Asians: the geometric strip's pathwise Greeks, whose means are closed
    forms, are the Greeks' control variates as its price is the price's."""
    ins = {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "fixings": 52}
    with_cv = gpufin.price(spec(GBM, ins, method="mc"), greeks=True)
    without = gpufin.price(spec(GBM, ins, method="mc", control_variate=False), greeks=True)
    for greek in ("delta", "vega"):
        se = (with_cv[f"{greek}_stderr"], without[f"{greek}_stderr"])
        assert se[0] < se[1] / 2
        assert abs(with_cv[greek] - without[greek]) <= N_SE * math.hypot(*se)


@pytest.mark.parametrize("style", ["futures", "forward"])
def test_futures_delta_is_the_discounted_forward_ratio(style):
    ins = {"kind": "future", "maturity": 0.5, "window_days": 30, "strike": 2.3, "style": style,
           "notional": 1000}
    doc = spec(GBM, ins)
    times = (0.5 * 365 - np.arange(29, -1, -1)) / 365
    df = math.exp(-0.04 * times[-1]) if style == "forward" else 1.0
    ratio = df * float(np.mean(np.exp(0.04 * times)))       # E[A] / S_0, discounted when paid
    assert gpufin.price(doc, greeks=True)["delta"] == pytest.approx(1000 * ratio, rel=1e-12)
    mc = mc_greeks(doc)
    # pathwise on each path: DF A / S_0 = (DF (A - K) + DF K) / S_0, so exactly the price's ratio
    assert mc["delta"] * 2.4 == pytest.approx(mc["value"] + 1000 * df * 2.3, rel=1e-12)
    assert_within(mc, "delta", 1000 * ratio)


def test_barriers_keep_bump_and_revalue(tmp_path):
    knock = {"kind": "barrier", "option": "put", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
             "barrier_type": "down-and-out"}
    for doc in (spec(GBM, knock), spec(GBM, knock, method="mc", paths=20_000)):
        result = gpufin.price(doc, greeks=True)
        assert result["greeks_method"] == "bump" and "delta" not in result and "vega" not in result
    rows = [{"id": "knock", "quantity": 2, **{f"model.{k}": v for k, v in GBM.items()},
             **{f"instrument.{k}": v for k, v in knock.items()}}]
    book = tmp_path / "book.csv"
    book.write_text(",".join(rows[0]) + "\n" + ",".join(str(v) for v in rows[0].values()) + "\n")
    results, _ = gpufin.value_book(book, tmp_path / "out.csv")
    doc = spec(GBM, knock)
    up, down, vol_up, base = price_many([scale_index(doc, 1.01), scale_index(doc, 0.99),
                                         bump_vol(doc, 0.01), doc])
    row = results.iloc[0]
    assert row["delta"] == pytest.approx(2 * (up["value"] - down["value"]) / (2 * 0.024), rel=1e-12)
    assert row["vega"] == pytest.approx(2 * (vol_up["value"] - base["value"]) / 0.01, rel=1e-12)


def test_portfolio_takes_delta_and_vega_from_the_pathwise_pass(tmp_path):
    asian_ins = {"kind": "asian", "option": "call", "strike": 2.5, "maturity": 1.0, "fixings": 12}
    columns = ["id", "quantity"] + [f"model.{k}" for k in SS] + [f"instrument.{k}" for k in asian_ins]
    columns += ["mc.paths", "mc.seed"]
    values = ["A", 3, *SS.values(), *asian_ins.values(), 20_000, 4]
    book = tmp_path / "book.csv"
    book.write_text(",".join(columns) + "\n" + ",".join(str(v) for v in values) + "\n")
    results, _ = gpufin.value_book(book, tmp_path / "out.csv")
    one = gpufin.price(spec(SS, asian_ins, paths=20_000, seed=4), greeks=True)
    row = results.iloc[0]
    assert row["unit_value"] == one["value"]
    assert row["delta"] == 3 * one["delta"] and row["vega"] == 3 * one["vega"]
    doc = spec(SS, asian_ins, paths=20_000, seed=4)
    up, down = price_many([scale_index(doc, 1.01), scale_index(doc, 0.99)])
    assert row["gamma"] == pytest.approx(3 * (up["value"] - 2 * one["value"] + down["value"]) / 0.024 ** 2,
                                         rel=1e-12)


def test_greeks_leave_the_price_bits_alone():
    docs = [spec(model, ins, paths=20_000, method="mc") for model, ins in CRN_TRADES]
    plain, with_greeks = price_many(docs), price_many(docs, greeks=True)
    for a, b in zip(plain, with_greeks):
        assert a == {k: v for k, v in b.items() if not k.startswith(("delta", "vega", "greeks"))}


SCRIPT = """
import json, sys
import gpufin
docs = json.loads(sys.argv[1])
out = [{k: r[k].hex() for k in ("value", "stderr", "delta", "delta_stderr", "vega", "vega_stderr")}
       for r in gpufin.price_many(docs, greeks=True)]
print(json.dumps(out))
"""


def test_identical_for_threads_and_chunks():
    trades = [CRN_TRADES[0], CRN_TRADES[2], CRN_TRADES[3]]
    docs = [spec(model, ins, paths=20_000, method="mc") for model, ins in trades]
    chunked = [dict(d, mc=dict(d["mc"], chunk_paths=3 * 1024)) for d in docs]
    runs = []
    for threads, batch in ((1, docs), (2, docs), (2, chunked)):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(batch)], capture_output=True,
                             text=True, check=True, env=env, cwd=ROOT)
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1] == runs[2]


def test_price_command_adds_greeks(tmp_path):
    path = tmp_path / "asian.json"
    path.write_text(json.dumps(spec(GBM, {"kind": "asian", "option": "call", "strike": 2.4,
                                          "maturity": 1.0, "fixings": 12}, paths=20_000)))
    out = CliRunner().invoke(cli.main, ["price", str(path), "--greeks", "--format", "json"])
    result = json.loads(out.output)
    assert result["greeks_method"] == "pathwise" and result["delta_stderr"] > 0.0
    assert result["delta"] == gpufin.price(path, greeks=True)["delta"]
