"""Loans on gpu-fleets under index, rate and power-price moves from a few fleet runs
(gpufin.risk.loan_moves): the same values as revaluing each moved document in full, on every
shipped deal and on fleets that exercise every moving part (re-leasing at the index, a replaced
servicer, a basis index, residual and income valuation), with more rate shifts than Chebyshev
nodes; the parts the fleet kernel writes rebuild its own cash and value; the unmoved loan is
its price bit for bit; the stress scenarios that move the fleet's own inputs are revalued in
full, the others rebuilt; VaR and stress on a book of loans use them and give the figures of
full revaluation."""
import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

import gpufin
import gpufin.portfolio.positions as positions
import gpufin.risk.loan_moves as loan_moves
from gpufin.engines.collateral import fleet_chunks
from gpufin.engines.loan import fixed_schedule, prepare
from gpufin.risk.bumps import apply_scenario
from gpufin.risk.loan_moves import NODES, chebyshev_nodes, lagrange_weights, loan_scenario_values, moved_loan_values
from gpufin.spec.files import read_document
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import CASH, GPUS, MERCHANT_VALUE, MOVING_CASH, N_PARTS

PATHS = 600
# index factors, rate shifts and power-price factors: seven distinct shifts (more than NODES),
# one move per node kind: the unmoved loan, an index move alone, a rate move alone, both; a
# power move alone, on a node and off the nodes
MOVES = [(1.0, None), (0.6, None), (1.0, 0.02), (0.7, 0.01), (1.3, -0.005), (0.9, 0.0071),
         (1.1, -0.0123), (0.55, 0.002), (1.2, 0.015), (1.0, None, 2.0), (0.6, 0.01, 1.5),
         (1.0, 0.0042, 0.5)]
REL = 1e-9          # of the loan's value: the Chebyshev interpolation in the rate shift


def _deal(name: str) -> dict:
    doc = read_document(f"data/deals/{name}.toml")
    doc["mc"]["paths"] = PATHS
    return doc


def _merchant_with_everything() -> dict:
    """The merchant deal with contracts re-let at a basis index, a replaced servicer and the
    income approach: every series that moves with the index."""
    doc = _deal("merchant_fleet")
    model = doc["model"]
    model.update(valuation="income", merchant_index="contract-1y",
                 basis_index={"name": "contract-1y", "spot": 2.5, "mean_reversion": 4.0, "short_vol": 0.22,
                              "correlation": 0.8},
                 contracts=[{"customer": "lab", "share": 0.5, "rate": 2.6, "end": 3.0, "default_hazard": 0.4}],
                 releasing={"rate": "contract-index", "index": "contract-1y", "downtime_months": 1},
                 platform={"default_hazard": 0.3, "on_default": "replace-servicer", "replacement_cost": 2e6,
                           "replacement_cost_revenue": 2.0, "downtime_months": 1})
    return doc


def _liquidation_only() -> dict:
    """The non-IG deal recovering by liquidation alone: no going concern, residual value."""
    doc = _deal("non_ig_ddtl")
    doc["instrument"]["recovery"] = "liquidation"
    return doc


DOCS = {"ig_anchored_ddtl": lambda: _deal("ig_anchored_ddtl"), "non_ig_ddtl": lambda: _deal("non_ig_ddtl"),
        "merchant_fleet": lambda: _deal("merchant_fleet"), "everything": _merchant_with_everything,
        "liquidation_only": _liquidation_only}


def _full(doc: dict, m: float, d, f: float = 1.0) -> float:
    shocks = {"index_factor": m, "power_factor": f} | ({} if d is None else {"rate_shift": d})
    return gpufin.price(apply_scenario(doc, shocks))["value"]


@pytest.mark.parametrize("name", list(DOCS))
def test_moved_values_are_full_revaluation(name):
    doc = DOCS[name]()
    fast = moved_loan_values(doc, MOVES)
    unmoved = gpufin.price(doc)["value"]
    for move, value in zip(MOVES, fast):
        assert value == pytest.approx(_full(doc, *move), rel=REL, abs=REL * abs(unmoved)), move
    assert fast[0] == unmoved                                # the unmoved loan, bit for bit


