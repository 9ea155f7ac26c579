"""gpufin.engines.tail: the tail estimators shared by the loan book and hedging.

References: the definitions on a small sample worked by hand; numpy's quantile (the q99 column
and `portfolio var` use it); the exact VaR and ES of an exponential and a normal loss (closed
forms), within 4 standard errors at several levels; the standard errors against the spread
of the estimates over independent samples."""
import math

import numpy as np
import pytest
from scipy import stats

from gpufin.engines import tail

TOLERANCE = 4.0          # standard errors


def test_estimators_follow_their_definitions():
    total = np.array([5.0, 1.0, 5.0, 3.0, 0.0, 2.0, 5.0, 4.0, 0.0, 1.0])
    assert tail.tail_size(10, 0.75) == 3             # ceil(2.5)
    assert tail.tail_size(50_000, 0.99) == 500       # no rounding up of 1 - 0.99
    assert tail.tail_size(3_000, 0.99) == 30
    assert list(tail.tail_paths(total, 0.75)) == [0, 2, 6]
    m = tail.tail_measures(total, 0.65)              # worst 4: 5, 5, 5, 4
    assert m["es"] == 4.75
    assert m["var"] == np.quantile(total, 0.65)


@pytest.mark.parametrize("level", [0.95, 0.99, 0.999])
def test_var_is_the_numpy_quantile(level):
    losses = np.random.default_rng(1).standard_t(3, 5000)
    assert tail.tail_measures(losses, level)["var"] == float(np.quantile(losses, level))


@pytest.mark.parametrize("law, level, seed", [
    ("exponential", 0.95, 1), ("exponential", 0.99, 2), ("normal", 0.99, 3), ("normal", 0.975, 4)])
def test_against_closed_forms(law, level, seed):
    """Exponential(1): VaR = -ln(1 - a), ES = VaR + 1. Normal: VaR = z_a, ES = phi(z_a) / (1 - a)."""
    rng = np.random.default_rng(seed)
    if law == "exponential":
        losses = rng.exponential(1.0, 40_000)
        var = -math.log(1.0 - level)
        es = var + 1.0
    else:
        losses = rng.standard_normal(40_000)
        var = stats.norm.ppf(level)
        es = stats.norm.pdf(var) / (1.0 - level)
    m = tail.tail_measures(losses, level)
    assert abs(m["var"] - var) <= TOLERANCE * m["var_stderr"]
    assert abs(m["es"] - es) <= TOLERANCE * m["es_stderr"]


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_standard_errors_match_the_spread_over_samples(level):
    """The reported errors against the standard deviation over 60 independent samples (a
    ratio within 0.6-1.6: the sampling range of 60 runs, with room for the errors' noise)."""
    runs = [tail.tail_measures(np.random.default_rng(100 + s).exponential(1.0, 5000), level) for s in range(60)]
    for key in ("var", "es"):
        spread = np.std([r[key] for r in runs], ddof=1)
        reported = np.mean([r[f"{key}_stderr"] for r in runs])
        assert 0.6 < reported / spread < 1.6, (key, reported, spread)
