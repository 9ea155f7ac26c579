"""Each index model has a plain kernel (no jumps, no continuously monitored barrier) and an
event kernel, and gpufin picks the plain one where it can because it compiles in less time.
On a trade with no event the two must form the same sums bit for bit, prices and pathwise
Greeks alike, so the choice never changes a result; and gpufin must pick the event kernel
whenever there is an event to simulate."""
import numpy as np
import pytest

from gpufin.engines.montecarlo import (GREEK_KERNELS, kernel_call, pathwise_args, simulate_sums,
                                       time_grid)
from gpufin.instruments.payoffs import build_plan
from gpufin.market.curve import build_market
from gpufin.models.index import build_model
from gpufin.spec.reader import load_spec
from pricing_kernels import lognormal, two_factor

GBM = {"kind": "gbm", "spot": 2.4, "vol": 0.45, "rate": 0.04, "dividend": 0.1}
SCHWARTZ = {"kind": "schwartz", "spot": 2.4, "vol": 0.5, "mean_reversion": 2.0, "long_run_level": 1.8,
            "rate": 0.04}
SCHWARTZ_SMITH = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 1.5,
                  "short_vol": 0.4, "long_vol": 0.2, "correlation": -0.3}
JUMPS = {"launch_intensity": 1.0, "launch_jump_mean": -0.16, "launch_jump_vol": 0.1}
ASIAN = {"kind": "asian", "option": "put", "strike": 2.3, "maturity": 0.5, "fixings": 26}
CAP = {"kind": "cap", "strike": 2.5, "maturity": 1.0}
KNOCK_OUT = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
             "barrier_type": "down-and-out"}
PLAIN = {lognormal.lognormal_stats: lognormal.lognormal_event_stats,
         two_factor.two_factor_stats: two_factor.two_factor_event_stats}
PATHS = 3000


def _setup(model: dict, instrument: dict):
    spec = load_spec({"model": model, "instrument": instrument, "mc": {"paths": PATHS, "seed": 11}})
    market = build_market(spec.market, spec.model.rate)
    index = build_model(spec.model, spec.timeline)
    plan = build_plan(spec.instrument, spec.model.spot, spec.timeline)
    return market, index, plan, time_grid(plan, index, None)


@pytest.mark.parametrize("model, instrument", [(GBM, ASIAN), (GBM, CAP), (SCHWARTZ, CAP),
                                               (SCHWARTZ, ASIAN), (SCHWARTZ_SMITH, ASIAN)])
@pytest.mark.parametrize("antithetic", [False, True])
def test_plain_and_event_kernels_agree_bit_for_bit(model, instrument, antithetic):
    market, index, plan, grid = _setup(model, instrument)
    kernel, args = kernel_call(index, grid, [plan], market)
    assert kernel in PLAIN
    plain = simulate_sums(kernel, args, PATHS, 5, antithetic)
    event = simulate_sums(PLAIN[kernel], args, PATHS, 5, antithetic)
    assert np.array_equal(plain, event)
    assert plain[0, 0] == PATHS // (2 if antithetic else 1) and plain[0, 2] > 0.0

    greek_kernel, greek_args = kernel_call(index, grid, [plan], market,
                                           pathwise_args([plan], index.spot))
    plain_greeks = simulate_sums(greek_kernel, greek_args, PATHS, 5, antithetic)
    event_greeks = simulate_sums(GREEK_KERNELS[PLAIN[kernel]], greek_args, PATHS, 5, antithetic)
    assert np.array_equal(plain_greeks, event_greeks)
    assert np.array_equal(plain_greeks[:, :plain.shape[1]], plain)


@pytest.mark.parametrize("model, instrument", [(dict(SCHWARTZ_SMITH, **JUMPS), ASIAN),
                                               (SCHWARTZ, KNOCK_OUT), (GBM, KNOCK_OUT)])
def test_events_get_the_event_kernel(model, instrument):
    market, index, plan, grid = _setup(model, instrument)
    kernel, _ = kernel_call(index, grid, [plan], market)
    assert kernel in PLAIN.values()
