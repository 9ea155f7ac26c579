"""gpufin: Monte Carlo pricing of GPU-collateralized debt and compute derivatives.

The public API; each function is documented in docs/api.md. The packages below it, by
concern (docs/architecture.md): spec, market, models, instruments, engines, credit, risk,
portfolio, loanbook, hedge, output and workflows.

Each name is imported from its module on first use (PEP 562), so a command loads only what
it runs: a closed-form price needs neither Dask, matplotlib nor the loan book.
"""
from __future__ import annotations

import importlib

from gpufin.version import __version__

_HOMES = {
    "price": "gpufin.engines.pricing", "price_many": "gpufin.engines.pricing",
    "solve_spread": "gpufin.credit.spread", "loan_measures": "gpufin.credit.measures",
    "grid": "gpufin.risk.grid", "simulate": "gpufin.workflows.simulate",
    "calibrate": "gpufin.models.calibration_mle", "calibrate_history": "gpufin.models.calibration_bases",
    "value_book": "gpufin.portfolio.value", "stress_book": "gpufin.portfolio.scenarios",
    "var_book": "gpufin.portfolio.scenarios", "credit_book": "gpufin.loanbook.run",
    "hedge_exposure": ("gpufin.hedge.run", "hedge"), "warm_up": "gpufin.workflows.warmup",
    "SpecError": "gpufin.errors", "NoClosedForm": "gpufin.errors",
}

__all__ = [*_HOMES, "__version__"]


def __getattr__(name: str):
    """The public name `name`, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gpufin' has no attribute {name!r}")
    module, attribute = home if isinstance(home, tuple) else (home, name)
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
