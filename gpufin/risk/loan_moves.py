"""A loan on a gpu-fleet under many index and rate moves, from a few fleet runs.

A move (m, d) multiplies every index level of the fleet by m (gpufin.risk.bumps.scale_index)
and shifts every rate by d (shift_rates). On the same paths (the same draws) the collateral
under a move follows from series the fleet kernel writes beside its own (pricing_kernels.fleet,
write_parts), exactly in m, since an index move only adds ln m to the long factor:
- cash = (cash - moving) + m moving: contracted cash, prepayments and opex do not move with
  the index; merchant revenue, re-let contracts and the servicer's revenue-linked cost do;
- income value = max(m merchant - GPUs opex_pv, GPUs floor), residual value = value x m^e (e the
  residual elasticity); going-concern value = income value + held - m given_up.
A rate shift leaves the cash as it is and moves the discounting inside the values (merchant,
opex_pv, held, given_up), smoothly: those are interpolated in d on Chebyshev nodes spanning the
moves' shifts (NODES fleet runs; a polynomial of degree NODES - 1, exact at a node and where
the moves have no more shifts than nodes); where nothing in the paths is discounted (residual
or book value, no going concern) one run, the document's own, serves every shift. The loan's
own terms (curve, coupons, sculpted schedule) are prepared at each move's shift exactly, and
its waterfall runs once per move on the rebuilt paths, rebuilt for many moves in one pass over
the nodes' series (pricing_kernels.moves). A move with m = 1 on a node is the node's own run:
the loan's price, bit for bit. Checked against full revaluation of each moved document
(tests/test_loan_moves.py).
"""
from __future__ import annotations

import numpy as np

from gpufin.engines.collateral import build_collateral, fleet_chunks, in_market_of
from gpufin.engines.loan import LoanRun, loan_value, prepare
from gpufin.engines.montecarlo import seed_key
from gpufin.risk.bumps import shift_rates
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import (CASH, CONTRACTS_HELD, GPUS, MERCHANT_GIVEN_UP, MERCHANT_VALUE, MOVING_CASH,
                                    N_PARTS)
from pricing_kernels.loan import loan_paths
from pricing_kernels.moves import moved_collateral

NODES = 5                       # Chebyshev nodes in the rate shift
BATCH_BYTES = 1 << 26           # the collateral of the moves rebuilt in one pass: 64 MiB at most
MOVE_KEYS = frozenset({"index_factor", "rate_shift"})


def movable_loan(doc: dict, shocks: list[dict]) -> bool:
    """Whether moved_loan_values values this document under these shocks: a loan on a
    gpu-fleet, moved only by index factors and rate shifts."""
    return (doc.get("instrument", {}).get("kind") == "loan" and doc.get("model", {}).get("kind") == "gpu-fleet"
            and all(set(k) <= MOVE_KEYS for k in shocks))


class _Node:
    """The fleet's paths at one rate shift: the loan prepared there, and the kernel's series."""

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
        self.opex_pv, self.floor = model.opex_and_floor(run.grid, market)


class _Shifted:
    """Loan runs by rate shift (None: the document as it is), prepared once each on one
    collateral model (a rate shift moves only its market)."""

    def __init__(self, doc: dict):
        self.doc, self.runs, self.collateral = doc, {}, None

    def __call__(self, shift: float | None) -> LoanRun:
        if shift not in self.runs:
            s = load_spec(self.doc if shift is None else shift_rates(self.doc, shift))
            if self.collateral is None:
                self.collateral = build_collateral(s)
            self.runs[shift] = prepare(s, None, in_market_of(self.collateral, s))
        return self.runs[shift]


def moved_loan_values(doc: dict, moves: list[tuple[float, float | None]]) -> list[float]:
    """The loan's value (USD, as gpufin.price gives it) under each move (index factor m, rate
    shift d or None), on the document's own paths."""
    moves = [(m, None if d in (None, 0.0) else d) for m, d in moves]   # a zero shift is no shift
    shifted = _Shifted(doc)
    nodes = _nodes({d for _, d in moves}) if _rates_move_paths(shifted(None)) else [None]
    built = [_Node(shifted(d)) for d in nodes]
    values = [None] * len(moves)
    rebuilt = []
    for k, (m, d) in enumerate(moves):
        if m == 1.0 and d in nodes:
            node = built[nodes.index(d)]
            values[k] = _waterfall_value(node.run, node.cash, node.value, node.going)
        else:
            rebuilt.append(k)
    if not rebuilt:
        return values
    rebuild = _Rebuild(built, [0.0 if d is None else d for d in nodes], len(rebuilt))
    for start in range(0, len(rebuilt), rebuild.batch):
        ks = rebuilt[start:start + rebuild.batch]
        for k, collateral in zip(ks, zip(*rebuild([moves[k] for k in ks]))):
            values[k] = _waterfall_value(shifted(moves[k][1]), *collateral)
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
    allocator to reuse its memory loan after loan), and the nodes' opex PV [node, date];
    `batch` moves at a time (at most BATCH_BYTES, at most `moves`) into buffers written over by
    each call."""

    def __init__(self, built: list[_Node], at: list[float], moves: int):
        self.base, self.at = built[0], at
        model, cash, going = self.base.run.collateral.model, self.base.cash, self.base.going
        read = {MERCHANT_VALUE: model.valuation == "income" or going.shape[1] > 0,
                CONTRACTS_HELD: going.shape[1] > 0, MERCHANT_GIVEN_UP: going.shape[1] > 0}
        self.first = (cash, self.base.value, self.base.parts[MOVING_CASH], self.base.parts[GPUS])
        self.discounted = tuple(np.stack([node.parts[part] for node in built]) if used else np.empty((0, 0, 0))
                                for part, used in read.items())
        self.opex_pv = np.stack([node.opex_pv for node in built])
        self.batch = min(moves, max(1, BATCH_BYTES // (3 * cash.nbytes)))
        self.out = tuple(np.empty((self.batch,) + a.shape) for a in (cash, cash, going))

    def __call__(self, moves: list[tuple[float, float | None]]) -> tuple:
        """(cash, value, going) [move, path, date] under each move (m, d), valid until the
        next call."""
        model = self.base.run.collateral.model
        m = np.array([m for m, _ in moves])
        weights = np.array([lagrange_weights(self.at, 0.0 if d is None else d) for _, d in moves])
        # node by node, not by BLAS, whose rounding depends on the batch's shape
        opex_pv = sum(weights[:, [n]] * self.opex_pv[n] for n in range(len(self.at)))
        moved_collateral(m, weights, self.first, self.discounted, opex_pv, self.base.floor,
                         model.valuation == "income", m ** model.residual_elasticity, self.out)
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
