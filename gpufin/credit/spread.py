"""The fair spread of a floating-rate loan: the spread over SOFR that prices it at par, solved
on common random numbers (one set of collateral paths for every trial spread).
"""
from __future__ import annotations

from scipy.optimize import brentq

from gpufin.engines.loan import PathCache, prepare, price_loan
from gpufin.errors import SpecError
from gpufin.spec.reader import load_spec
from gpufin.spec.schema import Spec

SPREAD_SCAN = (-0.02, 0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 0.99)


def _bracket(gap) -> tuple[float, float]:
    """The lowest scanned interval where the price crosses par from below. Price is not
    monotone in the spread: past some level the extra debt service causes defaults."""
    previous = None
    for spread in SPREAD_SCAN:
        above = gap(spread) >= 0.0
        if above and previous is not None:
            return previous, spread
        if above:
            raise SpecError("instrument.spread", f"the loan prices above par even at a spread of {spread:.2%}")
        previous = spread
    raise SpecError("instrument.spread", "no spread up to 99% prices the loan at par")


def solve_spread(spec, overrides=(), tol: float = 1e-7, cache: PathCache | None = None) -> dict:
    """The spread over SOFR at which price_pct = 100, on common random numbers; its standard
    error from the price's, through the slope of price in spread. `cache`: the collateral
    paths to solve on (by default the spec's own, simulated once)."""
    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides)
    if s.instrument.kind != "loan" or s.instrument.spread is None:
        raise SpecError("instrument.spread", "--solve spread needs a floating-rate loan (a spread key)")
    cache = cache or PathCache(prepare(s), s.mc.paths, s.mc.seed, s.mc.chunk_paths)

    def gap(spread):
        return price_loan(s, spread, cache)["price_pct"] - 100.0

    lo, hi = _bracket(gap)
    fair = brentq(gap, lo, hi, xtol=tol)
    result = price_loan(s, fair, cache)
    bump = 1e-4
    slope = (gap(fair + bump) - gap(fair - bump)) / (2 * bump)
    result.update(spread=fair, spread_stderr=result["price_pct_stderr"] / abs(slope),
                  solved="spread")
    return result
