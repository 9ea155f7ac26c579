"""The fleet kernel's income and going-concern values per GPU against a direct NumPy
evaluation of their definition (gpufin.models.fleet): the expected merchant margin month by
month, with E[logistic(m + sd Z)] summed over all ten Gauss-Hermite nodes one by one (no
pairing), on a few thousand states (chi, xi, Y) and customer default times for every date of
each shipped fleet and deal and of the benchmark loan: summed exactly (every month), and
with the months from their Chebyshev tables (pricing_kernels.income)."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from gpufin.engines.loan import prepare
from gpufin.models import fleet as fleet_module
from gpufin.models.fleet import EXACT_BOX, fleet_setup
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import LANES, going_values
from pricing_kernels.income import fleet_income, income_scratch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from cases import DDTL_LOAN  # noqa: E402

STATES = 2_048
NODES_X, NODES_W = np.polynomial.hermite.hermgauss(10)
RTOL = 1e-12        # the exact sum against the definition: the same quadrature, summed another way
TABLE_RTOL = 1e-8   # with the tables (1.8e-9 at worst measured): against the income value (or the floor, if larger)


@njit(error_model="numpy")
def kernel_values(fa, i, chi, xi, y, tau):
    """Income and going-concern values per GPU (USD) of the states at date i, LANES at a time
    (without `continuation` the going-concern value is the income value)."""
    n = chi.size
    income, going = np.empty(n), np.empty(n)
    lane_income, lane_going = np.empty(LANES), np.empty(LANES)
    partial = np.empty((fa.displaced.shape[0], LANES))
    work = income_scratch(LANES, fa.displaced.shape[0])
    for a in range(0, n, LANES):
        b = a + LANES
        fleet_income(LANES, i, chi[a:b], xi[a:b], y[a:b], fa, work, lane_income, partial)
        for lane in range(LANES):
            lane_income[lane] = max(lane_income[lane] - fa.opex_pv[i], fa.floor)
        lane_going[:] = lane_income
        if fa.continuation:
            going_values(i, fa.times[i], fa.end, fa.customer, fa.share, fa.contract_pv,
                         tau[:, a:b], lane_income, partial, lane_going)
        income[a:b] = lane_income
        going[a:b] = lane_going
    return income, going


def exact(fa):
    """fa summing every month exactly (no tables)."""
    return fa._replace(split=np.full_like(fa.split, fa.w.shape[1]), box=EXACT_BOX)


def reference_values(model, fa, i, chi, xi, y, tau):
    """The same values from the definition, in NumPy: sum over months j of
    w e^{log_a + c chi + xi} E[logistic(theta + (Y - theta) d + cov + sd Z)] - opex PV, floored,
    plus each running contract's PV less the merchant revenue it displaces."""
    t = fa.times[i]
    s = model.valuation_times()[1:]
    ahead = np.clip(s - t, 0.0, None)
    ku, su = model.util_kappa, model.util_vol
    sd = su * np.sqrt((1.0 - np.exp(-2.0 * ku * ahead)) / (2.0 * ku))
    m = fa.d[i] * y[:, None] - fa.util_base[i]                    # the conditional mean of Y
    z = m[:, :, None] + sd[None, :, None] * math.sqrt(2.0) * NODES_X
    util = (NODES_W / math.sqrt(math.pi) / (1.0 + np.exp(-z))).sum(axis=2)
    level = fa.w[i] * np.exp(fa.log_a[i] + fa.c[i] * chi[:, None] + xi[:, None])
    months = np.arange(s.size) >= fa.j0[i]
    merchant = np.where(months, level * util, 0.0)
    income = np.maximum(merchant.sum(axis=1) - fa.opex_pv[i], fa.floor)
    going = income.copy()
    for ci in range(fa.displaced.shape[0]):      # none without `continuation`
        paying = (i <= fa.end[ci]) & (tau[fa.customer[ci]] > t)
        displaced = (merchant * fa.displaced[ci, i]).sum(axis=1)
        going += np.where(paying, fa.contract_pv[ci, i] - fa.share[ci] * displaced, 0.0)
    return income, going


