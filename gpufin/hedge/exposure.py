"""The exposure of a hedge, valued per path on the paths its candidates see.

Three kinds, from the spec:
- `loan` (a loan on a gpu-fleet or on an index model): the lender's value per path,
  gpufin.engines.loan.path_values (PV of receipts less the draws funded: pathwise discounted
  cash of the whole life), with its loss and payment default per path;
- `fleet` (a gpu-fleet spec without an instrument): the fleet's merchant exposure, the PV of
  its operating cash flow (contracted and merchant revenue less opex) over the months to the
  horizon;
- `trade` (a derivative spec on an index model): its value as gpufin.hedge.values gives it.
The index the candidates settle on: the fleet's rental index, or the index model. A fleet's
index on the hedge's dates comes from a second fleet run with the same seed (its draws are
keyed by date, so each path is the loan's path); a loan on an index model runs its waterfall
on the index simulated on the hedge's grid joined with its own. Every chunk carries the
index's state (chi, xi) and its Horizon, a fleet's written by the fleet kernel
(pricing_kernels.fleet, write_state), so futures, forwards and swaps are valued in closed
form at the horizon on a fleet's paths as on an index model's.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines import loan as loan_engine
from gpufin.engines.collateral import build_collateral, fleet_chunks
from gpufin.engines.montecarlo import (PATH_CHUNK, SINGLE, Horizon, build_index_set, index_chunks,
                                       merged_grid, seed_key)
from gpufin.errors import SpecError
from gpufin.hedge.paths import settled_index
from gpufin.hedge.positions import fleet_table
from gpufin.hedge.values import lay_out, path_values
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.fleet import fleet_setup
from gpufin.models.multi_index import IndexPaths
from gpufin.spec.schema import Spec
from pricing_kernels.loan import LOSS, PAYMENT_DEFAULT, loan_paths


@dataclass(frozen=True)
class Exposure:
    """What is hedged: its kind (loan, fleet or trade), spec, the index model its candidates
    share (gpufin.hedge.paths.build_index_set, or a fleet's index) and the index it reads, the
    market of the paths, the `[model]` and `[market]` tables a candidate without its own
    takes, its last payment (years) and what its kind needs (a LoanRun, a fleet setup, a plan)."""
    kind: str
    spec: Spec
    indices: object
    index: str
    market: object
    model_doc: dict
    market_doc: dict
    maturity: float
    detail: object

    @property
    def fleet(self) -> bool:
        """Whether the paths are a gpu-fleet's (the fleet kernel's index and state)."""
        return self.kind == "fleet" or (self.kind == "loan" and self.detail.collateral.fleet)


@dataclass(frozen=True)
class Chunk:
    """One chunk of paths: each index's IndexPaths on the hedge's grid (level and state), their
    horizon states (gpufin.engines.montecarlo.Horizon), the exposure's value per path (USD)
    and, for a loan, its loss (USD) and payment default."""
    first: int
    paths: dict
    horizons: dict
    value: np.ndarray
    loss: np.ndarray | None = None
    default: np.ndarray | None = None


def build_exposure(s: Spec, model_doc: dict) -> Exposure:
    """The Exposure of a validated spec; `model_doc` is its `[model]` table as read."""
    ins = s.instrument
    if s.model.kind == "gpu-fleet":
        if ins is None:
            setup = fleet_setup(s)
            return Exposure("fleet", s, setup.model.indices(), setup.model.indices().names[0], setup.market,
                            fleet_table(setup.model), _market_doc(setup.market, s, setup.model),
                            float(setup.times[-1]), setup)
        if ins.kind != "loan":
            raise SpecError("instrument.kind", f"got {ins.kind!r}; a gpu-fleet is collateral for loans")
    if ins is None:
        raise SpecError("instrument", "missing; expected a loan, a derivative, or a gpu-fleet model alone")
    if ins.kind == "loan":
        run = loan_engine.prepare(s, None, build_collateral(s))
        collateral = run.collateral
        if collateral.fleet:
            fleet = collateral.model
            return Exposure("loan", s, fleet.indices(), fleet.indices().names[0], collateral.market,
                            fleet_table(fleet), _market_doc(collateral.market, s, fleet), float(run.grid[-1]), run)
        return Exposure("loan", s, build_index_set(s, collateral.market), SINGLE, collateral.market,
                        model_doc, _market_doc(collateral.market, s), float(run.grid[-1]), run)
    market = build_market(s.market, s.model.rate, s.timeline)
    plan = build_plan(ins, s.model.spot, s.timeline)
    return Exposure("trade", s, build_index_set(s, market), settled_index(ins), market, model_doc,
                    _market_doc(market, s), plan.maturity, plan)


def _market_doc(market, s: Spec, fleet=None) -> dict:
    """The `[market]` table of the exposure's built market: valuation date, curve, forward curve
    (which a fleet with a basis index carries in its multi-index model table instead)."""
    curve = [] if fleet is not None and fleet.basis is not None else s.market.forward_curve
    doc = {"curve": market.curve.model_dump(exclude_none=True),
           "forward_curve": [p.model_dump() for p in curve]}
    if market.valuation_date is not None:
        doc["valuation_date"] = market.valuation_date.isoformat()
    return doc


def event_times(exposure: Exposure) -> list[float]:
    """The exposure's own prints and payments (a trade's), to lay on the hedge's grid."""
    if exposure.kind != "trade":
        return []
    return exposure.detail.event_times().tolist()