@pytest.mark.parametrize("name, runs", [("liquidation_only", 1), ("non_ig_ddtl", NODES + 1)])
def test_fleet_runs_only_where_rates_move_the_paths(name, runs, monkeypatch):
    """Residual value and no going concern: no discounted income in the paths, so the
    document's own run serves every rate shift; a going concern needs the Chebyshev nodes
    (and the unshifted run)."""
    node, built = loan_moves._Node, []

    def counted(run):
        built.append(run)
        return node(run)

    monkeypatch.setattr(loan_moves, "_Node", counted)
    moved_loan_values(DOCS[name](), MOVES)
    assert len(built) == runs


@pytest.mark.parametrize("name", ["non_ig_ddtl", "everything"])
def test_moves_rebuilt_in_batches_give_the_same_bits(name, monkeypatch):
    doc = DOCS[name]()
    whole = moved_loan_values(doc, MOVES)
    one_move = 3 * PATHS * 8 * len(prepare(load_spec(doc)).grid)      # bytes of one move's collateral
    for batch_bytes in (1, 3 * one_move):              # one move a batch; three, the last batch two
        monkeypatch.setattr(loan_moves, "BATCH_BYTES", batch_bytes)
        assert moved_loan_values(doc, MOVES) == whole


@pytest.mark.parametrize("name", ["non_ig_ddtl", "everything"])
def test_parts_rebuild_the_kernels_own_cash_and_value(name):
    """At m = 1 the parts give back CASH and, under the income approach, VALUE."""
    run = prepare(load_spec(DOCS[name]()))
    model, market = run.collateral.model, run.collateral.market
    (_, out), = fleet_chunks(model, market, run.grid, PATHS, 7, None, run.observe, 0, CASH, parts=True)
    parts = out[-N_PARTS:]
    cash = out[0]
    assert np.allclose((cash - parts[MOVING_CASH]) + parts[MOVING_CASH], cash, rtol=1e-13, atol=1e-6)
    (_, plain), = fleet_chunks(model, market, run.grid, PATHS, 7, None, run.observe, 0, CASH)
    assert np.array_equal(out[:plain.shape[0]], plain)            # the parts change nothing else
    if model.valuation == "income":
        tables = model.income_tables(run.grid, market)
        gpus = parts[GPUS]
        value = np.maximum(parts[MERCHANT_VALUE] - gpus * tables["opex_pv"], gpus * tables["floor"])
        assert np.allclose(value, out[1], rtol=1e-12, atol=1e-6)


def test_interpolation_weights():
    """Lagrange weights reproduce a polynomial of degree NODES - 1 on Chebyshev nodes, and are
    one-hot on a node."""
    nodes = chebyshev_nodes([-0.02, 0.01, 0.03], NODES)
    assert len(nodes) == NODES and min(nodes) > -0.02 and max(nodes) < 0.03
    poly = np.polynomial.Polynomial([0.3, -2.0, 5.0, 1.0, -4.0])
    for x in (-0.015, 0.0, 0.021):
        assert lagrange_weights(nodes, x) @ poly(np.array(nodes)) == pytest.approx(poly(x), rel=1e-12)
    assert lagrange_weights(nodes, nodes[2]).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def _stress_shocks() -> list[dict]:
    """The loan as it is, then each scenario of data/scenarios.toml."""
    return [{}] + [{k: v for k, v in table.items() if k != "description"}
                   for table in read_document("data/scenarios.toml").values()]


def test_stress_scenarios_rebuild_index_rate_and_power_moves_and_revalue_the_rest(monkeypatch):
    """data/scenarios.toml on the non-IG deal with its sculpted schedule written in (as a book
    values it: the same contract in every scenario): new-generation, power-doubles and
    rates-up are rebuilt from two fleet runs (the document's own and the one at +200 bp);
    utilization, the anchor's default and the severe case, which move the fleet's own inputs,
    are revalued in full, bit for bit. Every scenario costs the lender."""
    doc, shocks = fixed_schedule(DOCS["non_ig_ddtl"]()), _stress_shocks()
    node, built = loan_moves._Node, []
    monkeypatch.setattr(loan_moves, "_Node", lambda run: built.append(run) or node(run))
    values = loan_scenario_values(doc, shocks)
    assert len(built) == 2
    unmoved = gpufin.price(doc)["value"]
    assert values[0] == unmoved
    for shock, value in zip(shocks[1:], values[1:]):
        full = gpufin.price(apply_scenario(doc, shock))["value"]
        if set(shock) <= {"index_factor", "rate_shift", "power_factor"}:
            assert value == pytest.approx(full, rel=REL, abs=REL * abs(unmoved)), shock
        else:
            assert value == full, shock
        assert value < unmoved, shock


