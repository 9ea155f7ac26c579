"""Random numbers keyed by time (gpufin.models.keyed, pricing_kernels.fleet): a date's draw
never depends on the other dates of the grid, the law at a date inside a month is exact, and a
loan's covenant test date that never binds changes no figure by a bit."""
import math

import numpy as np
import pytest

import gpufin
from gpufin.engines.collateral import fleet_chunks
from gpufin.models.fleet import fleet_setup
from gpufin.models.keyed import LEVELS, MONTH, bridge, keyed_plan
from gpufin.spec.reader import load_spec

DEAL = "data/deals/non_ig_ddtl.toml"
PATHS = 20_000
ODD = np.array([0.013, 0.2501, 0.7, 1.3337, 1.39, 2.99])       # years, none a month's end
Z = 4.0                                                          # tolerance in standard errors


def brownian(sigma: float):
    """The step law of sigma W: no decay, no drift."""
    return lambda dt: (np.ones(1), np.zeros(1), np.array([[sigma ** 2 * dt]]))


def test_bridge_of_a_brownian_motion_is_the_textbook_one():
    a, b, c, f = bridge(brownian(0.3), 0.25, 0.75)
    assert a[0, 0] == pytest.approx(0.75) and b[0, 0] == pytest.approx(0.25) and c[0] == 0.0
    assert f[0, 0] ** 2 == pytest.approx(0.09 * 0.25 * 0.75 / 1.0)


def test_bridge_of_an_ou_process_matches_gaussian_conditioning():
    kappa, sigma, before, after = 2.0, 0.5, 0.1, 0.3

    def law(dt):
        e = math.exp(-kappa * dt)
        return np.array([e]), np.array([0.0]), np.array([[sigma ** 2 * (1 - e * e) / (2 * kappa)]])
    a, b, c, f = bridge(law, before, after)
    v1 = law(before)[2][0, 0]
    e2, v = math.exp(-kappa * after), law(before + after)[2][0, 0]
    gain = v1 * e2 / v
    assert b[0, 0] == pytest.approx(gain)
    assert a[0, 0] == pytest.approx((1 - gain * e2) * math.exp(-kappa * before))
    assert f[0, 0] ** 2 == pytest.approx(v1 - gain * e2 * v1)


def test_plan_places_dates_in_months_and_cells():
    plan = keyed_plan(np.array([0.0, MONTH, 1.5 * MONTH, 2 * MONTH + 1e-11, 0.25 - MONTH / 64]),
                      brownian(1.0))
    assert plan.month.tolist() == [-1, 0, 1, 1, 2]
    assert plan.canonical.tolist() == [False, True, False, True, False]
    assert plan.cell[2] == 2 ** (LEVELS - 1) and plan.cell[4] == 2 ** LEVELS - 1
    assert plan.months == 3


@pytest.fixture(scope="module")
def fleet():
    setup = fleet_setup(load_spec(DEAL, instrument_required=False))
    base = setup.model.monthly_times(3.0)
    full = np.union1d(base, ODD)
    (_, coarse), = fleet_chunks(setup.model, setup.market, base, PATHS, 3, PATHS)
    (_, fine), = fleet_chunks(setup.model, setup.market, full, PATHS, 3, PATHS)
    return setup.model, base, full, coarse, fine


def test_added_dates_change_no_other_date_by_a_bit(fleet):
    _, base, full, coarse, fine = fleet
    common = np.searchsorted(full, base)
    for series in (0, 1, 3):          # index, utilization, collateral value (cash periods split)
        assert np.array_equal(coarse[series], fine[series][:, common])


def test_index_at_dates_inside_months_has_its_closed_form_mean(fleet):
    model, _, full, _, fine = fleet
    level = fine[0][:, np.searchsorted(full, ODD)]
    error = (level.mean(axis=0) - model.index.mean(ODD)) / (level.std(axis=0) / math.sqrt(PATHS))
    assert np.all(np.abs(error) < Z), error


def test_utilization_factor_inside_months_has_its_exact_joint_law(fleet):
    """Y = logit(U) is Gaussian OU: its mean and variance at a date inside a month, and its
    increment to the next month's end, independent of Y at the date with the OU variance."""
    model, _, full, _, fine = fleet
    y = np.log(fine[1] / (1.0 - fine[1]))
    ku, theta, su = model.util_kappa, model.util_theta, model.util_vol
    for t in ODD[ODD < 2.9]:
        i = int(np.searchsorted(full, t))
        j = int(np.searchsorted(full, (math.floor(t * 12) + 1) * MONTH - 1e-9))
        mean = theta + (model.util_y0 - theta) * math.exp(-ku * t)
        var = su ** 2 * (1 - math.exp(-2 * ku * t)) / (2 * ku)
        assert abs(y[:, i].mean() - mean) < Z * math.sqrt(var / PATHS)
        assert abs(y[:, i].var() / var - 1.0) < Z * math.sqrt(2.0 / PATHS)
        gap = full[j] - t
        step = y[:, j] - theta - (y[:, i] - theta) * math.exp(-ku * gap)
        step_var = su ** 2 * (1 - math.exp(-2 * ku * gap)) / (2 * ku)
        assert abs(np.corrcoef(step, y[:, i])[0, 1]) < Z / math.sqrt(PATHS)
        assert abs(step.var() / step_var - 1.0) < Z * math.sqrt(2.0 / PATHS)


def _figures(tests, trigger, paths=4000):
    return gpufin.price(DEAL, [f"mc.paths={paths}", f"instrument.ltv_trigger={trigger}",
                               f"instrument.ltv_test={tests}",
                               'instrument.default_on="payment-or-covenant"'])


def _floats(result) -> dict:
    return {k: v for k, v in result.items() if isinstance(v, float)}


def test_a_never_binding_test_date_changes_no_figure_by_a_bit():
    before = _floats(_figures("[1.5, 2.5]", 5.0))
    after = _floats(_figures("[1.5, 1.91, 2.5]", 5.0))
    assert before.keys() == after.keys()
    assert all(before[k] == after[k] or (math.isnan(before[k]) and math.isnan(after[k])) for k in before)


def test_a_binding_test_date_moves_only_what_it_binds():
    """With default_on = "payment" an added LTV test is a technical breach: the breach
    figures move, the price and payment PD do not move by a bit."""
    common = ["mc.paths=4000", "instrument.ltv_trigger=0.9"]
    before = gpufin.price(DEAL, common + ["instrument.ltv_test=[1.5, 2.5]"])
    after = gpufin.price(DEAL, common + ["instrument.ltv_test=[1.5, 1.91, 2.5]"])
    assert after["breach_probability"] > before["breach_probability"]
    for key in ("value", "price_pct", "pd", "expected_loss", "wal"):
        assert before[key] == after[key], key
