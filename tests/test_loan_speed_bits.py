"""What a loan's price skips computing changes none of its bits: the fleet kernel writing the
collateral's series alone (first_series = CASH) gives the same cash, value and going-concern
paths as writing every series, and the waterfall without the lender's cash by date gives the
same outputs as with it; the lender's cash covariance is the same in any chunking; the
summary's compiled exact sum is math.fsum's double."""
import math

import numpy as np
import pytest

from gpufin.engines.collateral import fleet_chunks
from gpufin.engines.loan import PathCache, prepare, value_loan
from gpufin.engines.montecarlo import seed_key
from gpufin.spec.reader import load_spec
from pricing_kernels.fleet import CASH, INDEX
from pricing_kernels.loan import exact_sum, loan_paths

DEALS = "data/deals"
PATHS = 300
SEED = 4


@pytest.fixture(scope="module", params=["non_ig_ddtl", "merchant_fleet"])
def run(request):
    """A shipped deal's loan run at a modest path count."""
    return prepare(load_spec(f"{DEALS}/{request.param}.toml", [f"mc.paths={PATHS}", f"mc.seed={SEED}"]))


def test_collateral_series_are_those_of_the_full_kernel(run):
    model, market = run.collateral.model, run.collateral.market
    (_, full), = fleet_chunks(model, market, run.grid, PATHS, SEED, None, run.observe, 0, INDEX)
    (_, collateral), = fleet_chunks(model, market, run.grid, PATHS, SEED, None, run.observe, 0, CASH)
    assert collateral.shape[0] == full.shape[0] - CASH >= 2
    assert np.array_equal(full[CASH:], collateral)


def test_cash_by_date_changes_no_other_output(run):
    (first, cash, value, going), = PathCache(run, PATHS, SEED, None)
    key = seed_key(SEED)
    plain = loan_paths(key, first, cash, value, going, run.args._replace(cash_by_date=False))
    with_cash = loan_paths(key, first, cash, value, going, run.args._replace(cash_by_date=True))
    assert plain[4].shape == (PATHS, 0) and with_cash[4].shape == (PATHS, run.grid.size)
    for a, b in zip(plain[:4], with_cash[:4]):
        assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("chunk", [64, 700, 1499])
def test_lender_cash_is_the_same_in_any_chunking(run, chunk):
    """Paths 1000 .. 2499: blocks of CASH_BLOCK paths cut inside chunks, a partial first and
    last block."""
    _, whole = value_loan(run.spec, PathCache(run, 1500, SEED, None, first_path=1000))
    _, chunked = value_loan(run.spec, PathCache(run, 1500, SEED, chunk, first_path=1000))
    assert whole.paths == chunked.paths == 1500
    assert np.array_equal(whole.mean, chunked.mean) and np.array_equal(whole.cov, chunked.cov)


@pytest.mark.parametrize("case", range(6))
def test_exact_sum_is_math_fsum(case):
    """Cancelling amounts, heavy tails, exponents across the double range (many partials),
    the half-even fix-up across partials, signed zeros."""
    rng = np.random.default_rng(case)
    n = 5000
    x = [rng.normal(size=n) * 1e8,
         np.concatenate([rng.normal(size=n) * 1e8, -rng.normal(size=n) * 1e8, [1e-9] * 7]),
         rng.lognormal(0.0, 5.0, size=n) * rng.choice([-1.0, 1.0], size=n),
         rng.normal(size=n) * np.exp(rng.uniform(-700.0, 700.0, size=n)),
         np.array([1e-16, 1.0, 1e16] * 3 + [-0.0]),
         np.array([-0.0, -0.0])][case]
    assert exact_sum(x).hex() == math.fsum(x).hex()