def test_a_scenario_that_leaves_the_fleet_as_it_is_is_not_revalued(monkeypatch):
    """The merchant deal has no contracts: the anchor's default leaves it as it is, so that
    scenario is the loan's own value and only utilization and the severe case are revalued in
    full."""
    doc, shocks = fixed_schedule(DOCS["merchant_fleet"]()), _stress_shocks()
    revalued, full = [], loan_moves.loan_value_only
    monkeypatch.setattr(loan_moves, "loan_value_only", lambda s: revalued.append(s) or full(s))
    values = dict(zip(["base", *read_document("data/scenarios.toml")], loan_scenario_values(doc, shocks)))
    assert values["anchor-default"] == values["base"] == gpufin.price(doc)["value"]
    assert len(revalued) == 2


def _loan_book(tmp_path) -> str:
    """A book of the three shipped deals, one loan each."""
    names = ("ig_anchored_ddtl", "non_ig_ddtl", "merchant_fleet")
    for name in names:
        (tmp_path / f"{name}.json").write_text(json.dumps(_deal(name)))
    book = tmp_path / "loans.csv"
    book.write_text("id,quantity,book,spec\n" + "".join(f"LOAN-{n},1,credit,{name}.json\n"
                                                        for n, name in enumerate(names)))
    return str(book)


def _refuse_fleet_loans(monkeypatch) -> list:
    """Send every loan to full revaluation; returns the documents refused."""
    refused = []

    def full_revaluation(doc):
        refused.append(doc)
        return False

    monkeypatch.setattr(positions, "fleet_loan", full_revaluation)
    return refused


def test_var_of_a_book_of_loans_is_that_of_full_revaluation(tmp_path, monkeypatch):
    """var_book on the three shipped deals: the loans go through moved_loan_values, and the
    VaR and ES equal those of revaluing every moved document in full."""
    book = _loan_book(tmp_path)
    fast = gpufin.var_book(book, scenarios=12, seed=3)
    refused = _refuse_fleet_loans(monkeypatch)
    full = gpufin.var_book(book, scenarios=12, seed=3)
    assert len(refused) == 3
    assert fast["errors"] == full["errors"] == 0
    for key in ("var", "es", "mean_pnl"):
        assert fast[key] == pytest.approx(full[key], rel=1e-9, abs=1e-3), key
    assert not math.isnan(fast["var"])


def test_stress_of_a_book_of_loans_is_that_of_full_revaluation(tmp_path, monkeypatch):
    """stress_book on the three shipped deals: each loan's P&L under every scenario equals
    that of revaluing every moved document in full, and is the same bits one loan a chunk on
    a local Dask cluster."""
    book = _loan_book(tmp_path)
    fast = gpufin.stress_book(book)
    pd.testing.assert_frame_equal(gpufin.stress_book(book, chunk=1, workers=2), fast, check_exact=True)
    refused = _refuse_fleet_loans(monkeypatch)
    full = gpufin.stress_book(book)
    assert len(refused) == 3
    names = list(read_document("data/scenarios.toml"))
    assert fast["error"].isna().all() and full["error"].isna().all()
    for name in names:
        scale = max(abs(fast[name]).max(), 1.0)
        assert np.allclose(fast[name], full[name], rtol=1e-9, atol=1e-9 * scale), name


def test_a_basis_index_moves_with_the_fleets_index():
    """scale_index moves a gpu-fleet's basis index with its own index."""
    doc = _merchant_with_everything()
    moved = apply_scenario(doc, {"index_factor": 0.5})
    assert moved["model"]["basis_index"]["spot"] == 1.25
    assert copy.deepcopy(doc)["model"]["basis_index"]["spot"] == 2.5