def shipped_cases():
    """(name, FleetModel, FleetArgs) of every shipped fleet and deal and the benchmark loan."""
    example = load_spec(ROOT / "data" / "examples" / "fleet.toml", instrument_required=False)
    fleet = fleet_setup(example)
    cases = [("examples/fleet", fleet.model, fleet.model.kernel_args(fleet.times, fleet.market)[1])]
    deals = [(f"deals/{p.stem}", load_spec(p))
             for p in sorted((ROOT / "data" / "deals").glob("*.toml"))]
    for name, s in deals + [("bench DDTL_LOAN", load_spec(DDTL_LOAN))]:
        run = prepare(s)
        model = run.collateral.model
        args = model.kernel_args(run.grid, run.collateral.market, run.observe)
        cases.append((name, model, args[1]))
    return cases


def random_states(model, fa, seed):
    """States around the fleet's start, wide enough to reach the salvage floor, and customer
    default times over the fleet's dates."""
    rng = np.random.default_rng(seed)
    chi = model.index.chi0 + 0.8 * rng.standard_normal(STATES)
    xi = math.log(model.index.spot) - model.index.chi0 + 0.6 * rng.standard_normal(STATES)
    y = model.util_theta + 2.5 * rng.standard_normal(STATES)
    tau = rng.uniform(0.0, 1.5 * fa.times[-1], (max(fa.hazard.size, 1), STATES))
    return chi, xi, y, tau


def max_relative_errors(model, fa, seed=3):
    """The largest relative difference, over all dates and states, of the income and the
    going-concern values."""
    chi, xi, y, tau = random_states(model, fa, seed)
    worst = [0.0, 0.0]
    for i in range(fa.times.size):
        got = kernel_values(fa, i, chi, xi, y, tau)
        want = reference_values(model, fa, i, chi, xi, y, tau)
        for k in range(2):
            scale = np.maximum(np.abs(want[k]), fa.floor)
            worst[k] = max(worst[k], float(np.max(np.abs(got[k] - want[k]) / scale)))
    return worst


CASES = shipped_cases()


@pytest.mark.parametrize("name,model,fa", CASES, ids=[c[0] for c in CASES])
def test_income_and_going_values_match_the_definition(name, model, fa):
    income_error, going_error = max_relative_errors(model, exact(fa))
    assert income_error <= RTOL, f"{name}: income value off by {income_error:.2e} relative"
    assert going_error <= RTOL, f"{name}: going-concern value off by {going_error:.2e} relative"


@pytest.mark.parametrize("name,model,fa", CASES, ids=[c[0] for c in CASES])
def test_the_tables_reproduce_the_definition(name, model, fa):
    """With every month tabulated (each shipped fleet's box allows it): within TABLE_RTOL of
    the definition, on states of which some lie outside the table's box (summed exactly there)."""
    assert (fa.split == fa.j0).all() and fa.box[0] < fa.box[1], f"{name}: not every month tabulated"
    chi, _, y, _ = random_states(model, fa, 3)
    outside = (chi < fa.box[0]) | (chi > fa.box[1]) | (y < fa.box[2]) | (y > fa.box[3])
    assert 0 < outside.sum() < chi.size
    income_error, going_error = max_relative_errors(model, fa)
    assert income_error <= TABLE_RTOL, f"{name}: income value off by {income_error:.2e} relative"
    assert going_error <= TABLE_RTOL, f"{name}: going-concern value off by {going_error:.2e} relative"


def test_a_table_short_of_its_tolerance_is_not_used(monkeypatch):
    """Where no split reaches TABLE_RTOL, the fleet sums every month exactly."""
    name, model, fa = CASES[-1]
    monkeypatch.setattr(fleet_module, "TABLE_RTOL", 0.0)
    run = prepare(load_spec(DDTL_LOAN))
    fa0 = model.kernel_args(run.grid, run.collateral.market, run.observe)[1]
    assert (fa0.split == fa0.w.shape[1]).all() and fa0.box[0] > fa0.box[1]


def test_the_states_reach_the_floor_and_beyond():
    """The states of the test take the value to the salvage floor and well above it."""
    _, model, fa = CASES[-1]
    chi, xi, y, tau = random_states(model, fa, 3)
    income, _ = kernel_values(fa, 40, chi, xi, y, tau)
    assert np.any(income == fa.floor) and np.any(income > 2.0 * fa.floor)
