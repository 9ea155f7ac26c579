"""A derivative position's value per path at the hedge horizon, in USD of today.

Convention: the value at the horizon h is
- the closed-form conditional value where the model has one (futures, forwards and swaps,
  given the index state at h, gpufin.engines.montecarlo.Horizon): sum_p DF(pay_p) omega_p
  (E_h[A_p] - K_p), E_h[A_p] averaging the prints already made on the path and the
  conditional means of those still to come;
- else the pathwise discounted cash sum_p DF(pay_p) f_p(A_p) of the whole life, an unbiased
  estimate of the conditional value (its noise after h has mean zero given the path to h).
Every path carries the index's state, a gpu-fleet's included (the fleet kernel writes it).
An option on a future and a residual-value put are valued by their pathwise discounted
payoff at their maturity, from the index's state then (gpufin.engines.pricing.state_payoff).
A futures position is valued as its tailed equivalent: the settlement A - K discounted from
the settlement date like a forward's payment (K the file's strike, 0 when it has none: its
value is then notional x the discounted average price, not the 0 of a future entered at the
market; the P&L, measured from the mean, is the same). With deterministic rates a future and a forward differ only by
the interest on the variation margin, so one future hedges one forward on the same window
and index exactly. Values are per unit of the position's notional times its notional.
A position reads the index it settles on (`instrument.index`, gpufin.hedge.paths.settled_index).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gpufin.engines.pricing import state_payoff
from gpufin.errors import SpecError
from gpufin.instruments.payoffs import FutureOptionPlan, PayoffPlan, ResidualPutPlan

STATE_PLANS = (FutureOptionPlan, ResidualPutPlan)


@dataclass(frozen=True)
class Priced:
    """A position laid on the hedge's grid: per period the grid columns of its future prints
    and its payment's discount factor (a state-settled plan: the column of its maturity)."""
    plan: object
    index: str                   # the index it settles on
    columns: tuple               # per period: int array of grid columns
    pay_df: np.ndarray
    conditional: bool            # valued in closed form at the horizon (linear, paying after it)


def lay_out(plan, index: str, market, grid: np.ndarray, horizon: float, key: str) -> Priced:
    """`plan` on index `index` laid on the hedge's `grid` (years, holding its prints); `key`
    names the plan's spec table in an error."""
    if isinstance(plan, STATE_PLANS):
        return Priced(plan, index, (np.searchsorted(grid, plan.event_times()),), np.ones(1), False)
    if not isinstance(plan, PayoffPlan) or plan.barrier is not None:
        raise SpecError(f"{key}.kind", "expected a future, forward, swap, cap, floor, European, Asian "
                                       "or future option, or a residual-value put (no barrier)")
    columns = tuple(np.searchsorted(grid, np.asarray(p.print_times, dtype=float)) for p in plan.periods)
    pay_df = market.discount(np.array([p.pay_time for p in plan.periods], dtype=float))
    linear = all(p.linear for p in plan.periods)
    return Priced(plan, index, columns, pay_df, linear and plan.maturity > horizon)


def path_values(priced: Priced, paths: dict, horizons: dict) -> np.ndarray:
    """The position's value per path (USD of today) on a chunk of paths: `paths` each index's
    gpufin.models.multi_index.IndexPaths on the hedge's grid, `horizons` each index's
    gpufin.engines.montecarlo.Horizon."""
    plan = priced.plan
    if isinstance(plan, STATE_PLANS):
        at = horizons[priced.index]
        state = replace(at, time=plan.maturity, at=int(priced.columns[0][0]))
        return plan.notional * state_payoff(at.model, at.market, plan)(state)
    horizon = horizons[priced.index] if priced.conditional else None
    levels = paths[priced.index].level
    total = np.zeros(levels.shape[0])
    for p, cols, df in zip(plan.periods, priced.columns, priced.pay_df.tolist()):
        total += df * _payoff(p, _prints(p, levels, cols, horizon, priced.conditional), plan.geometric)
    return plan.notional * total


def _prints(p, levels, cols, horizon, conditional: bool) -> np.ndarray:
    """The period's future prints per path [paths, prints]: as simulated, or with
    `conditional` those after the horizon replaced by their conditional means."""
    if not cols.size:
        prints = np.zeros((levels.shape[0], 0))
    elif conditional:
        times = np.asarray(p.print_times, dtype=float)
        later = times > horizon.time
        prints = np.empty((levels.shape[0], cols.size))
        prints[:, ~later] = levels[:, cols[~later]]
        if later.any():
            prints[:, later] = horizon.mean(times[later])
    else:
        prints = levels[:, cols]
    return prints


def _payoff(p, prints: np.ndarray, geometric: bool) -> np.ndarray:
    """f_p(A_p) per path from the period's future prints [paths, prints]."""
    if geometric:
        average = np.exp((p.known_log_sum + np.log(prints).sum(axis=1)) / p.total_prints)
    else:
        average = (p.known_sum + prints.sum(axis=1)) / p.total_prints
    move = p.omega * (average - p.strike)
    return move if p.linear else np.maximum(move, 0.0)
