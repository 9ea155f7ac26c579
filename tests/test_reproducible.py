"""Bitwise reproducibility across threads and chunk sizes, seeds, N^-1/2 convergence, pickling."""
import pickle

import numba
import pytest
from conftest import spec

import gpufin

SS = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 2.0, "short_vol": 0.5,
      "long_vol": 0.2, "correlation": 0.3, "long_drift": -0.29, "launch_intensity": 1.0,
      "launch_jump_mean": -0.16, "launch_jump_vol": 0.1, "spike_intensity": 0.5,
      "spike_jump_mean": 0.18, "spike_jump_vol": 0.1}
TRADES = [
    ({"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04},
     {"kind": "asian", "option": "call", "strike": 2.4, "maturity": 1.0, "fixings": 52}),
    ({"kind": "jump-diffusion", "spot": 2.4, "vol": 0.3, "rate": 0.04, "jump_intensity": 1.0,
      "jump_mean": -0.16, "jump_vol": 0.1},
     {"kind": "barrier", "option": "put", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
      "barrier_type": "down-and-in"}),
    (SS, {"kind": "cap", "strike": 2.4, "maturity": 1.0}),
]


@pytest.mark.parametrize("model,ins", TRADES)
def test_identical_for_threads_and_chunks(model, ins):
    s = spec(model, ins, paths=50_000, method="mc")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = gpufin.price(s)
        numba.set_num_threads(2)
        two = gpufin.price(s)
    finally:
        numba.set_num_threads(before)
    chunked = gpufin.price(spec(model, ins, paths=50_000, method="mc", chunk_paths=3 * 1024))
    tiny = gpufin.price(spec(model, ins, paths=50_000, method="mc", chunk_paths=1))
    assert one == two == chunked == tiny


def test_seed_zero_is_a_seed_and_seeds_differ():
    model, ins = TRADES[0]
    zero = gpufin.price(spec(model, ins, seed=0))
    again = gpufin.price(spec(model, ins, seed=0))
    one = gpufin.price(spec(model, ins, seed=1))
    big = gpufin.price(spec(model, ins, seed=-(2 ** 70) + 5))
    assert zero["seed"] == 0 and zero == again
    assert zero["value"] != one["value"] and big["value"] not in (zero["value"], one["value"])


@pytest.mark.parametrize("model,ins", TRADES)
def test_stderr_falls_like_one_over_root_n(model, ins):
    small = gpufin.price(spec(model, ins, paths=20_000, method="mc"))
    large = gpufin.price(spec(model, ins, paths=320_000, method="mc"))
    assert large["stderr"] * 4 == pytest.approx(small["stderr"], rel=0.15)
    assert abs(large["value"] - small["value"]) < 4 * (small["stderr"] ** 2 + large["stderr"] ** 2) ** 0.5


def test_antithetic_pairs_count_as_paths():
    model, ins = TRADES[0]
    anti = gpufin.price(spec(model, ins, paths=40_000, control_variate=False))
    plain = gpufin.price(spec(model, ins, paths=40_000, control_variate=False, antithetic=False))
    assert anti["paths"] == plain["paths"] == 40_000
    assert anti["stderr"] < plain["stderr"]


def test_model_market_plan_and_results_pickle():
    from gpufin.instruments.payoffs import build_plan
    from gpufin.market.curve import build_market
    from gpufin.models.index import build_model
    from gpufin.spec.reader import load_spec
    s = load_spec(spec(*TRADES[2]))
    market = build_market(s.market, s.model.rate)
    market.discount(1.0)   # builds the QuantLib curve, which must not travel
    objects = (s, market, build_model(s.model, s.timeline), build_plan(s.instrument, 2.4, s.timeline))
    restored = pickle.loads(pickle.dumps(objects))
    assert restored[0] == s and restored[2] == objects[2] and restored[3] == objects[3]
    assert restored[1].discount(1.0) == pytest.approx(market.discount(1.0))
    assert gpufin.price(restored[0]) == gpufin.price(s)


def test_trades_sharing_paths_get_exactly_their_solo_prices():
    from gpufin.engines.pricing import price_many
    model = {"kind": "gbm", "spot": 2.4, "vol": 0.5, "rate": 0.04}
    base = {"kind": "asian", "maturity": 1.0, "fixings": 12}
    specs = [spec(model, dict(base, option="call", strike=k), method="mc") for k in (2.0, 2.4, 2.8)]
    specs.append(spec(model, dict(base, option="put", strike=2.4, averaging="geometric"), method="mc"))
    specs.append(spec(model, {"kind": "european", "option": "call", "strike": 2.4, "maturity": 1.0},
                      method="mc"))                       # another grid: simulated on its own
    specs.append(spec(model, dict(base, option="straddle", strike=2.4)))   # a bad trade
    specs.append(spec(dict(model, rate=0.10), dict(base, option="call", strike=2.4), method="mc"))
    knock = {"kind": "barrier", "option": "call", "strike": 2.4, "maturity": 1.0, "barrier": 2.0,
             "barrier_type": "down-and-out"}
    specs.append(spec(model, knock, method="mc"))
    daily = {"method": "mc", "steps_per_year": 252}     # a European on a barrier's daily grid
    specs.append(spec(model, dict(knock, rebate=0.1), **daily))
    specs.append(spec(model, {"kind": "european", "option": "call", "strike": 2.4, "maturity": 1.0},
                      **daily))
    shared = price_many(specs)
    solo = [gpufin.price(s) if n != 5 else None for n, s in enumerate(specs)]
    assert solo[:5] == shared[:5] and solo[6:] == shared[6:]    # Europeans that share a
    # barrier's kernel (Brownian-bridge checks) round as they do alone
    assert shared[6]["value"] != shared[1]["value"]          # its own rate, not its neighbour's
    assert isinstance(shared[5], Exception) and "instrument.option" in str(shared[5])


def test_strips_sharing_running_averages_get_exactly_their_solo_prices():
    """Floors, a cap and a swap on one monthly schedule share one set of running averages."""
    from gpufin.engines.pricing import price_many
    strip = {"maturity": 1.0, "period_months": 1}
    specs = [spec(SS, dict(strip, kind="floor", strike=k), method="mc", paths=4000) for k in (2.0, 2.4)]
    specs.append(spec(SS, dict(strip, kind="cap", strike=2.6), method="mc", paths=4000))
    specs.append(spec(SS, dict(strip, kind="swap", fixed_rate=2.3), method="mc", paths=4000))
    specs.append(spec(SS, dict(strip, kind="floor", strike=2.2, prints="end"), method="mc",
                      paths=4000))                       # month-end prints: its own grid
    assert price_many(specs) == [gpufin.price(s) for s in specs]
