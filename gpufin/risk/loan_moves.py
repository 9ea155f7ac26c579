"""A loan on a gpu-fleet under many index, rate and power-price moves, from a few fleet runs,
and under any stress scenario.

A move (m, d, f) multiplies every index level of the fleet by m (gpufin.risk.bumps.scale_index),
shifts every rate by d (shift_rates) and multiplies the power price by f (scale_power). On the
same paths (the same draws) the collateral under a move follows from series the fleet kernel
writes beside its own (pricing_kernels.fleet, write_parts), exactly in m and f, since an index
move only adds ln m to the long factor and the power price enters only the opex:
- cash = (cash - moving) + m moving - hours GPUs (opex_f - opex): contracted cash and
  prepayments do not move with the index; merchant revenue, re-let contracts and the
  servicer's revenue-linked cost do; the opex (USD per GPU-hour) of the moved power price is
  paid on the period's billable GPU-hours;
- income value = max(m merchant - GPUs opex_pv, GPUs floor), opex_pv = discounted hours x
  opex_f; residual value = value x m^e (e the residual elasticity); going-concern value =
  income value + held - m given_up.
A rate shift leaves the cash as it is and moves the discounting inside the values (merchant,
discounted hours, held, given_up), smoothly: those are interpolated in d on Chebyshev nodes
spanning the moves' shifts (NODES fleet runs; a polynomial of degree NODES - 1, exact at a node
and where the moves have no more shifts than nodes); where nothing in the paths is discounted
(residual or book value, no going concern) one run, the document's own, serves every shift.
The loan's own terms (curve, coupons, sculpted schedule) are prepared at each move's shift and
power price exactly, and its waterfall runs once per move on the rebuilt paths, rebuilt for
many moves in one pass over the nodes' series (pricing_kernels.moves). A move with m = f = 1 on
a node is the node's own run: the loan's price, bit for bit. Checked against full revaluation
of each moved document (tests/test_loan_moves.py).

Stress scenarios (data/scenarios.toml) that also move the fleet's own inputs (utilization, an
anchor's default) change its paths beyond these series: loan_scenario_values revalues those in
full and rebuilds the rest.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gpufin.engines.collateral import build_collateral, fleet_chunks, in_market_of
from gpufin.engines.loan import LoanRun, loan_value, loan_value_only, prepare
from gpufin.engines.montecarlo import seed_key
from gpufin.risk.bumps import apply_scenario, scale_power, shift_rates
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import (CASH, CONTRACTS_HELD, GPUS, MERCHANT_GIVEN_UP, MERCHANT_VALUE, MOVING_CASH,
                                    N_PARTS)
from pricing_kernels.loan import loan_paths
from pricing_kernels.moves import moved_collateral

NODES = 5                       # Chebyshev nodes in the rate shift
BATCH_BYTES = 1 << 26           # the collateral of the moves rebuilt in one pass: 64 MiB at most
MOVE_KEYS = frozenset({"index_factor", "rate_shift", "power_factor"})


class Move(NamedTuple):
    """An index factor m, a rate shift d (decimal; None: none) and a power-price factor f."""
    index_factor: float = 1.0
    rate_shift: float | None = None
    power_factor: float = 1.0


def fleet_loan(doc: dict) -> bool:
    """Whether loan_scenario_values values this document: a loan on a gpu-fleet."""
    return doc.get("instrument", {}).get("kind") == "loan" and doc.get("model", {}).get("kind") == "gpu-fleet"


def loan_scenario_values(doc: dict, shocks: list[dict]) -> list[float]:
    """The loan's value (USD, as gpufin.price gives it) under each shock table (the keys of
    data/scenarios.toml; {} is the loan as it is): those that move only the index, the rates
    and the power price rebuilt from a few fleet runs (moved_loan_values), the others by
    revaluing the moved document in full."""
    movable = [k for k, shock in enumerate(shocks) if _movable(doc, shock)]
    values = [None] * len(shocks)
    if movable:
        for k, value in zip(movable, moved_loan_values(doc, [_move(shocks[k]) for k in movable])):
            values[k] = value
    return [loan_value_only(load_spec(apply_scenario(doc, shock))) if value is None else value
            for shock, value in zip(shocks, values)]


def _move(shock: dict) -> Move:
    """The Move of a shock table's index factor, rate shift and power factor."""
    return Move(float(shock.get("index_factor", 1.0)), shock.get("rate_shift"), float(shock.get("power_factor", 1.0)))


