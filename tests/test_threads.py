"""pricing_kernels.threads: the ranges cover every item once, whatever the thread count, a
range kernel's output is the same bits on one and two threads and for any split, and
map_threads gives the items' results in order."""
import numba
import numpy as np
import pytest

from gpufin.market.curve import build_market
from gpufin.models.index import build_model
from gpufin.spec.reader import load_spec
from pricing_kernels.index_paths import two_factor_groups
from pricing_kernels.payoff import LANES
from pricing_kernels.threads import map_threads, run_ranges

MODEL = {"kind": "schwartz-smith", "spot": 2.4, "rate": 0.04, "mean_reversion": 1.5, "short_vol": 0.4,
         "long_vol": 0.2, "correlation": -0.3, "launch_intensity": 1.0, "launch_jump_mean": -0.16,
         "launch_jump_vol": 0.1}


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield lambda n: numba.set_num_threads(n)
    numba.set_num_threads(before)


@pytest.mark.parametrize("n_items", [0, 1, 2, 7, 100])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_ranges_cover_every_item_once(threads, n_items, n_threads):
    threads(n_threads)
    seen = np.zeros(n_items, dtype=int)

    def kernel(lo, hi, out):
        out[lo:hi] += 1

    run_ranges(kernel, n_items, seen)
    assert (seen == 1).all()


@pytest.mark.parametrize("n_items", [0, 1, 5])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_map_threads_keeps_the_items_order(threads, n_items, n_threads):
    threads(n_threads)
    columns = list(np.random.default_rng(n_items).standard_normal((n_items, 1000)))
    quantiles = map_threads(lambda col: np.quantile(col, [0.05, 0.5, 0.95]), columns)
    assert len(quantiles) == n_items
    for col, got in zip(columns, quantiles):
        assert np.array_equal(got, np.quantile(col, [0.05, 0.5, 0.95]))


def test_a_kernel_error_reaches_the_caller(threads):
    threads(2)

    def kernel(lo, hi):
        if lo > 0:
            raise ValueError("range failed")

    with pytest.raises(ValueError, match="range failed"):
        run_ranges(kernel, 10)


def test_same_bits_for_any_split(threads):
    """Two-factor index paths with launches: one call on 1 and on 2 threads, and the same
    groups run as separate single-group calls, give the same array."""
    spec = load_spec({"model": MODEL, "instrument": {"kind": "future", "delivery_month": "2027-03"}})
    market = build_market(spec.market, spec.model.rate)
    args = build_model(spec.model, spec.timeline).kernel_args(np.linspace(0.0, 1.0, 13), market)
    n_paths, groups = 300, -(-300 // LANES)
    outs = []
    for n in (1, 2):
        threads(n)
        out = np.empty((n_paths, 13))
        run_ranges(two_factor_groups, groups, out, np.uint64(7), 0, n_paths, args)
        outs.append(out)
    single = np.empty((n_paths, 13))
    for g in range(groups):
        two_factor_groups(g, g + 1, single, np.uint64(7), 0, n_paths, args)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], single)