def chunks(exposure: Exposure, grid: np.ndarray, horizon: float, n_paths: int, seed: int):
    """Yield a Chunk at a time over `n_paths` paths of `seed`, the indices on `grid` (years)."""
    if exposure.kind == "trade":
        priced = lay_out(exposure.detail, exposure.index, exposure.market, grid, horizon, "instrument")
        for first, paths, horizons in index_chunks(exposure.indices, exposure.market, grid, horizon,
                                                   n_paths, seed):
            yield Chunk(first, paths, horizons, path_values(priced, paths, horizons))
    elif exposure.kind == "fleet":
        yield from _fleet_cash(exposure.detail, grid, horizon, n_paths, seed)
    elif exposure.fleet:
        yield from _fleet_loan(exposure.detail, grid, horizon, n_paths, seed)
    else:
        yield from _index_loan(exposure, grid, horizon, n_paths, seed)


def _loan_chunk(run, first, paths, horizons, cash, value, going) -> Chunk:
    out = loan_paths(seed_key(run.spec.mc.seed), first, cash, value, going, run.args)[0]
    return Chunk(first, paths, horizons, loan_engine.path_values(run, out), out[:, LOSS],
                 out[:, PAYMENT_DEFAULT] > 0.0)


def _index_only(model):
    """A fleet whose run gives only its index: no contracts, book value (no income tables)."""
    return replace(model, contracts=(), valuation="book", continuation=False)


def _fleet_index(model, market, out: np.ndarray, columns, grid: np.ndarray, horizon: float):
    """({name: IndexPaths}, {name: Horizon}) of each of the fleet's indices on the hedge's
    `grid` (years) from a fleet kernel's output with the state (its first row the level, its
    last rows chi, xi and with a basis index c), taking its date columns `columns`."""
    rows = 3 if model.basis is not None else 2
    state = [np.ascontiguousarray(out[row][:, columns]) for row in (0, *range(-rows, 0))]
    paths = model.state_paths(grid, state)
    at = int(np.searchsorted(grid, horizon))
    indices = model.indices()
    return paths, {name: Horizon(indices.index(name), market, horizon, p, at) for name, p in paths.items()}


def _fleet_loan(run, grid, horizon, n_paths, seed):
    collateral = run.collateral
    loan_side = fleet_chunks(collateral.model, collateral.market, run.grid, n_paths, seed, PATH_CHUNK,
                             run.observe)
    index_side = fleet_chunks(_index_only(collateral.model), collateral.market, grid, n_paths, seed,
                              PATH_CHUNK, state=True)
    for (first, out), (_, index) in zip(loan_side, index_side):
        going = out[4] if out.shape[0] > 4 else out[3][:, :0]
        paths, horizons = _fleet_index(collateral.model, collateral.market, index, slice(None), grid, horizon)
        yield _loan_chunk(run, first, paths, horizons, out[2], out[3], going)


def _index_loan(exposure, grid, horizon, n_paths, seed):
    run = exposure.detail
    joined = merged_grid(np.concatenate([grid, run.grid]), [])
    hedge_cols, loan_cols = np.searchsorted(joined, grid), np.searchsorted(joined, run.grid)
    at = int(np.searchsorted(grid, horizon))
    for first, paths, horizons in index_chunks(exposure.indices, exposure.market, joined, horizon,
                                               n_paths, seed):
        value = np.ascontiguousarray(paths[exposure.index].level[:, loan_cols])
        on_grid = {name: IndexPaths(*(None if x is None else x[:, hedge_cols] for x in (p.level, p.chi, p.xi)))
                   for name, p in paths.items()}
        states = {name: replace(h, paths=on_grid[name], at=at) for name, h in horizons.items()}
        yield _loan_chunk(run, first, on_grid, states, np.zeros_like(value), value, value[:, :0])


def _fleet_cash(setup, grid, horizon, n_paths, seed):
    months = setup.model.monthly_times(horizon)
    joined = merged_grid(np.concatenate([grid, months]), [])
    observe = ~np.isin(joined, months)
    hedge_cols = np.searchsorted(joined, grid)
    df = np.where(observe, 0.0, setup.market.discount(joined))
    for first, out in fleet_chunks(setup.model, setup.market, joined, n_paths, seed, PATH_CHUNK, observe,
                                   state=True):
        paths, horizons = _fleet_index(setup.model, setup.market, out, hedge_cols, grid, horizon)
        yield Chunk(first, paths, horizons, out[2] @ df)