def _movable(doc: dict, shock: dict) -> bool:
    """Whether a shock table moves only the document's index, rates and power price: its
    other shocks leave the document as it is (an anchor's default on a fleet without
    contracts, an anchor_default of false)."""
    others = {key: value for key, value in shock.items() if key not in MOVE_KEYS}
    return not others or apply_scenario(doc, others) == doc


class _Node:
    """The fleet's paths at one rate shift: the loan prepared there, the kernel's series, and
    the discounted hours ahead of each date (the opex PV per USD per GPU-hour of opex)."""

    def __init__(self, run: LoanRun):
        s = run.spec
        model, market = run.collateral.model, run.collateral.market
        parts = [out for _, out in fleet_chunks(model, market, run.grid, s.mc.paths, s.mc.seed,
                                                s.mc.chunk_paths, run.observe, 0, CASH, parts=True)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        self.run = run
        self.cash, self.value = out[0], out[1]
        self.going = out[2] if out.shape[0] > 2 + N_PARTS else out[1][:, :0]
        self.parts = out[-N_PARTS:]
        self.hours_pv = model.discounted_hours(run.grid, market)


class _Prepared:
    """Loan runs by rate shift (None: the document as it is) and power-price factor, prepared
    once each; the collateral model is built once per power price (a rate shift moves only its
    market)."""

    def __init__(self, doc: dict):
        self.doc, self.runs, self.collateral = doc, {}, {}

    def __call__(self, shift: float | None, power: float = 1.0) -> LoanRun:
        if (shift, power) not in self.runs:
            doc = self.doc if power == 1.0 else scale_power(self.doc, power)
            s = load_spec(doc if shift is None else shift_rates(doc, shift))
            if power not in self.collateral:
                self.collateral[power] = build_collateral(s)
            self.runs[shift, power] = prepare(s, None, in_market_of(self.collateral[power], s))
        return self.runs[shift, power]


def moved_loan_values(doc: dict, moves: list[tuple]) -> list[float]:
    """The loan's value (USD, as gpufin.price gives it) under each move (index factor m, rate
    shift d or None[, power-price factor f]: Move's fields), on the document's own paths."""
    moves = [Move(*move) for move in moves]
    moves = [move._replace(rate_shift=None) if move.rate_shift == 0.0 else move    # a zero shift is none
             for move in moves]
    prepared = _Prepared(doc)
    nodes = _nodes({move.rate_shift for move in moves}) if _rates_move_paths(prepared(None)) else [None]
    built = [_Node(prepared(d)) for d in nodes]
    values = [None] * len(moves)
    rebuilt = []
    for k, (m, d, f) in enumerate(moves):
        if m == 1.0 and f == 1.0 and d in nodes:
            node = built[nodes.index(d)]
            values[k] = _waterfall_value(node.run, node.cash, node.value, node.going)
        else:
            rebuilt.append(k)
    if not rebuilt:
        return values
    rebuild = _Rebuild(built, [0.0 if d is None else d for d in nodes], len(rebuilt))
    for start in range(0, len(rebuilt), rebuild.batch):
        ks = rebuilt[start:start + rebuild.batch]
        runs = [prepared(moves[k].rate_shift, moves[k].power_factor) for k in ks]
        collaterals = rebuild([moves[k] for k in ks], [run.collateral.model.opex for run in runs])
        for k, run, collateral in zip(ks, runs, zip(*collaterals)):
            values[k] = _waterfall_value(run, *collateral)
    return values


def _rates_move_paths(run: LoanRun) -> bool:
    """Whether a rate shift moves the fleet's paths: only through a discounted income, the
    collateral's value under the income approach or the going concern's. Otherwise one run,
    the document's own, serves every shift (its weight 1)."""
    model = run.collateral.model
    return model.valuation == "income" or model.continuation


def _waterfall_value(run: LoanRun, cash, value, going) -> float:
    """The loan's value (USD) from its waterfall on these collateral paths [path, date]."""
    return loan_value(run, loan_paths(seed_key(run.spec.mc.seed), 0, cash, value, going, run.args)[0])[0]


class _Rebuild:
    """The collateral of moves from the nodes' runs (rate shifts `at`): the first node's cash,
    value, moving cash and GPUs, and each discounted series that the value or the going
    concern reads stacked [node, path, date] (one array per series: each small enough for the
    allocator to reuse its memory loan after loan), the nodes' discounted hours [node, date]
    and the hours of each cash period; `batch` moves at a time (at most BATCH_BYTES, at most
    `moves`) into buffers written over by each call."""

    def __init__(self, built: list[_Node], at: list[float], moves: int):
        self.base, self.at = built[0], at
        run = self.base.run
        model, cash, going = run.collateral.model, self.base.cash, self.base.going
        read = {MERCHANT_VALUE: model.valuation == "income" or going.shape[1] > 0,
                CONTRACTS_HELD: going.shape[1] > 0, MERCHANT_GIVEN_UP: going.shape[1] > 0}
        self.first = (cash, self.base.value, self.base.parts[MOVING_CASH], self.base.parts[GPUS])
        self.discounted = tuple(np.stack([node.parts[part] for node in built]) if used else np.empty((0, 0, 0))
                                for part, used in read.items())
        self.hours_pv = np.stack([node.hours_pv for node in built])
        self.hours = np.concatenate([[0.0], model.period_hours(run.grid, run.observe)])
        self.batch = min(moves, max(1, BATCH_BYTES // (3 * cash.nbytes)))
        self.out = tuple(np.empty((self.batch,) + a.shape) for a in (cash, cash, going))

    def __call__(self, moves: list[Move], opex: list[float]) -> tuple:
        """(cash, value, going) [move, path, date] under each move, opex[move] its fleet's opex
        (USD per GPU-hour), valid until the next call."""
        model = self.base.run.collateral.model
        m = np.array([move.index_factor for move in moves])
        opex = np.array(opex)
        weights = np.array([lagrange_weights(self.at, 0.0 if move.rate_shift is None else move.rate_shift)
                            for move in moves])
        # node by node, not by BLAS, whose rounding depends on the batch's shape
        opex_pv = sum(weights[:, [n]] * (self.hours_pv[n] * opex[:, None]) for n in range(len(self.at)))
        moved_collateral(m, weights, opex - model.opex, self.hours, self.first, self.discounted, opex_pv,
                         model.salvage_floor, model.valuation == "income", m ** model.residual_elasticity,
                         self.out)
        return tuple(a[:len(moves)] for a in self.out)


def _nodes(shifts: set) -> list:
    """The rate shifts to run the fleet at: every shift when there are at most NODES, else
    NODES Chebyshev nodes across them, and the unshifted document (None) when a move has it."""
    if len(shifts) <= NODES:
        chosen = set(shifts)
    else:
        chosen = {None if x == 0.0 else x for x in chebyshev_nodes(shifts, NODES)}
        chosen |= {None} & shifts
    return sorted(chosen, key=lambda d: 0.0 if d is None else d)


def chebyshev_nodes(values, count: int) -> list[float]:
    """`count` Chebyshev nodes of the first kind spanning min(values) .. max(values) (None
    counts as 0), ascending."""
    numbers = [0.0 if v is None else v for v in values]
    lo, hi = min(numbers), max(numbers)
    k = np.arange(count)
    return sorted(((lo + hi) / 2.0 + (hi - lo) / 2.0 * np.cos((2 * k + 1) * np.pi / (2 * count))).tolist())


def lagrange_weights(nodes: list[float], x: float) -> np.ndarray:
    """Weights w with sum_n w_n f(nodes_n) the polynomial interpolating f at x (one-hot at a
    node)."""
    nodes = np.asarray(nodes, dtype=float)
    hit = np.flatnonzero(nodes == x)
    if hit.size:
        return np.eye(nodes.size)[hit[0]]
    weights = np.ones(nodes.size)
    for n, xn in enumerate(nodes):
        others = np.delete(nodes, n)
        weights[n] = np.prod((x - others) / (xn - others))
    return weights
