"""Loans that behave like their contract: a principal schedule fixed at origination, covenants
that lock up, cure and breach without ending the loan unless it is accelerated, draws that
deliver GPUs, and values with the sign of the economics on the three shipped deals."""
import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

import gpufin
from gpufin.engines.loan import PathCache, fixed_schedule, prepare, waterfall
from gpufin.engines.montecarlo import seed_key
from gpufin.market.data import load_market_data
from gpufin.models.fleet import fleet_setup
from gpufin.risk.bumps import SPOT_BUMP, apply_scenario
from gpufin.spec.reader import load_spec
from pricing_kernels.loan import LOSS, PAYMENT_DEFAULT, PRINCIPAL, TIME_PRINCIPAL, loan_paths

ROOT = Path(__file__).resolve().parents[1]
DEALS = sorted((ROOT / "data" / "deals").glob("*.toml"))
PATHS = 3000
NOISE = 0.05          # standard errors: below this, a difference at common random numbers is noise


def deal(path: Path, paths: int = PATHS) -> dict:
    doc = tomllib.loads(path.read_text())
    doc["mc"] = {"paths": paths, "seed": 2026}
    return fixed_schedule(doc)


def _set(doc: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(doc)
    node = out
    *path, last = dotted.split(".")
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value
    return out


def _contracts(doc: dict, key: str, scale: float) -> dict:
    out = copy.deepcopy(doc)
    for c in out["model"].get("contracts", []):
        c[key] = c.get(key, 0.0) * scale
    return out


def _index_spot(doc: dict) -> float:
    sku = doc["model"].get("sku", "H100")
    return doc["model"].get("index", {}).get("spot") or load_market_data().gpu(sku)["index_spot_usd_per_gpu_hour"]


def _defaults(result: dict) -> float:
    return result["pd"] + result["acceleration_probability"]


def _pinned(doc: dict) -> dict:
    """The loan with its index's expected path written in as the forward curve, so that a
    volatility bump spreads the rents around the same mean (without it, a higher volatility
    of the log index raises the expected rent)."""
    index = fleet_setup(load_spec(doc)).model.index
    times = np.arange(1, 85) / 12.0
    curve = [{"time": float(t), "price": float(m)} for t, m in zip(times, index.mean(times))]
    return _set(doc, "market.forward_curve", curve)


# (name, worse, better): the same loan where the economics are worse and better for the lender
FACTORS = [
    ("index level", lambda d: _set(d, "model.index.spot", 0.8 * _index_spot(d)),
     lambda d: _set(d, "model.index.spot", 1.2 * _index_spot(d))),
    ("utilization", lambda d: _set(d, "model.utilization.level", 0.55),
     lambda d: _set(d, "model.utilization.level", 0.85)),
    ("contract rate", lambda d: _contracts(d, "rate", 0.9), lambda d: _contracts(d, "rate", 1.1)),
    ("opex", lambda d: _set(d, "model.costs.other_cost", 0.6), lambda d: _set(d, "model.costs.other_cost", 0.2)),
    ("power price", lambda d: _set(d, "model.costs.power_price", 0.16),
     lambda d: _set(d, "model.costs.power_price", 0.04)),
    ("failure rate", lambda d: _set(d, "model.failure_rate", 0.10), lambda d: _set(d, "model.failure_rate", 0.01)),
    ("customer hazard", lambda d: _contracts(d, "default_hazard", 2.0),
     lambda d: _contracts(d, "default_hazard", 0.5)),
    ("volatility", lambda d: _set(_pinned(d), "model.index.short_vol", 0.7),
     lambda d: _set(_pinned(d), "model.index.short_vol", 0.25)),
    ("haircut", lambda d: _set(d, "instrument.liquidation_haircut", 0.35),
     lambda d: _set(d, "instrument.liquidation_haircut", 0.05)),
    # not the liquidation lag: the lender collects the fleet's operating cash until the sale,
    # which on these fleets outweighs the collateral's depreciation over the wait (the lag
    # lowers the value of a loan whose collateral earns nothing: tests/test_loan.py)
]


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
@pytest.mark.parametrize("name,worse,better", FACTORS, ids=[f[0] for f in FACTORS])
def test_value_and_pd_have_the_sign_of_the_economics(path, name, worse, better):
    """On common random numbers with the schedule fixed: the loan is worth at least as much,
    and defaults no more often, when the economics are better for the lender."""
    base = deal(path)
    bad, good = gpufin.price(worse(base)), gpufin.price(better(base))
    # every default: payment defaults and, for a loan accelerated at a breach, accelerations
    assert _defaults(good) <= _defaults(bad), name
    # a factor the loan barely feels (the IG deal's volatility: defaults follow the anchor) may
    # differ by Monte Carlo noise even at common random numbers: 5% of a standard error
    assert good["value"] >= bad["value"] - NOISE * bad["stderr"], name


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
def test_rent_falling_40_percent_lowers_every_loan(path):
    base = deal(path)
    stressed = apply_scenario(base, {"index_factor": 0.6})
    before, after = gpufin.price(base), gpufin.price(stressed)
    assert after["price_pct"] < before["price_pct"] and _defaults(after) >= _defaults(before)


def test_the_schedule_written_out_and_read_back_gives_the_portfolio_greek(tmp_path):
    path = ROOT / "data" / "deals" / "non_ig_ddtl.toml"
    book = tmp_path / "book.csv"
    book.write_text(f"id,quantity,spec,mc.paths\nL1,1,{path},2000\n")
    results, _ = gpufin.value_book(book, tmp_path / "values.csv", allow_outside=True)
    written = gpufin.price(path, ["mc.paths=2000"])["schedule"]
    doc = tomllib.loads(path.read_text())
    doc["mc"]["paths"] = 2000
    doc["instrument"]["schedule"] = [{"time": e["time_years"], "principal": e["principal"]} for e in written]
    spot = _index_spot(doc)
    up = gpufin.price(_set(doc, "model.index.spot", spot * (1 + SPOT_BUMP)))["value"]
    down = gpufin.price(_set(doc, "model.index.spot", spot * (1 - SPOT_BUMP)))["value"]
    assert results.loc[0, "delta"] == pytest.approx((up - down) / (2 * spot * SPOT_BUMP), rel=1e-9)
    assert results.loc[0, "delta"] > 0.0          # the loan gains when rents rise


def test_a_bump_never_resculpts_the_loan():
    base = deal(ROOT / "data" / "deals" / "ig_anchored_ddtl.toml", paths=64)
    schedule = base["instrument"]["schedule"]
    bumped = fixed_schedule(_set(base, "model.costs.other_cost", 0.9))
    assert bumped["instrument"]["schedule"] == schedule
    fresh = fixed_schedule(_set(tomllib.loads((ROOT / "data" / "deals" / "ig_anchored_ddtl.toml").read_text()),
                                "model.costs.other_cost", 0.9))
    assert fresh["instrument"]["schedule"] != schedule      # a new loan at origination would differ


# ---- covenants on a deterministic fleet -----------------------------------------------------------

STEADY = {"kind": "gpu-fleet", "gpus": 1000, "failure_rate": 0.0, "valuation": "residual",
          "index": {"spot": 2.0, "short_vol": 0.0, "long_vol": 0.0, "launch_intensity": 0.0,
                    "spike_intensity": 0.0, "long_drift": 0.0},
          "utilization": {"vol": 0.0, "contracted": 1.0},
          "costs": {"power_kw": 1.0, "pue": 1.0, "power_price": 0.0, "other_cost": 0.0}}


def _loan_doc(contracts, capex=5.0e4, **instrument) -> dict:
    """A 3-year loan at 8% on STEADY; a capex of 1m a GPU makes any balloon refinanceable."""
    ins = dict({"kind": "loan", "principal": 1.0e8, "maturity": 3.0, "coupon": 0.08}, **instrument)
    return {"model": dict(STEADY, contracts=contracts, capex=capex), "instrument": ins,
            "market": {"curve": {"kind": "flat", "rate": 0.04}}, "mc": {"paths": 16, "seed": 1}}


def _paths(doc):
    run = prepare(load_spec(doc))
    return run, waterfall(run, PathCache(run, 16, 1, None))


def test_a_lock_up_traps_cash_and_pays_no_equity():
    """3.5m of cash a quarter against 0.4m of interest (DSCR 8.75) on a 20m bullet: below a
    lock-up at 10 nothing goes to equity, and the trapped cash then meets the balloon that
    the collateral alone (12.75m after the haircut) could not."""
    contracts = [{"share": 1.0, "rate": 1.6, "end": 5.0}]
    free_run, free = _paths(_loan_doc(contracts, principal=2.0e7))
    _, locked = _paths(_loan_doc(contracts, principal=2.0e7, lockup_dscr=10.0, lockup_sweep_share=0.0))
    assert np.all(free[2][:, :-1] > 8.0) and np.all(free[2][:, :-1] < 10.0)
    assert np.all(free[3][:, :-1] > 0.0)                  # without a lock-up equity is paid
    assert np.all(locked[3][:, :-1] == 0.0)               # locked up: nothing to equity
    assert np.all(free[0][:, PAYMENT_DEFAULT] == 1.0)     # the balloon is not met
    assert np.all(locked[0][:, PAYMENT_DEFAULT] == 0.0)
    assert np.all(locked[0][:, PRINCIPAL] == pytest.approx(2.0e7))
    assert np.all(locked[3][:, -1] > 0.0)                 # what is left after the balloon is released


def test_the_reserve_cures_a_one_period_shortfall():
    gap = [{"customer": "a", "share": 1.0, "rate": 1.6, "end": 1.0},
           {"customer": "b", "share": 1.0, "rate": 1.6, "start": 1.25, "end": 5.0}]
    doc = _loan_doc(gap, capex=1.0e6, dscr_trigger=1.2, reserve_periods=2)
    doc["model"]["utilization"] = dict(STEADY["utilization"], level=1e-6)   # no merchant revenue
    cured = gpufin.price(doc)
    assert cured["breach_probability"] == 0.0 and cured["pd"] == 0.0
    bare = gpufin.price(_set(doc, "instrument.reserve_periods", 0))
    assert bare["breach_probability"] == 1.0 and bare["pd"] == 1.0


def test_payment_default_only_counts_payment_shortfalls():
    contracts = [{"share": 1.0, "rate": 1.0, "end": 5.0}]    # DSCR 1.1 against a trigger of 1.3
    doc = _loan_doc(contracts, capex=1.0e6, dscr_trigger=1.3)
    technical = gpufin.price(doc)
    assert technical["breach_probability"] == 1.0 and technical["breach_by_year"][0] == 1.0
    assert technical["pd"] == 0.0 and technical["acceleration_probability"] == 0.0
    accelerated = gpufin.price(_set(doc, "instrument.default_on", "payment-or-covenant"))
    assert accelerated["acceleration_probability"] == 1.0 and accelerated["pd"] == 0.0
    assert accelerated["value"] < technical["value"]
    never = gpufin.price(_set(_set(doc, "instrument.default_on", "payment-or-covenant"),
                              "instrument.acceleration", "never"))
    assert never["value"] == technical["value"]


def test_a_trailing_twelve_month_dscr_smooths_one_bad_quarter():
    gap = [{"customer": "a", "share": 1.0, "rate": 1.6, "end": 1.0},
           {"customer": "b", "share": 1.0, "rate": 1.6, "start": 1.25, "end": 5.0}]
    doc = _loan_doc(gap, capex=1.0e6, dscr_trigger=1.2, reserve_periods=2)
    doc["model"]["utilization"] = dict(STEADY["utilization"], level=1e-6)
    period = _paths(_set(doc, "instrument.reserve_periods", 0))[1][2]
    ttm = _paths(_set(_set(doc, "instrument.reserve_periods", 0), "instrument.dscr_basis", "ttm"))[1][2]
    k = 4                                                  # the quarter ending at 1.25
    assert period[0, k] < 0.1 and ttm[0, k] > 1.2
    assert ttm[0, 2] == pytest.approx(period[0, 2], rel=1e-12) or ttm[0, 2] > 1.2


def test_draws_deliver_gpus_and_the_first_ltv_is_on_delivered_gpus():
    contracts = [{"share": 0.9, "rate": 2.0, "end": 5.0}]
    doc = _loan_doc(contracts, principal=None)
    del doc["instrument"]["principal"]
    doc["instrument"]["draws"] = [{"time": 0.0, "amount": 6.0e7}, {"time": 0.5, "amount": 4.0e7}]
    doc["model"]["failure_rate"] = 0.04
    res = gpufin.price(doc)
    first = res["ltv_quantiles"][0]
    data = load_market_data()
    capex = data.gpu("H100")["capex_usd"]
    ages, fractions = data.residual_curve()
    rent = STEADY["index"]["spot"] / data.gpu("H100")["index_spot_usd_per_gpu_hour"]   # today's rent vs the curve's
    per_gpu = capex * np.interp(0.25, ages, fractions) * rent
    delivered = 1000 * 0.6 * math.exp(-0.04 * 0.25)
    assert first["time_years"] == 0.25
    assert first["q50"] == pytest.approx(6.0e7 / (delivered * per_gpu), rel=1e-9)


BAD = [
    ({"schedule": [{"time": 1.0, "principal": 5.0e7}, {"time": 3.0, "principal": 4.0e7}],
      "amortization": "linear"}, "instrument.schedule", "adds up to"),
    ({"schedule": [{"time": 1.1, "principal": 1.0e8}], "amortization": "linear"},
     "instrument.schedule[0]", "payment dates"),
    ({"acceleration": "sometimes"}, "instrument.acceleration", "sometimes"),
    ({"draws": [{"time": 0.0, "amount": 1.0e8, "delivery": "2025-01-01"}], "principal": None},
     "instrument.draws[0].delivery", "before the valuation date"),
    ({"haircut_curve": [[0.25, 0.2], [1.0, 0.1]]}, "instrument.haircut_curve", "does not fall"),
    ({"haircut_curve": [[0.5, 0.1], [0.5, 0.2]]}, "instrument.haircut_curve", "increase"),
    ({"haircut_curve": [[0.0, 0.1], [1.0, 0.2]]}, "instrument.haircut_curve[0]", "(0, 1]"),
    ({"haircut_curve": [[0.5, 0.1], [1.5, 0.2]]}, "instrument.haircut_curve[1]", "(0, 1]"),
    ({"haircut_curve": [[0.5, 0.1], [1.0, 1.0]]}, "instrument.haircut_curve[1]", "haircut < 1"),
    ({"haircut_curve": [[0.5, 0.1, 0.2]]}, "instrument.haircut_curve[0]", "at most 2"),
    ({"liquidation_tranches": 0}, "instrument.liquidation_tranches", "greater than or equal to 1"),
    ({"maturity_from_draw": 0.0, "maturity": None}, "instrument.maturity_from_draw", "greater than 0"),
    ({"maturity_from_draw": -2.0, "maturity": None}, "instrument.maturity_from_draw", "greater than 0"),
    ({"maturity_from_draw": 2.0, "maturity": None, "amortization": "linear",
      "schedule": [{"time": 3.0, "principal": 1.0e8}]}, "instrument.maturity_from_draw", "fixed"),
    ({"maturity_from_draw": 2.0}, "instrument.maturity_from_draw", "not both"),
    ({"maturity_from_draw": 2.0, "maturity": None, "amortization": "sculpted"},
     "instrument.maturity_from_draw", "sculpted"),
    ({"maturity": None}, "instrument.maturity", "missing"),
    ({"prepayments": "customer"}, "instrument.prepayments", "'customer'"),
]


@pytest.mark.parametrize("instrument,key,detail", BAD, ids=[b[1] for b in BAD])
def test_bad_loan_terms_are_one_line_naming_the_key(instrument, key, detail):
    doc = _loan_doc([{"share": 1.0, "rate": 1.6, "end": 5.0}], **instrument)
    if "delivery" in key:
        doc["market"]["valuation_date"] = "2026-07-01"
    doc["instrument"] = {k: v for k, v in doc["instrument"].items() if v is not None}
    with pytest.raises(gpufin.SpecError) as err:
        gpufin.price(doc)
    assert str(err.value).startswith(key + ":") and detail in str(err.value) and "\n" not in str(err.value)


def test_book_value_is_refused_as_a_recovery_basis():
    doc = _loan_doc([{"share": 1.0, "rate": 1.6, "end": 5.0}])
    doc["model"]["valuation"] = "book"
    with pytest.raises(gpufin.SpecError, match="model.valuation: got 'book'"):
        gpufin.price(doc)


@pytest.mark.parametrize("elasticity", [1.0, 0.5])
def test_residual_collateral_is_marked_by_todays_rent(elasticity):
    """The appraisal curve refers to the catalog's rent level: an index today at f times that
    level marks the residual value by f^e (a rent shock is not normalized away)."""
    reference = load_market_data().gpu("H100")["index_spot_usd_per_gpu_hour"]

    def value_today(spot):
        doc = {"model": dict(STEADY, residual_elasticity=elasticity,
                             index=dict(STEADY["index"], spot=spot)),
               "mc": {"paths": 16, "horizon": 1.0}, "market": {"curve": {"kind": "flat", "rate": 0.04}}}
        q = gpufin.simulate(doc).quantiles
        return q[q["series"] == "collateral_value"]["q50"].iloc[0]

    assert value_today(0.6 * reference) == pytest.approx(0.6 ** elasticity * value_today(reference), rel=1e-12)


def test_recovery_collects_the_cash_of_the_lag_and_pays_the_workout():
    """Accelerated at the first payment (DSCR 1.095 < 1.3) on a steady fleet, the lender
    collects six months of the fleet's cash, then sells the GPUs; a workout cost comes off."""
    contracts = [{"share": 1.0, "rate": 1.0, "end": 5.0}]
    doc = _loan_doc(contracts, capex=1.0e5, dscr_trigger=1.3, default_on="payment-or-covenant",
                    liquidation_lag=0.5)
    res = gpufin.price(doc)
    assert res["acceleration_probability"] == 1.0
    rent = STEADY["index"]["spot"] / load_market_data().gpu("H100")["index_spot_usd_per_gpu_hour"]
    sale = 1000 * 1.0e5 * (1 - 0.35 * 0.75) * rent * 0.85                  # residual at age 0.75
    months = np.arange(4, 10) / 12.0
    collected = np.sum(np.exp(-0.04 * months) * 1000 * 730.0 * 1.0)        # contracted cash, no opex
    recovery = math.exp(-0.04 * 0.75) * sale + collected
    assert res["expected_loss"] == pytest.approx(math.exp(-0.04 * 0.25) * 1.0e8 - recovery, rel=1e-9)
    costly = gpufin.price(_set(doc, "instrument.workout_cost", 0.05))
    assert costly["expected_loss"] - res["expected_loss"] == pytest.approx(math.exp(-0.04 * 0.75) * 0.05 * 1.0e8,
                                                                           rel=1e-9)


def test_a_new_gpu_is_valued_beside_its_capex_and_used_prices():
    res = gpufin.price(ROOT / "data" / "deals" / "non_ig_ddtl.toml", ["mc.paths=64"])
    check = res["collateral_check"]
    data = load_market_data()
    h200 = data.gpu("H200")
    assert check["capex_usd"] == h200["capex_usd"]
    assert check["residual_value_usd"] == pytest.approx(h200["capex_usd"], rel=1e-12)   # age 0, catalog rent
    assert 0.0 < check["income_value_usd"] < 2 * h200["capex_usd"]
    used = data.used_prices[data.used_prices["sku"] == "H200"].sort_values("date").iloc[-1]
    assert check["used_price_usd"] == [used["price_usd_low"], used["price_usd_high"]]


# ---- tranches that mature from their draw ---------------------------------------------------------

SAFE_INDEX = {"kind": "gbm", "spot": 1.0e12, "vol": 0.0, "rate": 0.04}


def _tranche_loan(**instrument) -> dict:
    """60 drawn at 0 and 40 at 0.5 years, each due 2 years after its draw, quarterly, in years."""
    ins = dict({"kind": "loan", "draws": [{"time": 0.0, "amount": 60.0}, {"time": 0.5, "amount": 40.0}],
                "maturity_from_draw": 2.0, "coupon": 0.05}, **instrument)
    return {"model": SAFE_INDEX, "instrument": ins, "mc": {"paths": 16, "seed": 1}}


def test_each_draw_amortizes_to_its_own_maturity():
    res = gpufin.price(_tranche_loan(amortization="linear"))
    times = [row["time_years"] for row in res["schedule"]]
    assert times == pytest.approx([0.25 * k for k in range(1, 11)], abs=1e-12)
    assert res["maturity_years"] == 2.5            # the second draw's maturity: 0.5 + 2
    # 60 over the 8 payments 0.25..2.0; 40 over the 8 payments after its draw, 0.75..2.5
    first = [60.0 / 8] * 8 + [0.0] * 2
    second = [0.0] * 2 + [40.0 / 8] * 8
    expected = [a + b for a, b in zip(first, second)]
    assert [row["principal"] for row in res["schedule"]] == pytest.approx(expected, rel=1e-12)
    assert math.fsum(row["principal"] for row in res["schedule"]) == pytest.approx(100.0, rel=1e-12)
    assert res["pd"] == 0.0 and res["wal"] < res["maturity_years"]


def test_a_bullet_tranche_is_due_at_its_own_maturity():
    res = gpufin.price(_tranche_loan())
    principal = [row["principal"] for row in res["schedule"]]
    assert principal == [0.0] * 7 + [60.0, 0.0, 40.0]
    # riskless and fixed: the first draw's 60 comes back at 2.0, the second's 40 at 2.5
    assert res["wal"] == pytest.approx((60.0 * 2.0 + 40.0 * 2.5) / 100.0, rel=1e-12)


def test_the_tranche_schedule_written_out_values_the_same_loan():
    doc = _tranche_loan(amortization="annuity")
    written = fixed_schedule(doc)
    assert "maturity_from_draw" not in written["instrument"] and written["instrument"]["maturity"] == 2.5
    assert gpufin.price(written)["value"] == gpufin.price(doc)["value"]


# ---- customer prepayments paid to the loan ----------------------------------------------------------

PREPAID = [{"share": 1.0, "rate": 1.6, "start": 7 / 12, "end": 7 / 12 + 2.0, "prepayment": 0.2}]


def _collateral_and_paths(doc):
    run = prepare(load_spec(doc))
    (_, cash, value, _), = PathCache(run, 16, 1, None)
    return run, cash, value, waterfall(run, PathCache(run, 16, 1, None))


def test_prepayments_paid_to_the_loan_prepay_it_at_the_next_payment():
    """A 2-year contract from 7 months, 20% prepaid, on 1,000 GPUs at 1.6 USD/GPU-hr: its
    prepaid 20% (5,606,400 USD) is received at 7 months and prepays the bullet at the 9-month
    payment, and the fleet's cash no longer carries it as the service is delivered."""
    doc = _loan_doc(PREPAID, capex=1.0e6, prepayments="loan")
    run, cash, value, (out, ltv, _, _) = _collateral_and_paths(doc)
    prepaid = 0.2 * 1.6 * 1000 * 8760.0 * 2.0
    k = 2                                   # the payment at 0.75 years, the first after 7 / 12
    at = run.args.pay_index
    assert run.grid[at[k]] == pytest.approx(0.75)
    assert ltv[:, k] * value[:, at[k]] == pytest.approx(1.0e8, rel=1e-12)                # before it
    assert ltv[:, k + 1] * value[:, at[k + 1]] == pytest.approx(1.0e8 - prepaid, rel=1e-12)  # after it
    assert np.all(out[:, PRINCIPAL] == pytest.approx(1.0e8)) and np.all(out[:, PAYMENT_DEFAULT] == 0.0)
    account_run, account_cash, _, (_, account_ltv, _, _) = _collateral_and_paths(
        _loan_doc(PREPAID, capex=1.0e6))
    assert account_ltv[:, k + 1] * value[:, at[k + 1]] == pytest.approx(1.0e8, rel=1e-12)
    running = (run.grid > 7 / 12 + 1e-9) & (run.grid < 7 / 12 + 2.0 + 1e-9)
    hours = 8760.0 * np.diff(run.grid, prepend=0.0)
    assert cash[0, running] == pytest.approx(hours[running] * 1000 * 1.6 * 0.8, rel=1e-12)   # nothing released
    assert account_cash[0, running] - cash[0, running] == pytest.approx(hours[running] * 1000 * 1.6 * 0.2,
                                                                        rel=1e-9)
    assert np.all(run.collateral.model.kernel_args(run.grid, run.collateral.market)[1].released_cash == 0.0)


def test_prepayments_paid_to_the_loan_shorten_an_amortizing_schedule():
    """The schedule stays the contract's; the prepaid amount comes off its last installments."""
    linear = dict(amortization="linear", principal=1.0e7)
    _, _, _, (account, _, _, _) = _collateral_and_paths(_loan_doc(PREPAID, capex=1.0e6, **linear))
    run, _, _, (loan, _, _, _) = _collateral_and_paths(_loan_doc(PREPAID, capex=1.0e6, prepayments="loan", **linear))
    assert math.fsum(run.args.principal_due) == pytest.approx(1.0e7, rel=1e-12)
    assert np.all(loan[:, PRINCIPAL] == pytest.approx(1.0e7)) and np.all(account[:, PRINCIPAL] == pytest.approx(1.0e7))
    # repaid sooner: a shorter weighted-average life
    assert np.all(loan[:, TIME_PRINCIPAL] < account[:, TIME_PRINCIPAL])


# ---- liquidation in tranches ---------------------------------------------------------------------

FLAT = {"kind": "gbm", "spot": 80.0, "vol": 0.0, "rate": 0.04, "dividend": 0.04}   # V = 80 on every date


def _liquidated(**instrument) -> dict:
    """100 against a flat collateral of 80 breaches an LTV trigger of 1 at the first payment
    (0.25 years) and is accelerated; the lag is half a year."""
    ins = dict({"kind": "loan", "principal": 100.0, "maturity": 2.0, "coupon": 0.05, "ltv_trigger": 1.0,
                "default_on": "payment-or-covenant", "liquidation_lag": 0.5}, **instrument)
    return gpufin.price({"model": FLAT, "instrument": ins, "mc": {"paths": 16, "seed": 1}})


def test_small_tranches_with_a_lower_haircut_recover_more_on_a_flat_collateral():
    curve = [[0.25, 0.05], [1.0, 0.2]]
    whole = _liquidated(liquidation_haircut=0.2)
    assert _liquidated(haircut_curve=curve)["expected_loss"] == whole["expected_loss"]   # h(1) = 0.2
    tranches = _liquidated(haircut_curve=curve, liquidation_tranches=4)
    assert tranches["acceleration_probability"] == 1.0
    df = lambda t: math.exp(-0.04 * t)
    recovery = sum(df(0.25 + 0.125 * q) * 80.0 / 4 * (1 - 0.05) for q in range(1, 5))
    assert tranches["expected_loss"] == pytest.approx(df(0.25) * 100.0 - recovery, rel=1e-12)
    assert whole["expected_loss"] == pytest.approx(df(0.25) * 100.0 - df(0.75) * 80.0 * 0.8, rel=1e-12)
    assert tranches["expected_loss"] < whole["expected_loss"] and tranches["value"] > whole["value"]


def test_recovery_in_tranches_by_hand_on_one_path():
    """Two tranches at 0.5 and 0.75 years after a default at 0.25, a haircut of 10% on half the
    collateral at once; the fleet's cash (1 USD a month) is collected on the GPUs not yet sold."""
    doc = {"model": FLAT, "mc": {"paths": 16, "seed": 1},
           "instrument": {"kind": "loan", "principal": 100.0, "maturity": 2.0, "coupon": 0.0,
                          "ltv_trigger": 1.0, "default_on": "payment-or-covenant", "liquidation_lag": 0.5,
                          "liquidation_tranches": 2, "haircut_curve": [[0.5, 0.1], [1.0, 0.3]]}}
    run = prepare(load_spec(doc))
    grid = run.grid
    assert grid == pytest.approx(np.arange(31) / 12.0, abs=1e-12)
    value = (90.0 - 10.0 * grid)[None, :]          # LTV 100 / 87.5 at the first payment
    cash = np.ones((1, grid.size))
    out = loan_paths(seed_key(1), 0, cash, value, value[:, :0], run.args._replace(sponsor=False))[0]
    df = np.exp(-0.04 * grid)
    sales = df[6] * 85.0 / 2 * 0.9 + df[9] * 82.5 / 2 * 0.9         # at 0.5 and 0.75 years
    collected = df[4:7].sum() + 0.5 * df[7:10].sum()               # half the GPUs after the first sale
    assert out[0, LOSS] == pytest.approx(df[3] * 100.0 - (sales + collected), rel=1e-12)
